import type { FieldKind, LikeToken } from '@mast/schema';

/**
 * What differs between SQL databases for the shared compiler and row codec. A backend supplies
 * one frozen object; compiled SQL never branches on which database it is.
 */
export interface SqlDialect {
  /** For messages and diagnostics only; never branched on. */
  readonly name: string;
  /** The placeholder for the `index`-th bound parameter (1-based): `?` or `$1`. */
  placeholder(index: number): string;
  /** Quotes an identifier that comes from the schema (never from a request). */
  quoteIdent(name: string): string;
  /** The LIMIT operand meaning "no limit", needed when only OFFSET is given (`-1`, `ALL`). */
  readonly unlimited: string;
  /**
   * True when the database already sorts NULL below every value (NULLS FIRST ascending, NULLS
   * LAST descending), as SQLite does; the compiler then writes no NULLS clause, which lets the
   * planner walk an index for the ORDER BY.
   */
  readonly nullsSortLow: boolean;
  /** The column type used for a field kind in DDL. */
  columnType(kind: FieldKind): string;
  /**
   * The expression filters and orders use for a column of `kind` (usually the column itself):
   * a backend whose json type has no ordering compares its JSON text instead.
   */
  comparable(column: string, kind: FieldKind): string;
  /**
   * A LIKE test of `column` against a parsed pattern; `bind` adds a parameter and returns its
   * placeholder. Case-sensitive unless `caseInsensitive`; a NULL column yields NULL (not true).
   */
  like(column: string, pattern: readonly LikeToken[], caseInsensitive: boolean, bind: (value: unknown) => string): string;
  /** How domain values of the non-obvious kinds become cells and back. */
  readonly cells: CellCodec;
}

/** Cell encoding of the kinds whose storage differs between databases. */
export interface CellCodec {
  encodeBool(value: boolean): unknown;
  decodeBool(cell: unknown): boolean;
  /** Receives the value's JSON text (`JSON.stringify`), already checked to be serialisable. */
  encodeJson(text: string): unknown;
  decodeJson(cell: unknown): unknown;
  /** Receives an ISO-8601 string. */
  encodeDatetime(iso: string): unknown;
  /** Returns an ISO-8601 string. */
  decodeDatetime(cell: unknown): string;
}

/** Collects bound parameter values and hands out the dialect's placeholders in order. */
export class SqlParams {
  readonly values: unknown[] = [];

  constructor(private readonly dialect: SqlDialect) {}

  /** Binds `value` and returns the placeholder to put in the SQL text. */
  add(value: unknown): string {
    this.values.push(value);
    return this.dialect.placeholder(this.values.length);
  }
}
