import type { FilterNode } from '@mast/schema';
import type { AuthContext } from '../access/auth-context.js';
import type { Row, Store } from '../store/index.js';
import { AppError, entityErrors, errors } from '../errors/index.js';
import { type FilterLimits, parseCount, parseFilter } from './filter-parser.js';
import type { SchemaRef } from '../access/schema-ref.js';
import { coerceValue, requireField } from './value-codec.js';

/**
 * `GET /api/entities/<E>` answer: Pylon's keys (`count` is the page's size, as in Pylon) plus
 * `has_more`, and `total` (every row the caller may read) when asked for with `?total=true`.
 */
export interface ListPage {
  count: number;
  data: Row[];
  limit: number;
  offset: number;
  has_more: boolean;
  total?: number;
}

/** `GET /api/entities/<E>/cursor` answer. */
export interface CursorPage {
  data: Row[];
  has_more: boolean;
  next_cursor: string | null;
}

/** Default and maximum page size of the cursor endpoint, as Pylon's. */
const CURSOR_DEFAULT_LIMIT = 20;

/**
 * Every read of application rows: by id, lists, keyset pages, filtered queries and lookups.
 * Reads run on the store's read view and never wait for the writer. The caller's read policy
 * is pushed into the store's query, so pages and limits count only rows the caller may see.
 */
export class EntityReader {
  readonly #store: Store;
  readonly #schema: SchemaRef;
  readonly #limits: FilterLimits;

  constructor(store: Store, schema: SchemaRef, limits: FilterLimits) {
    this.#store = store;
    this.#schema = schema;
    this.#limits = limits;
  }

  /** One row, or NOT_FOUND. */
  async get(auth: AuthContext, entityName: string, id: string): Promise<Row> {
    const entity = this.#schema.entity(entityName);
    const row = await this.#store.read((tx) => tx.get(entity.name, id));
    // A row the caller may not read is "not found": its existence does not leak.
    if (!row || !this.#schema.access.canRead(auth, entity.name, row)) throw errors.rowNotFound(entity.name, id);
    return row;
  }

  /** Rows in id (creation) order, `limit`/`offset` from the query string. */
  async list(auth: AuthContext, entityName: string, params: { limit?: string | undefined; offset?: string | undefined; total?: string | undefined }): Promise<ListPage> {
    const entity = this.#schema.entity(entityName);
    const limit = params.limit === undefined ? this.#limits.defaultLimit : parseCount('limit', params.limit, this.#limits.maxLimit);
    const offset = params.offset === undefined ? 0 : parseCount('offset', params.offset);
    if (params.total !== undefined && params.total !== 'true' && params.total !== 'false') {
      throw entityErrors.invalidTotal(params.total);
    }
    const where = this.#schema.access.scopeRead(auth, entity.name);
    // One read view for the page and the total, so they agree.
    const [rows, total] = await this.#store.read(async (tx) => [
      await tx.find(entity.name, { ...(where ? { where } : {}), limit: limit + 1, offset }),
      params.total === 'true' ? await tx.count(entity.name, where) : undefined,
    ]);
    const data = rows.slice(0, limit);
    return { count: data.length, data, limit, offset, has_more: rows.length > limit, ...(total === undefined ? {} : { total }) };
  }

  /** Keyset pagination on id: rows with id > `after`. */
  async cursor(auth: AuthContext, entityName: string, params: { after?: string | undefined; limit?: string | undefined }): Promise<CursorPage> {
    const entity = this.#schema.entity(entityName);
    const limit = params.limit === undefined ? CURSOR_DEFAULT_LIMIT : parseCount('limit', params.limit, this.#limits.maxLimit);
    const after = params.after === undefined || params.after === '' ? undefined : params.after;
    const afterNode: FilterNode | undefined = after === undefined ? undefined : { kind: 'compare', field: 'id', op: 'gt', value: after };
    const where = this.#schema.access.scopeRead(auth, entity.name, afterNode);
    const rows = await this.#store.read((tx) =>
      tx.find(entity.name, {
        ...(where ? { where } : {}),
        order: [{ field: 'id', direction: 'asc' }],
        limit: limit + 1,
      }),
    );
    const data = rows.slice(0, limit);
    return { data, has_more: rows.length > limit, next_cursor: data.length > 0 ? data[data.length - 1]!.id : null };
  }

  /** Rows matching a filter object; `hasMore` tells whether the limit cut the result. */
  async query(auth: AuthContext, entityName: string, filter: unknown): Promise<{ rows: Row[]; hasMore: boolean }> {
    const entity = this.#schema.entity(entityName);
    const query = parseFilter(entity, filter, this.#limits);
    const limit = query.limit ?? this.#limits.defaultLimit;
    const where = this.#schema.access.scopeRead(auth, entity.name, query.where);
    const rows = await this.#store.read((tx) => tx.find(entity.name, { ...query, ...(where ? { where } : {}), limit: limit + 1 }));
    return { rows: rows.slice(0, limit), hasMore: rows.length > limit };
  }

  /** The first row (by id) whose `field` equals `value`; the value is read as the field's type. */
  async lookup(auth: AuthContext, entityName: string, fieldName: string, value: string): Promise<Row> {
    const entity = this.#schema.entity(entityName);
    const typed =
      fieldName === 'id'
        ? value
        : lookupValue(entity.name, fieldName, value, () => {
            const field = requireField(entity, fieldName);
            return coerceValue(entity, field, textToValue(field.kind, value));
          });
    const match: FilterNode = { kind: 'compare', field: fieldName, op: 'eq', value: typed as string };
    const where = this.#schema.access.scopeRead(auth, entity.name, match) ?? match;
    const rows = await this.#store.read((tx) => tx.find(entity.name, { where, limit: 1 }));
    if (!rows[0]) throw entityErrors.lookupNotFound(entity.name, fieldName, value);
    return rows[0];
  }
}

function lookupValue(entity: string, field: string, text: string, fn: () => unknown): unknown {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AppError && err.code === 'INVALID_FIELD_TYPE') {
      throw entityErrors.invalidLookupValue(entity, field, text);
    }
    throw err;
  }
}

/** A path segment read as the field's type (`"5"` for an int field is 5, `"true"` is true). */
function textToValue(kind: string, text: string): unknown {
  switch (kind) {
    case 'int':
    case 'float':
      return text.trim() === '' ? text : Number(text);
    case 'bool':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    default:
      return text;
  }
}
