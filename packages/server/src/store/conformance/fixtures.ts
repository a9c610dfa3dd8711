import { expect } from 'vitest';
import { resolveSchema } from '@mast/schema';
import type { AppSchema, Manifest, ManifestEntity, ManifestField, MigrationPlan, MigrationStep } from '@mast/schema';
import { AppError } from '../../errors/index.js';
import type { ErrorCode } from '@mast/protocol';
import type { Row, Store } from '../store.js';

/** Gives each case the store of the running test (created fresh in `beforeEach`). */
export type StoreRef = () => Store;

function field(name: string, type: ManifestField['type'], extra: Partial<ManifestField> = {}): ManifestField {
  return { name, type, optional: true, unique: false, ...extra };
}

/** `Item` has one field of every kind, a unique field, a composite unique and a plain index. */
export const itemEntity: ManifestEntity = {
  name: 'Item',
  fields: [
    field('name', 'string', { optional: false }),
    field('title', 'string'),
    field('count', 'int'),
    field('price', 'float'),
    field('done', 'bool'),
    field('meta', 'json'),
    field('due', 'datetime'),
    field('body', 'richtext'),
    field('owner', 'id(User)'),
    field('slug', 'string'),
    field('code', 'string', { unique: true }),
  ],
  indexes: [
    { name: 'owner_slug', fields: ['owner', 'slug'], unique: true },
    { name: 'by_count', fields: ['count'], unique: false },
  ],
};

/** A second entity, for multi-table migrations. */
export const userEntity: ManifestEntity = { name: 'User', fields: [field('name', 'string')], indexes: [] };

/** A resolved schema of the given entities. */
export function schemaOf(entities: ManifestEntity[]): AppSchema {
  const manifest: Manifest = { manifest_version: 1, name: 'conformance', version: '1', entities, routes: [] };
  return resolveSchema(manifest);
}

/** A plan that creates every table of `schema` from nothing, with its declared indexes. */
export function createPlan(schema: AppSchema): MigrationPlan {
  const steps: MigrationStep[] = [];
  for (const entity of schema.entities) {
    steps.push({ kind: 'createTable', entity });
    for (const index of entity.indexes) steps.push({ kind: 'createIndex', entity: entity.name, index });
  }
  return { steps, destructive: false };
}

/** Migrates a fresh store to the Item + User schema and returns that schema. */
export async function migrateBase(store: Store): Promise<AppSchema> {
  const schema = schemaOf([itemEntity, userEntity]);
  await store.migrate(createPlan(schema), schema);
  return schema;
}

/** An Item with every field null except those given. */
export function item(id: string, fields: Record<string, unknown> = {}): Row {
  return { id, name: id, ...fields };
}

/** Asserts that `promise` rejects with an AppError of `code` (and exactly `fields`, if given). */
export async function expectAppError(promise: Promise<unknown>, code: ErrorCode, fields?: string[]): Promise<AppError> {
  const err: unknown = await promise.then(
    () => new Error(`expected ${code}, but it resolved`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const appError = err as AppError;
  expect(appError.code).toBe(code);
  if (fields) expect(appError.fields).toEqual(fields);
  return appError;
}

/** Ids of rows, in the order given. */
export function ids(rows: readonly Row[]): string[] {
  return rows.map((r) => r.id);
}

/** Ids sorted, for results whose order is not under test. */
export function idSet(rows: readonly Row[]): string[] {
  return ids(rows).sort();
}
