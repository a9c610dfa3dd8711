// Regenerates the tables in docs/errors.md and docs/configuration.md from the code's
// catalogue and options table. Tests fail when the docs and the code disagree.
import { readFileSync, writeFileSync } from 'node:fs';
// From the packages' sources, not their built dist/ (which may be older than the source).
import { errorCatalogue } from '../packages/protocol/src/index.js';
import { OPTIONS } from '../packages/server/src/config/index.js';

/** The markdown table of error codes. */
export function errorsTable(): string {
  const rows = Object.entries(errorCatalogue).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.origin} | ${e.message} |`);
  return ['| code | status | from | default message |', '|---|---|---|---|', ...rows].join('\n');
}

/** The markdown table of options. */
export function optionsTable(): string {
  const rows = OPTIONS.map((o) => `| \`${o.env}\` | \`${o.flag}\` | ${o.type} | ${o.default === null ? '—' : `\`${String(o.default)}\``} | ${o.description} |`);
  return ['| environment | flag | type | default | description |', '|---|---|---|---|---|', ...rows].join('\n');
}

const BEGIN = '<!-- generated:begin -->';
const END = '<!-- generated:end -->';

/** Replaces the generated block of a markdown file. */
export function withTable(text: string, table: string): string {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start === -1 || end === -1) throw new Error('generated block markers missing');
  return `${text.slice(0, start + BEGIN.length)}\n${table}\n${text.slice(end)}`;
}

if (process.argv[1]?.endsWith('gen-docs.ts')) {
  for (const [file, table] of [
    ['docs/errors.md', errorsTable()],
    ['docs/configuration.md', optionsTable()],
  ] as const) {
    writeFileSync(file, withTable(readFileSync(file, 'utf8'), table));
  }
}
