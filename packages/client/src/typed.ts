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

/** The types of one function: its kind, arguments and result. */
export interface FunctionTypes {
  readonly kind: FunctionKind;
  readonly args: unknown;
  readonly result: unknown;
}

/**
 * An app's types as data: row types by entity name and function types by name. Built from the
 * schema DSL and function definitions (`AppTypesOf`) or written by `mast codegen` for an app
 * with a JSON manifest; either types the client through `TypedClientOf`.
 */
export interface AppTypes {
  readonly rows: { readonly [entity: string]: { id: string } };
  readonly functions: { readonly [name: string]: FunctionTypes };
}

type KindOf<D> = D extends FunctionDefinition<infer K, any, any> ? K : never;

/** The app types of a schema (`defineSchema`) and function definitions. */
export type AppTypesOf<S extends SchemaDefinition, F extends FunctionMap = Record<never, never>> = {
  rows: { [N in EntityName<S>]: Row<S, N> };
  functions: { [K in keyof F]: { kind: KindOf<F[K]>; args: ArgsOf<F[K]>; result: ResultOf<F[K]> } };
};

type FnNames<T extends AppTypes, K extends FunctionKind> = { [N in keyof T['functions']]: T['functions'][N]['kind'] extends K ? N : never }[keyof T['functions']] & string;
type RowsOf<T extends AppTypes> = T['rows'];

/**
 * The client typed by an app's types: entity names, row types, filters, write payloads,
 * function names, arguments and results.
 */
export interface TypedClientOf<T extends AppTypes> extends Omit<MastClient, 'query' | 'insert' | 'update' | 'delete' | 'mutation' | 'action' | 'watch'> {
  query<N extends keyof RowsOf<T> & string>(entity: N, filter?: TypedFilter<RowsOf<T>[N]>): LiveQuery<RowsOf<T>[N]>;
  insert<N extends keyof RowsOf<T> & string>(entity: N, data: InsertOf<RowsOf<T>[N]>, options?: WriteOptions): Promise<{ id: string; seq: number }>;
  update<N extends keyof RowsOf<T> & string>(entity: N, id: string, patch: Partial<Omit<RowsOf<T>[N], 'id'>>, options?: WriteOptions): Promise<{ updated: true; seq: number }>;
  delete<N extends keyof RowsOf<T> & string>(entity: N, id: string, options?: WriteOptions): Promise<{ deleted: true; seq: number }>;
  mutation<K extends FnNames<T, 'mutation'>>(name: K, args: T['functions'][K]['args'], options?: MutationOptions): Promise<T['functions'][K]['result']>;
  action<K extends FnNames<T, 'action' | 'query'>>(name: K, args: T['functions'][K]['args'], options?: CallOptions): Promise<T['functions'][K]['result']>;
  watch<K extends FnNames<T, 'query'>>(name: K, args: T['functions'][K]['args']): Watch<T['functions'][K]['result']>;
}

/**
 * The client typed by an app's schema (`defineSchema`) and functions, with no generated code:
 * entity names, row types, filters, write payloads, function names, arguments and results are
 * all read from `typeof schema` and `typeof functions`.
 */
export type TypedClient<S extends SchemaDefinition, F extends FunctionMap = Record<never, never>> = TypedClientOf<AppTypesOf<S, F>>;
