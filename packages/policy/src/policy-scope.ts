import type { AppSchema, EntitySchema, FieldKind } from '@mast/schema';

/** The entity operations a rule can guard. */
export type PolicyOperation = 'read' | 'insert' | 'update' | 'delete';

/**
 * What a rule may refer to: the row's fields as `data.*` and the incoming change as `input.*`
 * (null when the operation has none), with their kinds. `id` is a string field of every row.
 */
export interface PolicyScope {
  /** For messages: `Todo`, or `action addTodo`. */
  readonly target: string;
  /** For messages: the operation(s) the rule applies to, e.g. `read`. */
  readonly applies: string;
  readonly data: ReadonlyMap<string, FieldKind> | null;
  readonly input: ReadonlyMap<string, FieldKind> | null;
  /** The name rules use for `input`: `input`, or `room` in a room rule (its pattern's placeholders). */
  readonly inputRoot?: 'input' | 'room';
  /** The entities `exists(…)` may name, with their fields (empty: no relational rules). */
  readonly entities: ReadonlyMap<string, ReadonlyMap<string, FieldKind>>;
}

const NO_ENTITIES: ReadonlyMap<string, ReadonlyMap<string, FieldKind>> = new Map();
const entityMaps = new WeakMap<AppSchema, ReadonlyMap<string, ReadonlyMap<string, FieldKind>>>();

/** Every entity of a schema with its fields, for `exists`. */
function entitiesOf(schema: AppSchema | undefined): ReadonlyMap<string, ReadonlyMap<string, FieldKind>> {
  if (!schema) return NO_ENTITIES;
  let map = entityMaps.get(schema);
  if (!map) entityMaps.set(schema, (map = new Map(schema.entities.map((e) => [e.name, fieldKinds(e)]))));
  return map;
}

function fieldKinds(entity: EntitySchema): ReadonlyMap<string, FieldKind> {
  return new Map<string, FieldKind>([['id', 'id'], ...entity.fields.map((f) => [f.name, f.kind] as const)]);
}

/**
 * The scope of a rule for one operation on an entity: input exists for insert and update;
 * `schema` gives `exists` its entities.
 */
export function entityScope(entity: EntitySchema, operation: PolicyOperation, schema?: AppSchema): PolicyScope {
  const fields = fieldKinds(entity);
  const hasInput = operation === 'insert' || operation === 'update';
  return Object.freeze({ target: entity.name, applies: operation, data: fields, input: hasInput ? fields : null, entities: entitiesOf(schema) });
}

/** The scope of an action rule: its inputs, and no row. */
export function actionScope(action: string, inputs: ReadonlyMap<string, FieldKind>, schema?: AppSchema): PolicyScope {
  return Object.freeze({ target: `action ${action}`, applies: 'action', data: null, input: inputs, entities: entitiesOf(schema) });
}

/**
 * The scope of a room rule (`allowJoin`): the placeholders of its room pattern as `room.<name>`
 * (text), and no row.
 */
export function roomScope(pattern: string, params: readonly string[], schema?: AppSchema): PolicyScope {
  const inputs = new Map<string, FieldKind>(params.map((p) => [p, 'string'] as const));
  return Object.freeze({ target: `room ${pattern}`, applies: 'join', data: null, input: inputs, inputRoot: 'room' as const, entities: entitiesOf(schema) });
}
