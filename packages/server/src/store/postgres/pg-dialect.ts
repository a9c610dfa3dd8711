import type { FieldKind } from '@mast/schema';
import { renderLike } from '@mast/schema';
import type { SqlDialect } from '../sql/sql-dialect.js';

/**
 * Text columns use the "C" collation: comparisons and ORDER BY follow code points (UTF-8 byte
 * order), as on SQLite and in memory, whatever the database's default locale is.
 */
const TEXT = 'TEXT COLLATE "C"';

const COLUMN_TYPES: Record<FieldKind, string> = {
  string: TEXT,
  richtext: TEXT,
  id: TEXT,
  datetime: TEXT,
  // `json`, not `jsonb`: the text is kept as written, so equality and ordering follow the JSON
  // text (key order included) exactly as the in-memory evaluator and SQLite do. `jsonb` would
  // reorder keys and make `{"b":1,"a":2}` equal `{"a":2,"b":1}`.
  json: 'JSON',
  int: 'BIGINT',
  bool: 'BOOLEAN',
  float: 'DOUBLE PRECISION',
};

/** The ICU root collation `$ilike` folds case with: full Unicode lower-casing, like `toLowerCase`. */
export const FOLD_COLLATION = 'und-x-icu';

/**
 * PostgreSQL: `$1` placeholders, native booleans, json as text-preserving `json`, datetimes as
 * ISO text. `$like` is LIKE on the "C" collation (case-sensitive); `$ilike` is native ILIKE
 * under the ICU root collation, which lower-cases both sides with full Unicode case mapping
 * (final sigma included), the same fold `foldCase` applies in memory.
 */
export const pgDialect: SqlDialect = Object.freeze({
  name: 'postgres',
  placeholder: (index: number) => `$${index}`,
  quoteIdent: (name: string) => `"${name.replaceAll('"', '""')}"`,
  unlimited: 'ALL',
  nullsSortLow: false,
  columnType: (kind: FieldKind) => COLUMN_TYPES[kind],
  comparable: (column: string, kind: FieldKind) => (kind === 'json' ? `(${column}::text COLLATE "C")` : column),
  like(column, pattern, caseInsensitive, bind) {
    const rendered = bind(renderLike(pattern));
    if (!caseInsensitive) return `${column} LIKE ${rendered}`;
    return `(${column} COLLATE "${FOLD_COLLATION}") ILIKE ${rendered}`;
  },
  cells: Object.freeze({
    encodeBool: (value: boolean) => value,
    decodeBool: (cell: unknown) => cell === true || cell === 't' || cell === 1,
    encodeJson: (text: string) => text,
    // The pool's type parser hands json cells over as text (see pg-pool.ts).
    decodeJson: (cell: unknown) => (typeof cell === 'string' ? (JSON.parse(cell) as unknown) : cell),
    encodeDatetime: (iso: string) => iso,
    decodeDatetime: (cell: unknown) => String(cell),
  }),
} satisfies SqlDialect);
