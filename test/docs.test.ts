import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '@mast/protocol';
import { OPTIONS } from '@mast/server';
import { errorsTable, optionsTable, withTable } from '../tools/gen-docs.js';

describe('docs match the code', () => {
  it('docs/errors.md lists exactly the catalogue, with its statuses', () => {
    const text = readFileSync('docs/errors.md', 'utf8');
    expect(text).toBe(withTable(text, errorsTable()));
    const documented = [...text.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(documented).toEqual(Object.entries(errorCatalogue).map(([code, e]) => [code, e.status]));
  });

  it('docs/configuration.md lists exactly the options', () => {
    const text = readFileSync('docs/configuration.md', 'utf8');
    expect(text).toBe(withTable(text, optionsTable()));
    const documented = [...text.matchAll(/^\| `(MAST_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual(OPTIONS.map((o) => o.env));
  });
});
