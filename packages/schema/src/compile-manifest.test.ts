import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileManifest } from './compile-manifest.js';
import { manifestCodes, type ManifestCode } from './manifest-codes.js';
import { ManifestError, type Diagnostic } from './manifest-error.js';
import { validateManifest } from './validate-manifest.js';
import { sampleManifest, todoOf, type LooseManifest } from './fixtures/sample-manifest.js';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
}

function compileError(raw: unknown): ManifestError {
  try {
    compileManifest(raw, 'test.json');
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error('expected compileManifest to throw');
}

interface InvalidCase {
  readonly name: string;
  /** Either a change to a fresh sample manifest or a whole raw value. */
  readonly change: ((m: LooseManifest) => void) | { raw: unknown };
  readonly code: ManifestCode;
  /** Strings the diagnostic's message must contain (entity, field, index, ... names). */
  readonly mentions: readonly string[];
  /** Other error codes the same change legitimately causes. */
  readonly also?: readonly ManifestCode[];
}

const field = (name: string, type = 'string', extra: Record<string, unknown> = {}) => ({
  name,
  type,
  optional: true,
  unique: false,
  ...extra,
});

const invalid: readonly InvalidCase[] = [
  { name: 'wrong JSON type', change: (m) => (todoOf(m).fields[0]!['type'] = 5), code: 'MANIFEST_PARSE_ERROR', mentions: ['Todo', 'title', 'type', 'expected string'] },
  { name: 'missing entities', change: (m) => delete (m as Record<string, unknown>)['entities'], code: 'MANIFEST_PARSE_ERROR', mentions: ['entities', 'missing'] },
  { name: 'renamedFrom a current field', change: (m) => (todoOf(m).fields[0]!['renamedFrom'] = 'done'), code: 'FIELD_RENAME_INVALID', mentions: ['Todo.title', '"done"'] },
  {
    name: 'renamedFrom not an identifier',
    change: (m) => (todoOf(m).fields[0]!['renamedFrom'] = 'old name'),
    code: 'FIELD_RENAME_INVALID',
    mentions: ['Todo.title', 'identifier'],
  },
  {
    name: 'renamedFrom twice',
    change: (m) => {
      todoOf(m).fields[0]!['renamedFrom'] = 'old';
      todoOf(m).fields[1]!['renamedFrom'] = 'old';
    },
    code: 'FIELD_RENAME_INVALID',
    mentions: ['renamed from "old" already'],
  },
  { name: 'unknown crdt kind', change: (m) => (todoOf(m).fields[0]!['crdt'] = 'blob'), code: 'MANIFEST_PARSE_ERROR', mentions: ['Todo', 'title', 'crdt'] },
  { name: 'null for a defaulted list', change: (m) => ((todoOf(m) as Record<string, unknown>)['relations'] = null), code: 'MANIFEST_PARSE_ERROR', mentions: ['Todo', 'relations'] },
  { name: 'not an object', change: { raw: 'hello' }, code: 'MANIFEST_PARSE_ERROR', mentions: ['top level', 'expected object'] },
  { name: 'version 2', change: (m) => (m['manifest_version'] = 2), code: 'MANIFEST_VERSION_UNSUPPORTED', mentions: ['manifest_version 2'] },
  { name: 'no entities', change: { raw: { manifest_version: 1, name: 'a', version: '1', entities: [], routes: [] } }, code: 'SCHEMA_EMPTY', mentions: ['no entities'] },
  { name: 'unnamed entity', change: (m) => m.entities.push({ name: '', fields: [field('x')], indexes: [] }), code: 'ENTITY_NAME_EMPTY', mentions: ['entities[2]'] },
  { name: 'entity twice', change: (m) => m.entities.push({ name: 'User', fields: [field('x')], indexes: [] }), code: 'ENTITY_DUPLICATE', mentions: ['User', 'entities[0]'] },
  {
    name: 'entity differing in case',
    change: (m) => m.entities.push({ name: 'user', fields: [field('x')], indexes: [] }),
    code: 'ENTITY_DUPLICATE',
    mentions: ['user', 'User', 'case'],
  },
  { name: 'entity name not an identifier', change: (m) => m.entities.push({ name: 'to-do', fields: [field('x')], indexes: [] }), code: 'NAME_INVALID', mentions: ['to-do'] },
  {
    name: 'entity name reserved',
    change: (m) => m.entities.push({ name: '_mastChanges', fields: [field('x')], indexes: [] }),
    code: 'NAME_INVALID',
    mentions: ['_mastChanges', '_mast'],
  },
  { name: 'field name not an identifier', change: (m) => todoOf(m).fields.push(field('due date')), code: 'NAME_INVALID', mentions: ['Todo', 'due date'] },
  { name: 'unnamed field', change: (m) => todoOf(m).fields.push(field('')), code: 'FIELD_NAME_EMPTY', mentions: ['Todo', 'fields[5]'] },
  { name: 'field named id', change: (m) => todoOf(m).fields.push(field('id')), code: 'FIELD_NAME_RESERVED', mentions: ['Todo', 'id'] },
  { name: 'field named ID', change: (m) => todoOf(m).fields.push(field('ID')), code: 'FIELD_NAME_RESERVED', mentions: ['Todo', 'ID'] },
  { name: 'field twice', change: (m) => todoOf(m).fields.push(field('title')), code: 'FIELD_DUPLICATE', mentions: ['Todo', 'title', 'fields[0]'] },
  { name: 'field differing in case', change: (m) => todoOf(m).fields.push(field('Title')), code: 'FIELD_DUPLICATE', mentions: ['Todo', 'Title', 'case'] },
  { name: 'unknown type', change: (m) => (todoOf(m).fields[0]!['type'] = 'strng'), code: 'FIELD_TYPE_UNKNOWN', mentions: ['Todo.title', 'strng'] },
  { name: 'id without target', change: (m) => (todoOf(m).fields[2]!['type'] = 'id()'), code: 'FIELD_TYPE_UNKNOWN', mentions: ['Todo.ownerId', 'id()'] },
  { name: 'id target missing', change: (m) => (todoOf(m).fields[2]!['type'] = 'id(Usr)'), code: 'FIELD_ID_TARGET_NOT_FOUND', mentions: ['Todo.ownerId', 'Usr'] },
  {
    name: 'input id target missing',
    change: (m) => (m.queries[0]!.input![0]!['type'] = 'id(Usr)'),
    code: 'FIELD_ID_TARGET_NOT_FOUND',
    mentions: ['todosByOwner', 'ownerId', 'Usr'],
  },
  { name: 'counter on bool', change: (m) => (todoOf(m).fields[1]!['crdt'] = 'counter'), code: 'CRDT_KIND_INVALID', mentions: ['Todo.done', 'counter', 'bool'] },
  { name: 'text on int', change: (m) => (todoOf(m).fields[4]!['crdt'] = 'text'), code: 'CRDT_KIND_INVALID', mentions: ['Todo.likes', 'text', 'int'] },
  { name: 'list on string', change: (m) => (todoOf(m).fields[0]!['crdt'] = 'list'), code: 'CRDT_KIND_INVALID', mentions: ['Todo.title', 'list', 'string'] },
  { name: 'unnamed index', change: (m) => todoOf(m).indexes.push({ name: '', fields: ['title'], unique: false }), code: 'INDEX_NAME_EMPTY', mentions: ['Todo', 'indexes[1]'] },
  {
    name: 'index twice',
    change: (m) => todoOf(m).indexes.push({ name: 'by_owner', fields: ['title'], unique: false }),
    code: 'INDEX_NAME_DUPLICATE',
    mentions: ['Todo', 'by_owner'],
  },
  {
    name: 'index named like a unique field index',
    change: (m) => {
      todoOf(m).fields[0]!['unique'] = true;
      todoOf(m).indexes.push({ name: 'title__unique', fields: ['done'], unique: false });
    },
    code: 'INDEX_NAME_DUPLICATE',
    mentions: ['Todo', 'title', 'Todo__title__unique'],
  },
  {
    name: 'table index names colliding across entities',
    change: (m) => {
      todoOf(m).indexes.push({ name: 'x__y', fields: ['done'], unique: false });
      m.entities.push({ name: 'Todo__x', fields: [field('z')], indexes: [{ name: 'y', fields: ['z'], unique: false }] });
    },
    code: 'INDEX_NAME_DUPLICATE',
    mentions: ['Todo__x', 'Todo__x__y', 'Todo index x__y'],
  },
  { name: 'index without fields', change: (m) => todoOf(m).indexes.push({ name: 'empty', fields: [], unique: false }), code: 'INDEX_FIELDS_EMPTY', mentions: ['Todo', 'empty'] },
  {
    name: 'index on unknown field',
    change: (m) => todoOf(m).indexes.push({ name: 'by_x', fields: ['ownr'], unique: false }),
    code: 'INDEX_FIELD_NOT_FOUND',
    mentions: ['Todo', 'by_x', 'ownr'],
  },
  {
    name: 'index on id',
    change: (m) => todoOf(m).indexes.push({ name: 'by_id', fields: ['id'], unique: false }),
    code: 'INDEX_FIELD_NOT_FOUND',
    mentions: ['Todo', 'by_id', '"id"'],
  },
  { name: 'relation to unknown entity', change: (m) => (todoOf(m).relations![0]!['target'] = 'Usr'), code: 'RELATION_TARGET_NOT_FOUND', mentions: ['Todo', 'owner', 'Usr'] },
  { name: 'relation on unknown field', change: (m) => (todoOf(m).relations![0]!['field'] = 'owner_id'), code: 'RELATION_FIELD_NOT_FOUND', mentions: ['Todo', 'owner', 'owner_id'] },
  {
    name: 'many relation on a field the target lacks',
    change: (m) => (m.entities[0]!.relations = [{ name: 'todos', target: 'Todo', field: 'authorId', many: true }]),
    code: 'RELATION_FIELD_NOT_FOUND',
    mentions: ['User', 'todos', 'authorId', 'Todo'],
  },
  {
    name: 'search on unknown field',
    change: (m) => (todoOf(m)['search'] = { text: ['title', 'body'] }),
    code: 'SEARCH_FIELD_NOT_FOUND',
    mentions: ['Todo', 'search.text', 'body'],
  },
  { name: 'unnamed query', change: (m) => m.queries.push({ name: '' }), code: 'QUERY_NAME_EMPTY', mentions: ['queries[1]'] },
  { name: 'query twice', change: (m) => m.queries.push({ name: 'todosByOwner' }), code: 'QUERY_DUPLICATE', mentions: ['todosByOwner'] },
  {
    name: 'query twice after a case variant',
    change: (m) => m.queries.push({ name: 'TodosByOwner' }, { name: 'TodosByOwner' }),
    code: 'QUERY_DUPLICATE',
    mentions: ['TodosByOwner', 'queries[1]'],
  },
  { name: 'unnamed action', change: (m) => m.actions.push({ name: '' }), code: 'ACTION_NAME_EMPTY', mentions: ['actions[1]'] },
  { name: 'action twice', change: (m) => m.actions.push({ name: 'addTodo' }), code: 'ACTION_DUPLICATE', mentions: ['addTodo'] },
  { name: 'unnamed input', change: (m) => m.actions[0]!.input!.push(field('')), code: 'INPUT_FIELD_NAME_EMPTY', mentions: ['addTodo', 'input[1]'] },
  { name: 'input twice', change: (m) => m.actions[0]!.input!.push(field('title')), code: 'INPUT_FIELD_DUPLICATE', mentions: ['addTodo', 'title'] },
  { name: 'input of unknown type', change: (m) => (m.actions[0]!.input![0]!['type'] = 'text'), code: 'INPUT_FIELD_TYPE_UNKNOWN', mentions: ['addTodo', 'title', '"text"'] },
  { name: 'unnamed policy', change: (m) => m.policies.push({ name: '', entity: 'Todo', allow: 'true' }), code: 'POLICY_NAME_EMPTY', mentions: ['policies[2]'] },
  { name: 'policy twice', change: (m) => m.policies.push({ name: 'todo_owner', entity: 'Todo', allow: 'true' }), code: 'POLICY_DUPLICATE', mentions: ['todo_owner'] },
  {
    name: 'policy without expression',
    change: (m) => m.policies.push({ name: 'p', entity: 'Todo', allow: '', allowRead: null }),
    code: 'POLICY_ALLOW_EMPTY',
    mentions: ['policy p'],
  },
  { name: 'policy without target', change: (m) => m.policies.push({ name: 'p', allow: 'true' }), code: 'POLICY_NO_TARGET', mentions: ['policy p'] },
  {
    name: 'policy on unknown entity',
    change: (m) => m.policies.push({ name: 'p', entity: 'Todos', allow: 'true' }),
    code: 'POLICY_ENTITY_NOT_FOUND',
    mentions: ['policy p', 'Todos'],
  },
  { name: 'policy on unknown action', change: (m) => m.policies.push({ name: 'p', action: 'add', allow: 'true' }), code: 'POLICY_ACTION_NOT_FOUND', mentions: ['policy p', 'add'] },
  {
    name: 'room pattern unclosed',
    change: (m) => m.policies.push({ name: 'p', room: 'channel:{id', allowJoin: 'true' }),
    code: 'POLICY_ROOM_INVALID',
    mentions: ['policy p', 'not closed'],
  },
  { name: 'room pattern bad name', change: (m) => m.policies.push({ name: 'p', room: 'channel:{1d}', allowJoin: 'true' }), code: 'POLICY_ROOM_INVALID', mentions: ['{1d}'] },
  { name: 'room pattern repeats', change: (m) => m.policies.push({ name: 'p', room: 'x:{id}:{id}', allowJoin: 'true' }), code: 'POLICY_ROOM_INVALID', mentions: ['twice'] },
  { name: 'room pattern adjacent', change: (m) => m.policies.push({ name: 'p', room: 'x:{a}{b}', allowJoin: 'true' }), code: 'POLICY_ROOM_INVALID', mentions: ['nothing between'] },
  {
    name: 'room pattern stray brace',
    change: (m) => m.policies.push({ name: 'p', room: 'x}', allowJoin: 'true' }),
    code: 'POLICY_ROOM_INVALID',
    mentions: ['closes no placeholder'],
  },
  { name: 'room pattern empty', change: (m) => m.policies.push({ name: 'p', room: '', allowJoin: 'true' }), code: 'POLICY_ROOM_INVALID', mentions: ['empty'] },
  {
    name: 'room and entity',
    change: (m) => m.policies.push({ name: 'p', room: 'x:{id}', entity: 'Todo', allowJoin: 'true' }),
    code: 'POLICY_ROOM_INVALID',
    mentions: ['no entity'],
  },
  {
    name: 'room with allowRead',
    change: (m) => m.policies.push({ name: 'p', room: 'x:{id}', allowRead: 'true', allowJoin: 'true' }),
    code: 'POLICY_ROOM_INVALID',
    mentions: ['allowRead'],
  },
  { name: 'room without allowJoin', change: (m) => m.policies.push({ name: 'p', room: 'x:{id}' }), code: 'POLICY_ALLOW_EMPTY', mentions: ['allowJoin'] },
  {
    name: 'allowJoin without room',
    change: (m) => m.policies.push({ name: 'p', entity: 'Todo', allowRead: 'true', allowJoin: 'true' }),
    code: 'POLICY_ROOM_INVALID',
    mentions: ['names no room'],
  },
  { name: 'route without path', change: (m) => m.routes.push({ path: '', mode: 'static' }), code: 'ROUTE_PATH_EMPTY', mentions: ['routes[1]'] },
  { name: 'route without slash', change: (m) => m.routes.push({ path: 'about', mode: 'static' }), code: 'ROUTE_PATH_NO_SLASH', mentions: ['about'] },
  { name: 'route twice', change: (m) => m.routes.push({ path: '/todos/:ownerId', mode: 'server' }), code: 'ROUTE_PATH_DUPLICATE', mentions: ['/todos/:ownerId'] },
  { name: 'route on unknown query', change: (m) => m.routes.push({ path: '/x', mode: 'live', query: 'nope' }), code: 'ROUTE_QUERY_NOT_FOUND', mentions: ['/x', 'nope'] },
  {
    name: 'route param not an input',
    change: (m) => m.routes.push({ path: '/t/:ownerId/:day', mode: 'live', query: 'todosByOwner' }),
    code: 'ROUTE_PARAM_NOT_IN_QUERY',
    mentions: [':day', 'todosByOwner'],
  },
  { name: 'route auth', change: (m) => m.routes.push({ path: '/x', mode: 'live', auth: 'admin' }), code: 'ROUTE_AUTH_INVALID', mentions: ['/x', 'admin'] },
  { name: 'route mode', change: (m) => m.routes.push({ path: '/x', mode: 'ssr' }), code: 'ROUTE_MODE_INVALID', mentions: ['/x', 'ssr'] },
];

/** Codes exercised by other test files (loading from disk) or by the warning test below. */
const coveredElsewhere: readonly ManifestCode[] = ['MANIFEST_NOT_FOUND', 'MANIFEST_AMBIGUOUS', 'MANIFEST_READ_FAILED', 'CRDT_ANNOTATION_IGNORED'];

function errorCodes(diagnostics: readonly Diagnostic[]): string[] {
  return [...new Set(diagnostics.filter((d) => d.severity === 'error').map((d) => d.code))].sort();
}

describe('compileManifest rejects invalid manifests', () => {
  it('starts from a sample that is valid', () => {
    expect(validateManifest(sampleManifest()).diagnostics).toEqual([]);
  });

  it.each(invalid)('$code: $name', ({ change, code, mentions, also = [] }) => {
    let raw: unknown;
    if (typeof change === 'function') {
      const m = sampleManifest();
      change(m);
      raw = m;
    } else {
      raw = change.raw;
    }
    const error = compileError(raw);
    expect(errorCodes(error.diagnostics)).toEqual([code, ...also].sort());
    const found = error.diagnostics.find((d) => d.code === code)!;
    for (const text of mentions) expect(found.message).toContain(text);
    expect(error.message).toContain(`error[${code}] ${found.message}`);
    expect(error.message).toContain('test.json');
  });

  it('covers every catalogued code', () => {
    const tested = new Set<string>([...invalid.map((c) => c.code), ...coveredElsewhere]);
    expect(Object.keys(manifestCodes).filter((code) => !tested.has(code))).toEqual([]);
  });

  it('words an unknown type as documented', () => {
    const m = sampleManifest();
    todoOf(m).fields[0]!['type'] = 'strng';
    expect(compileError(m).message).toContain(
      'error[FIELD_TYPE_UNKNOWN] Todo.title: unknown type "strng" (did you mean string?) (expected string, int, float, bool, datetime, richtext, json or id(Entity))\n  at entities[1] Todo.fields[0] title',
    );
  });

  it('locates shape errors with the zod path and the names along it', () => {
    const m = sampleManifest();
    todoOf(m).fields[3]!['optional'] = 'yes';
    const [d] = compileError(m).diagnostics;
    expect(d).toMatchObject({ code: 'MANIFEST_PARSE_ERROR', path: 'entities[1] Todo.fields[3] tags.optional' });
    expect(d!.message).toMatch(/^Invalid manifest JSON: /);
  });

  it('collects every problem instead of stopping at the first', () => {
    const m = sampleManifest();
    todoOf(m).fields[0]!['type'] = 'strng';
    todoOf(m).fields[1]!['crdt'] = 'counter';
    m.policies.push({ name: 'p', entity: 'Nope', allow: 'true' });
    m.routes.push({ path: 'x', mode: 'live' });
    const error = compileError(m);
    expect(errorCodes(error.diagnostics)).toEqual(['CRDT_KIND_INVALID', 'FIELD_TYPE_UNKNOWN', 'POLICY_ENTITY_NOT_FOUND', 'ROUTE_PATH_NO_SLASH']);
    expect(error.message.split('\n')[0]).toBe('Invalid manifest test.json: 4 errors');
    expect(error.message.match(/^error\[/gm)).toHaveLength(4);
  });

  it('reports crdt annotations on crdt:false entities as a warning only', () => {
    const m = sampleManifest();
    todoOf(m)['crdt'] = false;
    const { manifest, diagnostics } = validateManifest(m);
    expect(diagnostics.map((d) => [d.severity, d.code])).toEqual([
      ['warning', 'CRDT_ANNOTATION_IGNORED'],
      ['warning', 'CRDT_ANNOTATION_IGNORED'],
    ]);
    expect(manifest).not.toBeNull();
    expect(compileManifest(m).entitiesByName.get('Todo')?.crdt).toBe(false);
  });
});

describe('did-you-mean hints', () => {
  const cases: { name: string; change: (m: LooseManifest) => void; hint: string }[] = [
    { name: 'a misspelled type', change: (m) => (todoOf(m).fields[0]!['type'] = 'strnig'), hint: 'unknown type "strnig" (did you mean string?)' },
    { name: 'a type from another language', change: (m) => (todoOf(m).fields[0]!['type'] = 'boolean'), hint: '(did you mean bool?)' },
    { name: 'an entity name used as a type', change: (m) => (todoOf(m).fields[0]!['type'] = 'User'), hint: '(did you mean id(User)?)' },
    { name: 'a reference written the wrong way', change: (m) => (todoOf(m).fields[0]!['type'] = 'ref(User)'), hint: '(did you mean id(User)?)' },
    { name: 'a misspelled id target', change: (m) => (todoOf(m).fields[0]!['type'] = 'id(Usr)'), hint: 'which is not a declared entity (did you mean User?)' },
    {
      name: 'a misspelled index field',
      change: (m) => todoOf(m).indexes.push({ name: 'by_t', fields: ['titel'] }),
      hint: 'field "titel" is not a declared field of Todo (did you mean title?)',
    },
    {
      name: 'a misspelled policy entity',
      change: (m) => m.policies.push({ name: 'p', entity: 'Todos', allow: 'true' }),
      hint: 'entity "Todos" is not a declared entity (did you mean Todo?)',
    },
  ];
  it.each(cases)('suggests the right name for $name', ({ change, hint }) => {
    const m = sampleManifest();
    change(m);
    expect(compileError(m).message).toContain(hint);
  });

  it('suggests nothing for a name far from every candidate', () => {
    const m = sampleManifest();
    todoOf(m).fields[0]!['type'] = 'quaternion';
    expect(compileError(m).message).not.toContain('did you mean');
  });
});

describe('keys a hand-written manifest may leave out', () => {
  it('defaults optional and unique to false, indexes and routes to [] (and an index unique to false)', () => {
    const raw = {
      manifest_version: 1,
      name: 'chat',
      version: '1',
      entities: [
        { name: 'Room', fields: [{ name: 'title', type: 'string' }] },
        {
          name: 'Message',
          fields: [
            { name: 'room', type: 'id(Room)' },
            { name: 'body', type: 'string', optional: true },
          ],
          indexes: [{ name: 'by_room', fields: ['room'] }],
        },
      ],
    };
    const { manifest, diagnostics } = validateManifest(raw);
    expect(diagnostics).toEqual([]);
    expect(manifest?.routes).toEqual([]);
    expect(manifest?.entities[0]).toEqual({ name: 'Room', fields: [{ name: 'title', type: 'string', optional: false, unique: false }], indexes: [] });
    expect(manifest?.entities[1]?.fields[1]).toEqual({ name: 'body', type: 'string', optional: true, unique: false });
    expect(manifest?.entities[1]?.indexes).toEqual([{ name: 'by_room', fields: ['room'], unique: false }]);
  });

  it('reports the real mistakes of a terse manifest, not missing keys', () => {
    const raw = {
      manifest_version: 1,
      name: 'chat',
      version: '1',
      entities: [
        {
          name: 'Message',
          fields: [
            { name: 'body', type: 'strng' },
            { name: 'room', type: 'id(Rooms)' },
          ],
        },
        { name: 'Room', fields: [{ name: 'title', type: 'string' }] },
      ],
    };
    const error = compileError(raw);
    expect(errorCodes(error.diagnostics)).toEqual(['FIELD_ID_TARGET_NOT_FOUND', 'FIELD_TYPE_UNKNOWN']);
    expect(error.message).not.toContain('missing');
  });

  it('lists a wrong value before a missing key', () => {
    const raw = { manifest_version: 1, name: 'chat', version: '1', entities: [{ name: 'Room', fields: [{ name: 'title' }, { name: 'n', type: 'int', unique: 'yes' }] }] };
    const messages = compileError(raw).diagnostics.map((d) => d.message);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toContain('fields[1] n.unique');
    expect(messages[1]).toContain('fields[0] title.type: required key is missing');
  });

  it('still refuses null for a defaulted key', () => {
    const raw = { manifest_version: 1, name: 'chat', version: '1', entities: [{ name: 'Room', fields: [{ name: 'title', type: 'string', optional: null }] }] };
    expect(compileError(raw).diagnostics[0]?.message).toContain('Room.fields[0] title.optional');
  });
});

describe('compileManifest accepts what Pylon accepts', () => {
  it('loads the Pylon anchor manifests', () => {
    const app = compileManifest(fixture('pylon.manifest.json'));
    expect(app.entities.map((e) => e.name)).toEqual(['User', 'Todo', 'Message']);
    expect(app.entitiesByName.get('User')?.fieldsByName.get('email')).toEqual({ name: 'email', kind: 'string', optional: false, unique: true });
    expect(app.entitiesByName.get('Message')?.indexes).toEqual([{ name: 'by_room', fields: ['room'], unique: false }]);
    expect(app.entitiesByName.get('Todo')?.crdt).toBe(true);
    expect(app.manifest.policies?.map((p) => p.name)).toEqual(['user_self', 'todo_public', 'message_authed']);

    const crdt = compileManifest(fixture('crdt.manifest.json'));
    expect(crdt.entitiesByName.get('Doc')?.fieldsByName.get('body')?.kind).toBe('richtext');
  });

  it('ignores and drops unknown keys, and treats null as absent where Pylon has an Option', () => {
    const m = sampleManifest();
    m['extra'] = { anything: true };
    todoOf(m)['fields'][0]!['serverOnly'] = true;
    todoOf(m).fields[0]!['crdt'] = null;
    todoOf(m)['search'] = null;
    m.routes[0]!['auth'] = null;
    m.policies[0]!['allowWrite'] = null;
    const app = compileManifest(m);
    expect(app.manifest).not.toHaveProperty('extra');
    const todo = app.manifest.entities[1]!;
    expect(todo.fields[0]).toEqual({ name: 'title', type: 'string', optional: false, unique: false });
    expect(todo).not.toHaveProperty('search');
    expect(app.manifest.routes[0]).toEqual({ path: '/todos/:ownerId', mode: 'live', query: 'todosByOwner' });
    expect(app.manifest.policies?.[0]).toEqual({ name: 'todo_owner', entity: 'Todo', allowRead: 'auth.userId == data.ownerId' });
  });

  it('accepts the json type, entity crdt, a many relation matched on a target field, and queries/actions/policies/auth left out', () => {
    const raw = {
      manifest_version: 1,
      name: 'a',
      version: '1',
      entities: [
        { name: 'User', fields: [], indexes: [], relations: [{ name: 'todos', target: 'Todo', field: 'ownerId', many: true }] },
        {
          name: 'Todo',
          crdt: false,
          fields: [field('ownerId', 'id(User)'), field('meta', 'json'), field('tree', 'json', { crdt: 'tree' })],
          indexes: [],
        },
      ],
      routes: [],
    };
    const app = compileManifest(raw);
    expect(app.entitiesByName.get('Todo')?.fieldsByName.get('meta')?.kind).toBe('json');
    expect(app.entitiesByName.get('Todo')?.crdt).toBe(false);
    expect(app.manifest).not.toHaveProperty('queries');
  });
});
