import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { compileManifest } from './compile-manifest.js';
import { action, defineSchema, entity, policy, query, route } from './define-schema.js';
import { field, type JsonValue } from './field-builder.js';
import type { Manifest } from './manifest-types.js';
import type { InferEntityRow, InferRow, Row } from './row-types.js';
import anchorDsl from './fixtures/dsl-app/schema.js';

type Point = { x: number; y: number };

const User = entity('User', {
  email: field.string().unique(),
  name: field.string().optional(),
});

const Todo = entity(
  'Todo',
  {
    title: field.string().crdt('text'),
    done: field.boolean(),
    note: field.richtext().optional(),
    priority: field.int(),
    score: field.number().optional(),
    likes: field.int().crdt('counter'),
    due: field.datetime().optional().renamedFrom('dueAt'),
    ownerId: field.id('User'),
    position: field.json<Point>(),
    extra: field.json().optional(),
  },
  {
    indexes: [{ name: 'by_owner', fields: ['ownerId', 'done'] }],
    relations: [{ name: 'owner', target: 'User', field: 'ownerId' }],
    search: { text: ['title'], facets: ['done'] },
    crdt: true,
  },
);

const schema = defineSchema({
  name: 'todos',
  version: '2.0.0',
  entities: [User, Todo],
  routes: [route({ path: '/todos/:ownerId', mode: 'live', query: 'todosByOwner', auth: 'user' })],
  queries: [query('todosByOwner', { input: [{ name: 'ownerId', type: 'id(User)' }] }), query('all')],
  actions: [
    action('addTodo', {
      input: [
        { name: 'title', type: 'string' },
        { name: 'note', type: 'string', optional: true },
      ],
    }),
  ],
  policies: [policy({ entity: 'Todo', name: 'todo_owner', allowRead: 'auth.userId == data.ownerId', allowWrite: '', allow: 'false' })],
  auth: { user: { expose: ['email'] }, session: { expiresIn: 3600, cookieCache: { maxAge: 60 } }, trustedOrigins: ['https://app.example'] },
});

/** What Pylon's SDK emits for the same declarations (plus the Mast-only json type and entity crdt). */
const expected: Manifest = {
  manifest_version: 1,
  name: 'todos',
  version: '2.0.0',
  entities: [
    {
      name: 'User',
      fields: [
        { name: 'email', type: 'string', optional: false, unique: true },
        { name: 'name', type: 'string', optional: true, unique: false },
      ],
      indexes: [],
    },
    {
      name: 'Todo',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false, crdt: 'text' },
        { name: 'done', type: 'bool', optional: false, unique: false },
        { name: 'note', type: 'richtext', optional: true, unique: false },
        { name: 'priority', type: 'int', optional: false, unique: false },
        { name: 'score', type: 'float', optional: true, unique: false },
        { name: 'likes', type: 'int', optional: false, unique: false, crdt: 'counter' },
        { name: 'due', type: 'datetime', optional: true, unique: false, renamedFrom: 'dueAt' },
        { name: 'ownerId', type: 'id(User)', optional: false, unique: false },
        { name: 'position', type: 'json', optional: false, unique: false },
        { name: 'extra', type: 'json', optional: true, unique: false },
      ],
      indexes: [{ name: 'by_owner', fields: ['ownerId', 'done'], unique: false }],
      relations: [{ name: 'owner', target: 'User', field: 'ownerId' }],
      search: { text: ['title'], facets: ['done'], sortable: [] },
      crdt: true,
    },
  ],
  routes: [{ path: '/todos/:ownerId', mode: 'live', query: 'todosByOwner', auth: 'user' }],
  queries: [{ name: 'todosByOwner', input: [{ name: 'ownerId', type: 'id(User)', optional: false, unique: false }] }, { name: 'all' }],
  actions: [
    {
      name: 'addTodo',
      input: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'note', type: 'string', optional: true, unique: false },
      ],
    },
  ],
  policies: [{ name: 'todo_owner', allow: 'false', allowRead: 'auth.userId == data.ownerId', entity: 'Todo' }],
  auth: {
    user: { entity: 'User', expose: ['email'], hide: [] },
    session: { expires_in: 3600, cookie_cache: { enabled: false, max_age: 60, claims: ['is_admin', 'tenant_id'] } },
    trusted_origins: ['https://app.example'],
  },
};

describe('defineSchema', () => {
  it('emits the manifest Pylon’s SDK would, key order included', () => {
    expect(schema.manifest).toStrictEqual(expected);
    expect(JSON.stringify(schema.manifest)).toBe(JSON.stringify(expected));
  });

  it('produces a manifest that compiles', () => {
    const app = compileManifest(schema.manifest);
    expect(app.entitiesByName.get('Todo')?.fieldsByName.get('position')?.kind).toBe('json');
  });

  it('leaves out relations, search and crdt when not declared, and fills auth defaults', () => {
    const minimal = defineSchema({ name: 'm', version: '1', entities: [entity('A', { x: field.int() }, { search: { text: [] }, relations: [] })] });
    expect(minimal.manifest).toStrictEqual({
      manifest_version: 1,
      name: 'm',
      version: '1',
      entities: [{ name: 'A', fields: [{ name: 'x', type: 'int', optional: false, unique: false }], indexes: [] }],
      routes: [],
      queries: [],
      actions: [],
      policies: [],
      auth: {
        user: { entity: 'User', expose: [], hide: [] },
        session: { expires_in: 2_592_000, cookie_cache: { enabled: false, max_age: 300, claims: ['is_admin', 'tenant_id'] } },
        trusted_origins: [],
      },
    });
  });

  it('builds the Pylon anchor app to the same schema as its JSON manifest', () => {
    const json = JSON.parse(readFileSync(new URL('./fixtures/pylon.manifest.json', import.meta.url), 'utf8')) as unknown;
    const fromJson = compileManifest(json);
    const fromDsl = compileManifest(anchorDsl.manifest);
    expect(fromDsl.entities).toStrictEqual(fromJson.entities);
    expect(fromDsl.manifest.policies).toStrictEqual(fromJson.manifest.policies);
  });
});

describe('policy', () => {
  it('declares a room rule with room and allowJoin, and the manifest keeps them', () => {
    const rule = policy({ name: 'channel_rooms', room: 'channel:{id}', allowJoin: 'auth.userId != null' });
    expect(rule).toEqual({ name: 'channel_rooms', allowJoin: 'auth.userId != null', room: 'channel:{id}' });
    const rooms = defineSchema({ name: 'rooms', version: '1', entities: [entity('Note', { title: field.string() })], policies: [rule] });
    expect(compileManifest(rooms.manifest).manifest.policies).toEqual([rule]);
  });
});

describe('field builders', () => {
  it('are immutable: modifiers return new builders', () => {
    const base = field.string();
    const optional = base.optional();
    const unique = optional.unique();
    expect(base.definition).toEqual({ type: 'string', optional: false, unique: false });
    expect(optional.definition).toEqual({ type: 'string', optional: true, unique: false });
    expect(unique.definition).toEqual({ type: 'string', optional: true, unique: true });
    expect(Object.isFrozen(base)).toBe(true);
    expect(Object.isFrozen(base.definition)).toBe(true);
  });

  it('emit Pylon’s type names, aliases included', () => {
    const types = [
      field.string(),
      field.int(),
      field.float(),
      field.number(),
      field.bool(),
      field.boolean(),
      field.datetime(),
      field.richtext(),
      field.json(),
      field.id('User'),
    ].map((b) => b.definition.type);
    expect(types).toEqual(['string', 'int', 'float', 'float', 'bool', 'bool', 'datetime', 'richtext', 'json', 'id(User)']);
  });
});

describe('row types', () => {
  it('infers rows from the schema', () => {
    type TodoRow = {
      id: string;
      title: string;
      done: boolean;
      note?: string | null;
      priority: number;
      score?: number | null;
      likes: number;
      due?: string | null;
      ownerId: string;
      position: Point;
      extra?: JsonValue | null;
    };
    expectTypeOf<InferRow<typeof schema, 'Todo'>>().toEqualTypeOf<TodoRow>();
    expectTypeOf<Row<typeof schema, 'Todo'>>().toEqualTypeOf<TodoRow>();
    expectTypeOf<InferEntityRow<typeof User>>().toEqualTypeOf<{ id: string; email: string; name?: string | null }>();
    expectTypeOf<InferRow<typeof anchorDsl, 'Todo'>>().toEqualTypeOf<{ id: string; title: string; done: boolean }>();

    // @ts-expect-error: not an entity of the schema
    expectTypeOf<InferRow<typeof schema, 'Nope'>>().toBeObject();
    // A row without a required field is not a row.
    expectTypeOf<{ id: string; title: string }>().not.toMatchTypeOf<InferRow<typeof anchorDsl, 'Todo'>>();
  });

  it('offers only the crdt annotations a type accepts', () => {
    expect(field.float().crdt('counter').definition.crdt).toBe('counter');
    expect(field.json().crdt('movable-list').definition.crdt).toBe('movable-list');
    // @ts-expect-error: counter does not apply to bool
    field.bool().crdt('counter');
    // @ts-expect-error: text does not apply to int
    field.int().crdt('text');
    // @ts-expect-error: index fields must be declared fields
    entity('X', { a: field.int() }, { indexes: [{ name: 'i', fields: ['b'] }] });
  });
});
