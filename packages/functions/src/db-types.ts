import type { EntityName, InferRow, SchemaDefinition } from '@mast/schema';

/** A row as functions see it: `id` plus the entity's fields, as JSON values. */
export type Row = { id: string } & Record<string, unknown>;

/** A filter object in the language of `POST /api/query/<E>` (`$gt`, `$in`, `$order`, `$limit`, ...). */
export type Filter = Record<string, unknown>;

/** Each entity's row type, by entity name: what types `ctx.db`. */
export type TableMap = { readonly [entity: string]: { id: string } };

/**
 * Where an app declares its schema so that `ctx.db` knows its entities and their fields. With a
 * TypeScript schema, one declaration in `schema.ts`:
 *
 * ```ts
 * const schema = defineSchema({ ... });
 * export default schema;
 * declare module '@mast/functions' {
 *   interface Register { schema: typeof schema }
 * }
 * ```
 *
 * Or, for a JSON manifest, `tables` with each entity's row type (`{ Todo: { id: string; title: string } }`).
 * Without either, `ctx.db` takes any entity name and returns rows of unknown values.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by the app's module augmentation
export interface Register {}

/** The row types of a schema made with `defineSchema`, by entity name. */
export type TablesOf<S extends SchemaDefinition> = { [N in EntityName<S>]: InferRow<S, N> };

/** The tables the app registered (see `Register`), or any entity with untyped rows. */
export type RegisteredTables = Register extends { schema: infer S extends SchemaDefinition }
  ? TablesOf<S>
  : Register extends { tables: infer T extends TableMap }
    ? T
    : { [entity: string]: Row };

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** What an insert takes: the row's fields (optional ones may be left out) and, optionally, its id. */
export type InsertOf<R> = Simplify<Omit<R, 'id'> & { id?: string }>;

/** What an update takes: some of the row's fields. */
export type PatchOf<R> = Simplify<Partial<Omit<R, 'id'>>>;

/** Reads of a query or mutation: the caller's read policies apply unless the function opts out. */
export interface DbReader<T extends TableMap = RegisteredTables> {
  /** The row, or null when it does not exist or the caller may not read it. */
  get<E extends keyof T & string>(entity: E, id: string): Promise<T[E] | null>;
  /** Rows matching `filter` (all readable rows when absent), at most the server's page limit. */
  query<E extends keyof T & string>(entity: E, filter?: Filter): Promise<T[E][]>;
  /** Readable rows in id order, at most the server's largest page (`MAST_MAX_LIMIT`). */
  list<E extends keyof T & string>(entity: E): Promise<T[E][]>;
  /** The first readable row (by id) whose `field` equals `value`, or null. */
  lookup<E extends keyof T & string, F extends keyof T[E] & string>(entity: E, field: F, value: T[E][F]): Promise<T[E] | null>;
}

/** Reads and writes of a mutation, all inside its one transaction. */
export interface DbWriter<T extends TableMap = RegisteredTables> extends DbReader<T> {
  /** Inserts a row (a given `id` is kept); returns its id. */
  insert<E extends keyof T & string>(entity: E, data: InsertOf<T[E]>): Promise<string>;
  /** Applies `patch`; false when the row does not exist or the caller may not read it. */
  update<E extends keyof T & string>(entity: E, id: string, patch: PatchOf<T[E]>): Promise<boolean>;
  /** Deletes the row; false when it does not exist or the caller may not read it. */
  delete<E extends keyof T & string>(entity: E, id: string): Promise<boolean>;
}
