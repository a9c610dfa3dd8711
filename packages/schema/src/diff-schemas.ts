import type { AppSchema, EntitySchema, FieldSchema } from './app-schema.js';
import type { ManifestIndex } from './manifest-types.js';
import type { MigrationPlan, MigrationStep } from './migration-plan.js';
import { entityIndexesOf } from './schema-indexes.js';

/**
 * Step order, so that every step finds what it needs: tables and columns first; indexes that go
 * away (or must be rebuilt) are dropped before types change, because SQLite cannot drop or
 * rewrite an indexed column; new indexes after all columns have their final type; the
 * destructive drops of columns and tables last.
 */
const PHASES = [
  'createTable',
  'renameColumn',
  'addColumn',
  'dropIndex',
  'changeType',
  'requireColumn',
  'createIndex',
  'noteChange',
  'dropColumn',
  'dropTable',
] as const satisfies readonly MigrationStep['kind'][];

const DESTRUCTIVE: ReadonlySet<MigrationStep['kind']> = new Set(['dropColumn', 'changeType', 'dropTable']);

type Buckets = { [K in MigrationStep['kind']]: Extract<MigrationStep, { kind: K }>[] };

function emptyBuckets(): Buckets {
  return {
    createTable: [],
    renameColumn: [],
    addColumn: [],
    dropIndex: [],
    changeType: [],
    requireColumn: [],
    createIndex: [],
    noteChange: [],
    dropColumn: [],
    dropTable: [],
  };
}

/** A field's type as written in a manifest: `int`, `id(User)`. */
export function fieldTypeText(field: FieldSchema): string {
  return field.kind === 'id' ? `id(${field.target ?? ''})` : field.kind;
}

function sameIndex(a: ManifestIndex, b: ManifestIndex): boolean {
  return a.unique === b.unique && a.fields.length === b.fields.length && a.fields.every((f, i) => b.fields[i] === f);
}

function addColumn(out: Buckets, entity: string, field: FieldSchema): void {
  out.addColumn.push({ kind: 'addColumn', entity, field });
  // Rows that exist already have no value for it; the store refuses if there are any.
  if (!field.optional) out.requireColumn.push({ kind: 'requireColumn', entity, field });
}

function createEntity(out: Buckets, entity: EntitySchema): void {
  out.createTable.push({ kind: 'createTable', entity });
  for (const index of entityIndexesOf(entity)) out.createIndex.push({ kind: 'createIndex', entity: entity.name, index });
}

/**
 * The previous field a `renamedFrom` field continues: the old name must exist before and be
 * gone now (once migrated, the field exists under its new name and `renamedFrom` is inert).
 */
function renamedSource(prev: EntitySchema, next: EntitySchema, field: FieldSchema): FieldSchema | undefined {
  if (field.renamedFrom === undefined || prev.fieldsByName.has(field.name) || next.fieldsByName.has(field.renamedFrom)) return undefined;
  return prev.fieldsByName.get(field.renamedFrom);
}

function diffFields(out: Buckets, prev: EntitySchema, next: EntitySchema): Set<string> {
  const retyped = new Set<string>();
  const renamed = new Set<string>();
  const e = next.name;
  for (const field of next.fields) {
    let before = prev.fieldsByName.get(field.name);
    const source = renamedSource(prev, next, field);
    if (source !== undefined) {
      out.renameColumn.push({ kind: 'renameColumn', entity: e, from: source.name, field });
      renamed.add(source.name);
      // Every later step sees the column under its new name.
      before = { ...source, name: field.name };
    }
    if (!before) {
      addColumn(out, e, field);
      continue;
    }
    if (before.kind !== field.kind) {
      out.changeType.push({ kind: 'changeType', entity: e, from: before, to: field });
      retyped.add(field.name);
    } else if (before.target !== field.target) {
      out.noteChange.push({
        kind: 'noteChange',
        entity: e,
        detail: `${e}.${field.name}: ${fieldTypeText(before)} → ${fieldTypeText(field)} (stored ids are kept as they are)`,
      });
    }
    if (before.optional && !field.optional) out.requireColumn.push({ kind: 'requireColumn', entity: e, field });
    if (!before.optional && field.optional) {
      out.noteChange.push({ kind: 'noteChange', entity: e, detail: `${e}.${field.name}: now optional` });
    }
    if (before.crdt !== field.crdt) {
      out.noteChange.push({
        kind: 'noteChange',
        entity: e,
        detail: `${e}.${field.name}: crdt ${before.crdt ?? 'default'} → ${field.crdt ?? 'default'}`,
      });
    }
  }
  for (const field of prev.fields) {
    if (!next.fieldsByName.has(field.name) && !renamed.has(field.name)) out.dropColumn.push({ kind: 'dropColumn', entity: e, field: field.name });
  }
  return retyped;
}

function diffIndexes(out: Buckets, prev: EntitySchema, next: EntitySchema, retyped: ReadonlySet<string>): void {
  const before = new Map(entityIndexesOf(prev).map((i) => [i.name, i]));
  const after = entityIndexesOf(next);
  const afterNames = new Set(after.map((i) => i.name));
  for (const index of before.values()) {
    if (!afterNames.has(index.name)) out.dropIndex.push({ kind: 'dropIndex', entity: next.name, index });
  }
  for (const index of after) {
    const old = before.get(index.name);
    // An index over a column whose type changes is rebuilt around the change.
    const rebuild = old !== undefined && (!sameIndex(old, index) || old.fields.some((f) => retyped.has(f)));
    if (old !== undefined && rebuild) out.dropIndex.push({ kind: 'dropIndex', entity: next.name, index: old });
    if (old === undefined || rebuild) out.createIndex.push({ kind: 'createIndex', entity: next.name, index });
  }
}

function diffMetadata(out: Buckets, prev: EntitySchema, next: EntitySchema): void {
  const e = next.name;
  const note = (detail: string): void => void out.noteChange.push({ kind: 'noteChange', entity: e, detail });
  if (prev.crdt !== next.crdt) note(`${e}: crdt ${prev.crdt} → ${next.crdt}`);
  const before = new Map(prev.relations.map((r) => [r.name, r]));
  const after = new Map(next.relations.map((r) => [r.name, r]));
  for (const [name, relation] of after) {
    const old = before.get(name);
    if (!old) note(`${e}: relation ${name} added (→ ${relation.target} via ${relation.field})`);
    else if (JSON.stringify(old) !== JSON.stringify(relation)) {
      note(`${e}: relation ${name} changed (${JSON.stringify(old)} → ${JSON.stringify(relation)})`);
    }
  }
  for (const name of before.keys()) if (!after.has(name)) note(`${e}: relation ${name} removed`);
  const searchBefore = JSON.stringify(prev.search ?? null);
  const searchAfter = JSON.stringify(next.search ?? null);
  if (searchBefore !== searchAfter) note(`${e}: search ${searchBefore} → ${searchAfter}`);
}

function diffLive(out: Buckets, next: AppSchema, live: ReadonlyMap<string, readonly string[]>): void {
  for (const entity of next.entities) {
    const columns = live.get(entity.name);
    if (columns === undefined) {
      createEntity(out, entity);
      continue;
    }
    const existing = new Set(columns);
    const renamed = new Set<string>();
    for (const field of entity.fields) {
      if (existing.has(field.name)) continue;
      const from = field.renamedFrom;
      if (from !== undefined && existing.has(from) && !entity.fieldsByName.has(from)) {
        out.renameColumn.push({ kind: 'renameColumn', entity: entity.name, from, field });
        renamed.add(from);
      } else addColumn(out, entity.name, field);
    }
    for (const column of columns) {
      if (column === 'id' || entity.fieldsByName.has(column) || renamed.has(column)) continue;
      out.noteChange.push({
        kind: 'noteChange',
        entity: entity.name,
        detail: `${entity.name}.${column}: column exists but is not in the schema; left in place`,
      });
    }
    // Stores create indexes with IF NOT EXISTS, so indexes already there are kept.
    for (const index of entityIndexesOf(entity)) out.createIndex.push({ kind: 'createIndex', entity: entity.name, index });
  }
}

/**
 * Computes the steps that take a database from `previous` (the schema recorded at the last
 * migration; null for a database Mast never migrated) to `next`. With `previous` null and `live`
 * (table → column names introspected from the database, e.g. one Pylon created), existing tables
 * are kept, missing columns and all indexes are added, and nothing is ever dropped. `live` is
 * ignored when `previous` is given.
 */
export function diffSchemas(previous: AppSchema | null, next: AppSchema, live?: ReadonlyMap<string, readonly string[]>): MigrationPlan {
  const out = emptyBuckets();
  if (previous === null) {
    if (live !== undefined) diffLive(out, next, live);
    else for (const entity of next.entities) createEntity(out, entity);
  } else {
    for (const entity of next.entities) {
      const prev = previous.entitiesByName.get(entity.name);
      if (!prev) {
        createEntity(out, entity);
        continue;
      }
      const retyped = diffFields(out, prev, entity);
      diffIndexes(out, prev, entity, retyped);
      diffMetadata(out, prev, entity);
    }
    for (const entity of previous.entities) {
      if (!next.entitiesByName.has(entity.name)) out.dropTable.push({ kind: 'dropTable', entity: entity.name });
    }
  }
  const steps: MigrationStep[] = PHASES.flatMap((phase): MigrationStep[] => out[phase]);
  return Object.freeze({ steps: Object.freeze(steps), destructive: steps.some((s) => DESTRUCTIVE.has(s.kind)) });
}

/** True for the steps that lose data (drop column, change type, drop table). */
export function isDestructiveStep(step: MigrationStep): boolean {
  return DESTRUCTIVE.has(step.kind);
}
