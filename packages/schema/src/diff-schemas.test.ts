import { describe, expect, it } from 'vitest';
import type { AppSchema } from './app-schema.js';
import { compileManifest } from './compile-manifest.js';
import { describePlan } from './describe-plan.js';
import { diffSchemas } from './diff-schemas.js';
import type { ManifestEntity, ManifestField } from './manifest-types.js';
import type { MigrationPlan, MigrationStep } from './migration-plan.js';
import { indexesOf, uniqueIndexesOf } from './schema-indexes.js';

function f(name: string, type: ManifestField['type'], extra: Partial<ManifestField> = {}): ManifestField {
  return { name, type, optional: false, unique: false, ...extra };
}

function app(...entities: ManifestEntity[]): AppSchema {
  return compileManifest({ manifest_version: 1, name: 'a', version: '1', entities, routes: [] });
}

const user: ManifestEntity = { name: 'User', fields: [f('email', 'string', { unique: true })], indexes: [] };

function todo(change: (e: ManifestEntity) => void = () => {}): ManifestEntity {
  const entity: ManifestEntity = {
    name: 'Todo',
    fields: [f('title', 'string'), f('done', 'bool'), f('ownerId', 'id(User)', { optional: true }), f('note', 'string', { optional: true })],
    indexes: [{ name: 'by_owner', fields: ['ownerId'], unique: false }],
  };
  change(entity);
  return entity;
}

/** A compact view of a plan: one `kind entity detail` string per step. */
function summary(plan: MigrationPlan): string[] {
  return plan.steps.map((step: MigrationStep) => {
    switch (step.kind) {
      case 'createTable':
        return `createTable ${step.entity.name}`;
      case 'addColumn':
      case 'requireColumn':
        return `${step.kind} ${step.entity}.${step.field.name}`;
      case 'createIndex':
      case 'dropIndex':
        return `${step.kind} ${step.entity}.${step.index.name}(${step.index.fields.join(',')}${step.index.unique ? ' unique' : ''})`;
      case 'noteChange':
        return `noteChange ${step.detail}`;
      case 'dropColumn':
        return `dropColumn ${step.entity}.${step.field}`;
      case 'changeType':
        return `changeType ${step.entity}.${step.to.name} ${step.from.kind}->${step.to.kind}`;
      case 'dropTable':
        return `dropTable ${step.entity}`;
      case 'renameColumn':
        return `renameColumn ${step.entity}.${step.from}->${step.field.name}`;
      default:
        throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  });
}

const base = app(user, todo());

describe('indexesOf', () => {
  it('names declared indexes <Entity>__<name> and unique fields <Entity>__<field>__unique', () => {
    const schema = app(
      user,
      todo((e) => (e.fields[0]!.unique = true)),
    );
    const entity = schema.entitiesByName.get('Todo')!;
    expect(indexesOf(entity)).toEqual([
      { name: 'Todo__by_owner', fields: ['ownerId'], unique: false },
      { name: 'Todo__title__unique', fields: ['title'], unique: true },
    ]);
    expect(uniqueIndexesOf(entity)).toEqual([{ name: 'Todo__title__unique', fields: ['title'], unique: true }]);
  });
});

describe('diffSchemas', () => {
  it('names indexes in steps relative to their entity', () => {
    const schema = app(
      user,
      todo((e) => (e.fields[0]!.unique = true)),
    );
    const indexSteps = diffSchemas(null, schema).steps.filter((s) => s.kind === 'createIndex');
    expect(indexSteps).toEqual([
      { kind: 'createIndex', entity: 'User', index: { name: 'email__unique', fields: ['email'], unique: true } },
      { kind: 'createIndex', entity: 'Todo', index: { name: 'by_owner', fields: ['ownerId'], unique: false } },
      { kind: 'createIndex', entity: 'Todo', index: { name: 'title__unique', fields: ['title'], unique: true } },
    ]);
  });

  it('creates every table, then every index, on an empty database', () => {
    const plan = diffSchemas(null, base);
    expect(summary(plan)).toEqual(['createTable User', 'createTable Todo', 'createIndex User.email__unique(email unique)', 'createIndex Todo.by_owner(ownerId)']);
    expect(plan.destructive).toBe(false);
  });

  it('finds nothing to do between equal schemas', () => {
    expect(diffSchemas(base, app(user, todo()))).toEqual({ steps: [], destructive: false });
  });

  it('creates a new entity with its indexes', () => {
    const tag: ManifestEntity = { name: 'Tag', fields: [f('label', 'string', { unique: true })], indexes: [{ name: 'by_label', fields: ['label'], unique: false }] };
    expect(summary(diffSchemas(base, app(user, todo(), tag)))).toEqual(['createTable Tag', 'createIndex Tag.by_label(label)', 'createIndex Tag.label__unique(label unique)']);
  });

  it('adds columns; a new required column must be filled in existing rows', () => {
    const next = app(
      user,
      todo((e) => e.fields.push(f('due', 'datetime', { optional: true }), f('rank', 'int'))),
    );
    const plan = diffSchemas(base, next);
    expect(summary(plan)).toEqual(['addColumn Todo.due', 'addColumn Todo.rank', 'requireColumn Todo.rank']);
    expect(plan.destructive).toBe(false);
  });

  it('drops a removed column (destructive), after dropping its index', () => {
    const next = app(
      user,
      todo((e) => {
        e.fields.splice(2, 1);
        e.indexes = [];
      }),
    );
    const plan = diffSchemas(base, next);
    expect(summary(plan)).toEqual(['dropIndex Todo.by_owner(ownerId)', 'dropColumn Todo.ownerId']);
    expect(plan.destructive).toBe(true);
  });

  it('renames a field declared with renamedFrom (not destructive), rebuilding the indexes over it', () => {
    const next = app(
      user,
      todo((e) => {
        e.fields[2] = f('owner', 'id(User)', { optional: true, renamedFrom: 'ownerId' });
        e.indexes = [{ name: 'by_owner', fields: ['owner'], unique: false }];
      }),
    );
    const plan = diffSchemas(base, next);
    expect(summary(plan)).toEqual(['renameColumn Todo.ownerId->owner', 'dropIndex Todo.by_owner(ownerId)', 'createIndex Todo.by_owner(owner)']);
    expect(plan.destructive).toBe(false);
    expect(describePlan(plan)[0]).toBe('rename column Todo.ownerId to owner (values kept)');
    // Once migrated, renamedFrom is inert: the field exists under its new name.
    expect(diffSchemas(next, next).steps).toEqual([]);
  });

  it('renames and retypes, requires and unique-indexes a renamed field under its new name', () => {
    const next = app(
      user,
      todo((e) => (e.fields[3] = f('memo', 'int', { renamedFrom: 'note', unique: true }))),
    );
    expect(summary(diffSchemas(base, next))).toEqual([
      'renameColumn Todo.note->memo',
      'changeType Todo.memo string->int',
      'requireColumn Todo.memo',
      'createIndex Todo.memo__unique(memo unique)',
    ]);
  });

  it('adds the field when the old name is not in the previous schema either', () => {
    const next = app(
      user,
      todo((e) => e.fields.push(f('extra', 'string', { optional: true, renamedFrom: 'nothing' }))),
    );
    expect(summary(diffSchemas(base, next))).toEqual(['addColumn Todo.extra']);
  });

  it('drops a removed entity last (destructive)', () => {
    const next = app(todo((e) => (e.fields[2] = f('ownerId', 'string', { optional: true }))));
    const plan = diffSchemas(base, next);
    expect(summary(plan)).toEqual(['dropIndex Todo.by_owner(ownerId)', 'changeType Todo.ownerId id->string', 'createIndex Todo.by_owner(ownerId)', 'dropTable User']);
    expect(plan.steps.at(-1)).toEqual({ kind: 'dropTable', entity: 'User' });
    expect(plan.destructive).toBe(true);
  });

  it('changes a type (destructive) and rebuilds the indexes over that column around it', () => {
    const next = app(
      user,
      todo((e) => (e.fields[2] = f('ownerId', 'int', { optional: true }))),
    );
    const plan = diffSchemas(base, next);
    expect(summary(plan)).toEqual(['dropIndex Todo.by_owner(ownerId)', 'changeType Todo.ownerId id->int', 'createIndex Todo.by_owner(ownerId)']);
    const change = plan.steps[1];
    expect(change).toMatchObject({ kind: 'changeType', from: { kind: 'id', target: 'User' }, to: { kind: 'int' } });
    expect(plan.destructive).toBe(true);
  });

  it('only notes a change of id target', () => {
    const team: ManifestEntity = { name: 'Team', fields: [f('name', 'string')], indexes: [] };
    const plan = diffSchemas(
      base,
      app(
        user,
        team,
        todo((e) => (e.fields[2]!.type = 'id(Team)')),
      ),
    );
    expect(summary(plan)).toEqual(['createTable Team', 'noteChange Todo.ownerId: id(User) → id(Team) (stored ids are kept as they are)']);
    expect(plan.destructive).toBe(false);
  });

  it('requires a column that becomes required and notes one that becomes optional', () => {
    const next = app(
      user,
      todo((e) => {
        e.fields[0]!.optional = true;
        e.fields[3]!.optional = false;
      }),
    );
    expect(summary(diffSchemas(base, next))).toEqual(['requireColumn Todo.note', 'noteChange Todo.title: now optional']);
  });

  it('notes crdt, relation and search changes', () => {
    const before = app(
      user,
      todo(
        (e) =>
          (e.relations = [
            { name: 'owner', target: 'User', field: 'ownerId' },
            { name: 'gone', target: 'User', field: 'ownerId' },
          ]),
      ),
    );
    const after = app(
      user,
      todo((e) => {
        e.crdt = false;
        e.fields[0]!.crdt = 'lww';
        e.relations = [
          { name: 'owner', target: 'User', field: 'ownerId', many: false },
          { name: 'added', target: 'User', field: 'ownerId' },
        ];
        e.search = { text: ['title'], facets: [], sortable: [] };
      }),
    );
    const plan = diffSchemas(before, after);
    expect(summary(plan)).toEqual([
      'noteChange Todo.title: crdt default → lww',
      'noteChange Todo: crdt true → false',
      'noteChange Todo: relation owner changed ({"name":"owner","target":"User","field":"ownerId"} → {"name":"owner","target":"User","field":"ownerId","many":false})',
      'noteChange Todo: relation added added (→ User via ownerId)',
      'noteChange Todo: relation gone removed',
      'noteChange Todo: search null → {"text":["title"],"facets":[],"sortable":[]}',
    ]);
    expect(plan.destructive).toBe(false);
  });

  it('creates, drops and rebuilds indexes, including unique fields', () => {
    const before = app(
      user,
      todo((e) => e.indexes.push({ name: 'by_done', fields: ['done'], unique: false }, { name: 'old', fields: ['note'], unique: false })),
    );
    const after = app(
      { ...user, fields: [f('email', 'string')] },
      todo((e) => {
        e.fields[0]!.unique = true;
        e.indexes.push({ name: 'by_done', fields: ['done', 'title'], unique: false }, { name: 'new', fields: ['note'], unique: true });
      }),
    );
    const plan = diffSchemas(before, after);
    expect(summary(plan)).toEqual([
      'dropIndex User.email__unique(email unique)',
      'dropIndex Todo.old(note)',
      'dropIndex Todo.by_done(done)',
      'createIndex Todo.by_done(done,title)',
      'createIndex Todo.new(note unique)',
      'createIndex Todo.title__unique(title unique)',
    ]);
    expect(plan.destructive).toBe(false);
  });

  it('orders steps by phase: creates, index drops, type changes, requirements, index creates, notes, drops', () => {
    const before = app(user, todo(), { name: 'Old', fields: [f('x', 'int')], indexes: [] });
    const after = app(
      user,
      todo((e) => {
        e.fields[1] = f('done', 'int');
        e.fields[3]!.optional = false;
        e.fields.splice(0, 1);
        e.fields.push(f('extra', 'json', { optional: true, crdt: 'list' }));
        e.indexes.push({ name: 'by_done', fields: ['done'], unique: false });
        e.crdt = false;
      }),
      { name: 'New', fields: [f('y', 'int')], indexes: [] },
    );
    const kinds = diffSchemas(before, after).steps.map((s) => s.kind);
    expect(kinds).toEqual(['createTable', 'addColumn', 'changeType', 'requireColumn', 'createIndex', 'noteChange', 'dropColumn', 'dropTable']);
  });
});

describe('diffSchemas against live tables of a database Mast never migrated', () => {
  const live = new Map<string, readonly string[]>([
    ['User', ['id', 'email', 'legacyFlag']],
    ['Todo', ['id', 'title', 'done']],
    ['_pylon_schema_history', ['id', 'applied_at']],
  ]);
  const next = app(user, todo(), { name: 'Tag', fields: [f('label', 'string')], indexes: [] });

  it('keeps existing tables, adds missing columns and tables, creates every index, and drops nothing', () => {
    const plan = diffSchemas(null, next, live);
    expect(summary(plan)).toEqual([
      'createTable Tag',
      'addColumn Todo.ownerId',
      'addColumn Todo.note',
      'createIndex User.email__unique(email unique)',
      'createIndex Todo.by_owner(ownerId)',
      'noteChange User.legacyFlag: column exists but is not in the schema; left in place',
    ]);
    expect(plan.destructive).toBe(false);
  });

  it('renames a live column a renamedFrom field names', () => {
    const renamed = app(
      user,
      todo((e) => (e.fields[0] = f('heading', 'string', { renamedFrom: 'title' }))),
    );
    const plan = diffSchemas(null, renamed, live);
    expect(summary(plan).slice(0, 1)).toEqual(['renameColumn Todo.title->heading']);
    expect(summary(plan).join(' ')).not.toContain('title: column exists');
  });

  it('asks for a missing required column to be filled', () => {
    const withRank = app(
      user,
      todo((e) => e.fields.push(f('rank', 'int'))),
    );
    expect(summary(diffSchemas(null, withRank, live))).toContain('requireColumn Todo.rank');
  });

  it('is ignored once a recorded schema exists', () => {
    expect(diffSchemas(next, next, live).steps).toEqual([]);
  });
});

describe('describePlan', () => {
  it('writes one line per step and marks the destructive ones', () => {
    const before = app(user, todo(), { name: 'Old', fields: [f('x', 'int')], indexes: [] });
    const after = app(
      user,
      todo((e) => {
        e.fields[1] = f('done', 'int');
        e.fields[0]!.unique = true;
        e.fields.splice(3, 1);
        e.fields.push(f('rank', 'int', { optional: true }));
      }),
      { name: 'New', fields: [f('y', 'string', { optional: true, crdt: 'text' })], indexes: [] },
    );
    expect(describePlan(diffSchemas(before, after))).toEqual([
      'create table New (id, y string (optional, crdt text))',
      'add column Todo.rank int (optional)',
      'DESTRUCTIVE change type of Todo.done from bool to int (values that do not convert are lost)',
      'create unique index Todo__title__unique on Todo (title)',
      'DESTRUCTIVE drop column Todo.note (its values are lost)',
      'DESTRUCTIVE drop table Old (all its rows are lost)',
    ]);
  });

  it('describes requirements, index drops and notes', () => {
    const after = app(
      user,
      todo((e) => {
        e.fields[3]!.optional = false;
        e.indexes = [];
        e.crdt = false;
      }),
    );
    expect(describePlan(diffSchemas(base, after))).toEqual([
      'drop index Todo__by_owner on Todo',
      'require Todo.note (refused while any row has no value for it)',
      'note Todo: crdt true → false',
    ]);
  });
});
