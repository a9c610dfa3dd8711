import { z } from 'zod';

/** A runtime validator of one argument (a zod schema); `Infer` gives its TypeScript type. */
export type Validator<T = unknown> = z.ZodType<T>;

/** The argument map of a function: argument name → validator. */
export type ArgsShape = Record<string, z.ZodType>;

/** The TypeScript type a validator accepts. */
export type Infer<V extends z.ZodType> = z.output<V>;

/** The TypeScript type of the arguments described by `args`. */
export type InferArgs<A extends ArgsShape> = z.output<z.ZodObject<A, z.core.$strict>>;

/**
 * Argument validators in Pylon's style, backed by zod. Unlike Pylon's, they are strict:
 * `v.int()` checks for a whole number, `v.id()` for a non-empty string, and unknown keys in an
 * object are an error, not silently kept.
 */
export const v = {
  string: () => z.string(),
  number: () => z.number(),
  float: () => z.number(),
  int: () => z.number().int(),
  boolean: () => z.boolean(),
  bool: () => z.boolean(),
  null: () => z.null(),
  /** A row id of `entity` (a non-empty string; that the row exists is not checked here). */
  id: (entity: string) => z.string().min(1).describe(`id(${entity})`),
  /** An ISO-8601 date-time string. */
  datetime: () => z.iso.datetime({ offset: true }),
  any: () => z.unknown(),
  literal: <T extends string | number | boolean | null>(value: T) => z.literal(value),
  optional: <V extends z.ZodType>(inner: V) => inner.optional(),
  array: <V extends z.ZodType>(item: V) => z.array(item),
  object: <S extends ArgsShape>(shape: S) => z.strictObject(shape),
  union: <const V extends readonly [z.ZodType, z.ZodType, ...z.ZodType[]]>(...variants: V) => z.union(variants),
} as const;

/** The validator of a whole argument object. */
export function argsValidator<A extends ArgsShape>(shape: A): z.ZodObject<A, z.core.$strict> {
  return z.strictObject(shape);
}
