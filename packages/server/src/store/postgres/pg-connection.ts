import pg from 'pg';
import { AppError, storeErrors } from '../../errors/index.js';

/** A raw result row: column name → cell. */
export type Cells = Record<string, unknown>;

const numbered = new Map<string, string>();
const NUMBERED_CACHE = 512;

/**
 * Mast's own SQL is written with `?` placeholders (none of it has a `?` inside a literal); this
 * numbers them `$1, $2, …` for PostgreSQL, memoised per text.
 */
export function numberPlaceholders(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    if (numbered.size >= NUMBERED_CACHE) numbered.clear();
    numbered.set(sql, out);
  }
  return out;
}

/** A PostgreSQL error as the driver reports it (`code` is the SQLSTATE). */
export type PgError = Error & { code?: string; constraint?: string; detail?: string; table?: string };

/** True for an error the server reported, with its SQLSTATE. */
export function isPgError(err: unknown, code?: string): err is PgError {
  return err instanceof pg.DatabaseError && (code === undefined || err.code === code);
}

/** SQLSTATEs after which the same work may succeed when tried again. */
const TRANSIENT = new Set(['40001', '40P01', '55P03', '57014', '53300', '57P01', '57P02', '57P03', '08000', '08003', '08006']);

/**
 * Maps what is worth a 503 to STORE_BUSY: a serialization failure or deadlock, a lock or
 * statement timeout, too many connections, the server going away, or no pooled connection
 * within the pool's deadline. Other errors pass through unchanged. Messages never carry the
 * connection string.
 */
export function translatePgError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (isPgError(err) && err.code !== undefined && TRANSIENT.has(err.code)) return storeErrors.busy(err);
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT') return storeErrors.unreachable(err);
    if (/timeout exceeded when trying to connect|Connection terminated/i.test(err.message)) return storeErrors.busy(err);
  }
  return err;
}

/** One pooled client with Mast's conventions: `?` placeholders, rows as plain objects, errors translated. */
export class PgConnection {
  constructor(readonly client: pg.PoolClient) {}

  /** All result rows of `sql`. */
  async all(sql: string, params: readonly unknown[] = []): Promise<Cells[]> {
    try {
      return (await this.client.query<Cells>(numberPlaceholders(sql), params as unknown[])).rows;
    } catch (err) {
      throw translatePgError(err);
    }
  }

  /** The first result row of `sql`, or undefined. */
  async get(sql: string, params: readonly unknown[] = []): Promise<Cells | undefined> {
    return (await this.all(sql, params))[0];
  }

  /** Runs a statement; returns how many rows it changed. */
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    try {
      return (await this.client.query(numberPlaceholders(sql), params as unknown[])).rowCount ?? 0;
    } catch (err) {
      throw translatePgError(err);
    }
  }

  /** Runs SQL text as given: `$n` placeholders, or none (DDL, transaction control). */
  async exec(sql: string, params?: readonly unknown[]): Promise<Cells[]> {
    try {
      return (await this.client.query<Cells>(sql, params as unknown[] | undefined)).rows;
    } catch (err) {
      throw translatePgError(err);
    }
  }
}
