import type { FunctionDefinition, FunctionKind } from '@mast/functions';
import type { EntityName, Row, SchemaDefinition } from '@mast/schema';
import type { CallOptions, Watch } from './calls.js';
import type { MastClient, MutationOptions, WriteOptions } from './client.js';
import type { LiveQuery } from './live-query.js';

/** Function definitions by name: `{ addTodo: typeof addTodo, … }` (each file's default export). */
export type FunctionMap = Readonly<Record<string, FunctionDefinition<FunctionKind, any, any>>>;

/** The arguments object of a function definition. */
export type ArgsOf<D> = D extends FunctionDefinition<FunctionKind, infer A, unknown> ? A : never;
/** The result of a function definition (its handler's awaited return type). */
export type ResultOf<D> = D extends FunctionDefinition<FunctionKind, unknown, infer R> ? R : never;

type NamesOf<F extends FunctionMap, K extends FunctionKind> = { [N in keyof F]: F[N] extends FunctionDefinition<K, any, any> ? N : never }[keyof F] & string;

/** Operators on one field, typed by the field's value. */
export interface FieldOps<V> {
  $eq?: V | null;
  $ne?: V | null;
  $gt?: V;
  $gte?: V;
  $lt?: V;
  $lte?: V;
  $in?: readonly V[];
  $nin?: readonly V[];
  $like?: V extends string ? string : never;
  $ilike?: V extends string ? string : never;
  $exists?: boolean;
}

/** A live query's filter over rows of type R: field conditions, `$and $or $not`, `$order`, `$limit`. */
export type TypedFilter<R> = { [K in keyof R & string]?: R[K] | null | FieldOps<NonNullable<R[K]>> } & {
  $and?: readonly TypedFilter<R>[];
  $or?: readonly TypedFilter<R>[];
  $not?: TypedFilter<R>;
  $order?: { [K in keyof R & string]?: 'asc' | 'desc' };
  $limit?: number;
};

/** What an insert takes: the row's fields, with `id` optional (made by the client when absent). */
export type InsertOf<R> = Omit<R, 'id'> & { id?: string };

/**
 * The client typed by an app's schema (`defineSchema`) and functions, with no generated code:
 * entity names, row types, filters, write payloads, function names, arguments and results are
 * all read from `typeof schema` and `typeof functions`.
 */
export interface TypedClient<S extends SchemaDefinition, F extends FunctionMap = Record<never, never>>
  extends Omit<MastClient, 'query' | 'insert' | 'update' | 'delete' | 'mutation' | 'action' | 'watch'> {
  query<N extends EntityName<S>>(entity: N, filter?: TypedFilter<Row<S, N>>): LiveQuery<Row<S, N>>;
  insert<N extends EntityName<S>>(entity: N, data: InsertOf<Row<S, N>>, options?: WriteOptions): Promise<{ id: string; seq: number }>;
  update<N extends EntityName<S>>(entity: N, id: string, patch: Partial<Omit<Row<S, N>, 'id'>>, options?: WriteOptions): Promise<{ updated: true; seq: number }>;
  delete<N extends EntityName<S>>(entity: N, id: string, options?: WriteOptions): Promise<{ deleted: true; seq: number }>;
  mutation<K extends NamesOf<F, 'mutation'>>(name: K, args: ArgsOf<F[K]>, options?: MutationOptions): Promise<ResultOf<F[K]>>;
  action<K extends NamesOf<F, 'action' | 'query'>>(name: K, args: ArgsOf<F[K]>, options?: CallOptions): Promise<ResultOf<F[K]>>;
  watch<K extends NamesOf<F, 'query'>>(name: K, args: ArgsOf<F[K]>): Watch<ResultOf<F[K]>>;
}
