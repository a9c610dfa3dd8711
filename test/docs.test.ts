import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePolicies } from '@mast/policy';
import { errorCatalogue } from '@mast/protocol';
import { compileManifest, loadAppSchema, manifestCodes } from '@mast/schema';
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

  it('docs/schema.md lists every manifest code, and its examples load with their policies', async () => {
    const text = readFileSync('docs/schema.md', 'utf8');
    const documented = new Set([...text.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]));
    expect(Object.keys(manifestCodes).filter((code) => !documented.has(code))).toEqual([]);
    const ts = /```ts\n(.*?)```/s.exec(text)![1]!;
    const json = /```json\n(.*?)```/s.exec(text)![1]!;
    const dir = mkdtempSync(join(tmpdir(), 'mast-docs-'));
    try {
      writeFileSync(join(dir, 'schema.ts'), ts);
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      symlinkSync(join(process.cwd(), 'node_modules'), join(dir, 'node_modules'), 'dir');
      const { schema } = await loadAppSchema(dir);
      expect(schema.entities.map((e) => e.name)).toEqual(['User', 'Room', 'Message']);
      compilePolicies(schema);
      compilePolicies(compileManifest(JSON.parse(json)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
