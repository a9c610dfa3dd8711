import type { CrdtKind, FieldTypeName } from './manifest-types.js';

/** Any JSON value; the default value type of `field.json()`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What a field builder emits for its manifest entry (the name comes from its key in the entity). */
export interface FieldDefinition {
  readonly type: FieldTypeName;
  readonly optional: boolean;
  readonly unique: boolean;
  readonly crdt?: CrdtKind;
  readonly renamedFrom?: string;
}

declare const valueMarker: unique symbol;
declare const optionalMarker: unique symbol;

/**
 * An immutable field declaration: every modifier returns a new builder. `T` is the value type a
 * row carries, `O` whether the field is optional, `K` the crdt annotations the type accepts.
 */
export interface FieldBuilder<T, O extends boolean = false, K extends CrdtKind = CrdtKind> {
  readonly definition: FieldDefinition;
  /** Type-level only: never set at runtime. */
  readonly [valueMarker]?: T;
  /** Type-level only: never set at runtime. */
  readonly [optionalMarker]?: O;
  /** The field may be absent or null in a row. */
  optional(): FieldBuilder<T, true, K>;
  /** No two rows share a non-null value (a unique index `<Entity>__<field>__unique`). */
  unique(): FieldBuilder<T, O, K>;
  /** Overrides the CRDT container used for this field on crdt entities. */
  crdt(kind: K): FieldBuilder<T, O, K>;
  /** The field's previous name: the next migration renames that column (values kept) instead of dropping it. */
  renamedFrom(previousName: string): FieldBuilder<T, O, K>;
}

/** Any field builder, whatever its value type. */
export type AnyFieldBuilder = FieldBuilder<unknown, boolean, CrdtKind>;

function build<T, O extends boolean, K extends CrdtKind>(definition: FieldDefinition): FieldBuilder<T, O, K> {
  const frozen = Object.freeze({ ...definition });
  return Object.freeze({
    definition: frozen,
    optional: () => build<T, true, K>({ ...frozen, optional: true }),
    unique: () => build<T, O, K>({ ...frozen, unique: true }),
    crdt: (kind: K) => build<T, O, K>({ ...frozen, crdt: kind }),
    renamedFrom: (previousName: string) => build<T, O, K>({ ...frozen, renamedFrom: previousName }),
  });
}

function of<T, K extends CrdtKind>(type: FieldTypeName): FieldBuilder<T, false, K> {
  return build<T, false, K>({ type, optional: false, unique: false });
}

type TextKinds = 'lww' | 'text';
type NumberKinds = 'lww' | 'counter';
type JsonKinds = 'lww' | 'list' | 'movable-list' | 'tree';

/** Field builders, one per manifest field type (with Pylon's aliases `number` and `boolean`). */
export const field = Object.freeze({
  string: () => of<string, TextKinds>('string'),
  int: () => of<number, NumberKinds>('int'),
  float: () => of<number, NumberKinds>('float'),
  /** Alias of `float`. */
  number: () => of<number, NumberKinds>('float'),
  bool: () => of<boolean, 'lww'>('bool'),
  /** Alias of `bool`. */
  boolean: () => of<boolean, 'lww'>('bool'),
  /** An ISO-8601 string. */
  datetime: () => of<string, 'lww'>('datetime'),
  /** Collaborative text (a Loro text on crdt entities). */
  richtext: () => of<string, TextKinds>('richtext'),
  /** Any JSON value; `T` only types rows, it is not checked at runtime. */
  json: <T = JsonValue>() => of<T, JsonKinds>('json'),
  /** The id of a row of `target`. */
  id: (target: string) => of<string, 'lww'>(`id(${target})`),
});
