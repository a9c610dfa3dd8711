import Database from 'better-sqlite3';
import { storeErrors } from '../../errors/index.js';
import { convertValue } from '../sql/convert-value.js';
import { decodeCell, encodeCell } from '../sql/row-codec.js';
import type { FieldKind } from '@mast/schema';
import { FOLD_FUNCTION, foldCase, sqliteDialect } from './sqlite-dialect.js';
import { applyPragmas } from './sqlite-pragmas.js';

/** The SQL function a `changeType` migration uses: `mast_convert(cell, fromKind, toKind)`. */
export const CONVERT_FUNCTION = 'mast_convert';

const STATEMENT_CACHE_SIZE = 256;

type Statement = Database.Statement<unknown[], unknown>;

/** A raw result row: column name → cell. */
export type Cells = Record<string, unknown>;

/** True for an error thrown by SQLite (better-sqlite3's SqliteError). */
export function isSqliteError(err: unknown): err is Error & { code: string } {
  return err instanceof Database.SqliteError;
}

/** Maps SQLITE_BUSY (any extended code) to STORE_BUSY; other errors pass through unchanged. */
export function translateBusy(err: unknown): unknown {
  if (isSqliteError(err) && err.code.startsWith('SQLITE_BUSY')) return storeErrors.busy(err);
  return err;
}

/**
 * One better-sqlite3 connection with Mast's pragmas and functions, and prepared statements
 * cached per SQL text (least recently used evicted, since `IN (?, ?, ...)` lists make the set
 * of texts open-ended).
 */
export class SqliteConnection {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();

  constructor(path: string, options: { readonly: boolean; busyTimeoutMs: number }) {
    this.db = new Database(path, { readonly: options.readonly, fileMustExist: options.readonly, timeout: options.busyTimeoutMs });
    applyPragmas(this.db, { busyTimeoutMs: options.busyTimeoutMs, role: options.readonly ? 'reader' : 'writer' });
    this.db.function(FOLD_FUNCTION, { deterministic: true }, (text: unknown) => (typeof text === 'string' ? foldCase(text) : text));
    this.db.function(CONVERT_FUNCTION, { deterministic: true }, (cell: unknown, from: unknown, to: unknown) => {
      const fromKind = from as FieldKind;
      const toKind = to as FieldKind;
      const value = convertValue(decodeCell(sqliteDialect.cells, fromKind, cell), fromKind, toKind);
      return encodeCell(sqliteDialect.cells, toKind, value, { entity: '', field: '' });
    });
  }

  private prepare(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement) {
      this.statements.delete(sql);
    } else {
      statement = this.db.prepare<unknown[], unknown>(sql);
      if (this.statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.statements.keys().next();
        if (!oldest.done) this.statements.delete(oldest.value);
      }
    }
    this.statements.set(sql, statement);
    return statement;
  }

  /** All result rows of `sql`. */
  all(sql: string, params: readonly unknown[] = []): Cells[] {
    try {
      return this.prepare(sql).all(...params) as Cells[];
    } catch (err) {
      throw translateBusy(err);
    }
  }

  /** The first result row of `sql`, or undefined. */
  get(sql: string, params: readonly unknown[] = []): Cells | undefined {
    try {
      return this.prepare(sql).get(...params) as Cells | undefined;
    } catch (err) {
      throw translateBusy(err);
    }
  }

  /** Runs a statement that returns no rows; returns how many rows it changed. */
  run(sql: string, params: readonly unknown[] = []): number {
    try {
      return this.prepare(sql).run(...params).changes;
    } catch (err) {
      throw translateBusy(err);
    }
  }

  /** Runs SQL text without parameters or caching (DDL, transaction control). */
  exec(sql: string): void {
    try {
      this.db.exec(sql);
    } catch (err) {
      throw translateBusy(err);
    }
  }

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}
