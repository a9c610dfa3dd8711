import type { EntitySchema, FilterNode } from '@mast/schema';
import type { AuthContext } from '../access/auth-context.js';
import { liveErrors, toAppError } from '../errors/index.js';
import type { Row, Store } from '../store/index.js';
import type { LiveAccess } from './live-access.js';

/**
 * A to-one relation a live query includes: every row of the window carries the related row
 * under the relation's name, or null when there is none or the subscriber may not read it.
 */
export interface IncludeDef {
  readonly name: string;
  readonly target: string;
  /** The field of the query's entity that holds the related row's id. */
  readonly field: string;
  /** The target rows the subscriber may read as a store filter (true: all, null: none). */
  readonly visible: FilterNode | true | null;
}

/**
 * Resolves `include` names against the entity's relations. Only to-one relations can be
 * included: a to-many one is unbounded per row (subscribe to the target filtered on its key
 * field instead). Throws INVALID_QUERY for an unknown, to-many or field-shadowing relation.
 */
export function resolveIncludes(entity: EntitySchema, names: readonly string[] | undefined, auth: AuthContext, access: LiveAccess): IncludeDef[] {
  const out: IncludeDef[] = [];
  for (const name of new Set(names ?? [])) {
    const relation = entity.relations.find((r) => r.name === name);
    if (!relation) {
      const valid = entity.relations.filter((r) => r.many !== true).map((r) => r.name);
      throw liveErrors.unknownRelation(name, entity.name, valid);
    }
    if (relation.many === true) {
      throw liveErrors.toManyInclude(name, relation.target, relation.field);
    }
    if (entity.fieldsByName.has(name)) throw liveErrors.relationShadowsField(name, entity.name);
    out.push({ name, target: relation.target, field: relation.field, visible: visibleFilter(auth, relation.target, access) });
  }
  return out;
}

function visibleFilter(auth: AuthContext, entity: string, access: LiveAccess): FilterNode | true | null {
  if (!access.readFilter) return true;
  try {
    return access.readFilter(auth, entity);
  } catch (err) {
    // Nothing of the target is readable: every included row is null.
    if (toAppError(err).code === 'POLICY_DENIED') return null;
    throw err;
  }
}

/** The rows with each included relation's row attached (new objects; the inputs are not changed). */
export async function attachIncludes(rows: readonly Row[], includes: readonly IncludeDef[], store: Store, canRead: (entity: string, row: Row) => boolean): Promise<Row[]> {
  const out = rows.map((row) => ({ ...row }));
  for (const include of includes) {
    const ids = [...new Set(rows.map((row) => row[include.field]).filter((v): v is string => typeof v === 'string'))];
    const related = new Map<string, Row>();
    if (ids.length > 0 && include.visible !== null) {
      const byId: FilterNode = { kind: 'in', field: 'id', values: ids, negate: false };
      const where: FilterNode = include.visible === true ? byId : { kind: 'and', items: [byId, include.visible] };
      const found = await store.read((tx) => tx.find(include.target, { where, limit: ids.length }));
      for (const row of found) if (canRead(include.target, row)) related.set(row.id, row);
    }
    for (const row of out) {
      const id = row[include.field];
      row[include.name] = typeof id === 'string' ? (related.get(id) ?? null) : null;
    }
  }
  return out;
}

/** Whether a change to row `rowId` of `entity` can alter what the window's includes show. */
export function includesReference(includes: readonly IncludeDef[], rows: readonly Row[], entity: string, rowId: string): boolean {
  for (const include of includes) {
    if (include.target !== entity) continue;
    for (const row of rows) if (row[include.field] === rowId) return true;
  }
  return false;
}
