import type { CrdtKind } from './manifest-types.js';
import type { FieldBuilder } from './field-builder.js';
import type { EntityDefinition, FieldMap, SchemaDefinition } from './define-schema.js';

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The value type a field builder carries (`json<T>` → T, `id(X)` → string, ...). */
export type FieldValue<B> = B extends FieldBuilder<infer T, boolean, CrdtKind> ? T : never;

type IsOptional<B> = B extends FieldBuilder<unknown, true, CrdtKind> ? true : false;

/** The row type of a field map: `id: string`, required fields as is, optional ones optional and nullable. */
export type RowOf<F extends FieldMap> = Simplify<
  { id: string } & {
    -readonly [K in keyof F as IsOptional<F[K]> extends true ? never : K]: FieldValue<F[K]>;
  } & {
    -readonly [K in keyof F as IsOptional<F[K]> extends true ? K : never]?: FieldValue<F[K]> | null;
  }
>;

/** The names of the entities a schema declares. */
export type EntityName<S extends SchemaDefinition> = S['entities'][number]['name'];

/** The row type of an entity declared with `entity()`. */
export type InferEntityRow<E extends EntityDefinition> = RowOf<E['fields']>;

/** The row type of entity `N` of a schema: `InferRow<typeof schema, 'Todo'>`. */
export type InferRow<S extends SchemaDefinition, N extends EntityName<S>> = RowOf<Extract<S['entities'][number], { readonly name: N }>['fields']>;

/** Alias of InferRow, for client code: `Row<typeof schema, 'Todo'>`. */
export type Row<S extends SchemaDefinition, N extends EntityName<S>> = InferRow<S, N>;
