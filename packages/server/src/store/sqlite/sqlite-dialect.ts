import type { FieldKind } from '@mast/schema';
import { foldCase, renderLike } from '@mast/schema';
import { renderGlob } from '../sql/like-pattern.js';
import type { SqlDialect } from '../sql/sql-dialect.js';

/** The SQL function (registered on every connection) that case-folds text for `$ilike`. */
export const FOLD_FUNCTION = 'mast_fold';

/** Case folding shared by the SQL function, the pattern and the in-memory evaluator. */
export { foldCase };

const COLUMN_TYPES: Record<FieldKind, string> = {
  string: 'TEXT',
  richtext: 'TEXT',
  id: 'TEXT',
  datetime: 'TEXT',
  json: 'TEXT',
  int: 'INTEGER',
  bool: 'INTEGER',
  float: 'REAL',
};

/**
 * SQLite: `?` placeholders, booleans as 1/0, json as text, datetimes as ISO text.
 *
 * `$like` compiles to GLOB, which is case-sensitive and (with a literal prefix) can use an index;
 * `$ilike` compiles to LIKE over both sides folded by `mast_fold` (JavaScript's `toLowerCase`),
 * because SQLite's own LIKE only folds ASCII letters and so would treat `É` and `é` as different.
 */
export const sqliteDialect: SqlDialect = Object.freeze({
  name: 'sqlite',
  placeholder: () => '?',
  quoteIdent: (name: string) => `"${name.replaceAll('"', '""')}"`,
  unlimited: '-1',
  nullsSortLow: true,
  columnType: (kind: FieldKind) => COLUMN_TYPES[kind],
  comparable: (column: string) => column,
  like(column, pattern, caseInsensitive, bind) {
    if (!caseInsensitive) return `${column} GLOB ${bind(renderGlob(pattern))}`;
    return `${FOLD_FUNCTION}(${column}) LIKE ${bind(foldCase(renderLike(pattern)))} ESCAPE '\\'`;
  },
  cells: Object.freeze({
    encodeBool: (value: boolean) => (value ? 1 : 0),
    decodeBool: (cell: unknown) => (typeof cell === 'number' ? cell !== 0 : cell === true || cell === 1n || cell === '1'),
    encodeJson: (text: string) => text,
    decodeJson: (cell: unknown) => (typeof cell === 'string' ? (JSON.parse(cell) as unknown) : cell),
    encodeDatetime: (iso: string) => iso,
    decodeDatetime: (cell: unknown) => String(cell),
  }),
} satisfies SqlDialect);
