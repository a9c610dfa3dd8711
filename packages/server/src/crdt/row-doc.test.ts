import { describe, expect, it } from 'vitest';
import { LoroDoc } from 'loro-crdt';
import { compileManifest, type EntitySchema, type Manifest } from '@mast/schema';
import { AppError } from '../errors/index.js';
import { projectDoc, writeFields } from './row-doc.js';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'crdt',
  version: '1.0.0',
  entities: [
    {
      name: 'Note',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'body', type: 'richtext', optional: true, unique: false },
        { name: 'plain', type: 'richtext', optional: true, unique: false, crdt: 'lww' },
        { name: 'summary', type: 'string', optional: true, unique: false, crdt: 'text' },
        { name: 'stars', type: 'int', optional: true, unique: false, crdt: 'counter' },
        { name: 'rank', type: 'int', optional: true, unique: false },
        { name: 'ratio', type: 'float', optional: true, unique: false },
        { name: 'done', type: 'bool', optional: true, unique: false },
        { name: 'tags', type: 'json', optional: true, unique: false, crdt: 'list' },
        { name: 'order', type: 'json', optional: true, unique: false, crdt: 'movable-list' },
        { name: 'outline', type: 'json', optional: true, unique: false, crdt: 'tree' },
        { name: 'meta', type: 'json', optional: true, unique: false },
      ],
      indexes: [],
    },
  ],
  routes: [],
  policies: [],
};
const note: EntitySchema = compileManifest(manifest).entitiesByName.get('Note')!;

const full = {
  title: 'T',
  body: 'hello world',
  plain: 'p',
  summary: 's',
  stars: 5,
  rank: 3,
  ratio: 0.5,
  done: false,
  tags: ['a', 'b'],
  order: [1, 2, 3],
  outline: null,
  meta: { a: [1, { b: 2 }] },
};

function docWith(values: Record<string, unknown>): LoroDoc {
  const doc = new LoroDoc();
  writeFields(doc, note, values);
  return doc;
}

function merged(a: LoroDoc, b: LoroDoc): LoroDoc {
  a.import(b.export({ mode: 'update' }));
  b.import(a.export({ mode: 'update' }));
  return a;
}

describe('row documents', () => {
  it('round-trips every field kind; integers project as integers', () => {
    const doc = docWith(full);
    expect(projectDoc(doc, note)).toEqual(full);
    expect(JSON.stringify(projectDoc(doc, note).rank)).toBe('3');
    const copy = new LoroDoc();
    copy.import(doc.export({ mode: 'snapshot' }));
    expect(projectDoc(copy, note)).toEqual(full);
  });

  it('keeps text and richtext as root Loro texts and LWW values in the root map', () => {
    const doc = docWith(full);
    expect(doc.getText('body').toString()).toBe('hello world');
    expect(doc.getText('summary').toString()).toBe('s');
    expect(doc.getMap('row').get('plain')).toBe('p');
    expect(doc.getMap('row').get('title')).toBe('T');
  });

  it('writes a new text as character edits that merge with concurrent typing', () => {
    const server = docWith(full);
    const client = server.fork();
    client.getText('body').insert(6, 'brave ');
    client.commit();
    writeFields(server, note, { body: 'hello world!' });
    expect(projectDoc(merged(server, client), note).body).toBe('hello brave world!');
    expect(client.getText('body').toString()).toBe('hello brave world!');
  });

  it('sets a counter by the difference, so concurrent sets add up', () => {
    const a = docWith(full);
    const b = a.fork();
    writeFields(a, note, { stars: 7 });
    writeFields(b, note, { stars: 8 });
    expect(projectDoc(merged(a, b), note).stars).toBe(10);
  });

  it('makes a container field null and back without losing the container', () => {
    const doc = docWith(full);
    writeFields(doc, note, { body: null, stars: null, tags: null });
    expect(projectDoc(doc, note)).toMatchObject({ body: null, stars: null, tags: null });
    writeFields(doc, note, { body: 'again', stars: 1, tags: [] });
    expect(projectDoc(doc, note)).toMatchObject({ body: 'again', stars: 1, tags: [] });
  });

  it('writes nothing when a value is unchanged', () => {
    const doc = docWith(full);
    const version = doc.oplogVersion();
    writeFields(doc, note, { ...full });
    expect(doc.oplogVersion().compare(version)).toBe(0);
  });

  it('refuses a JSON value for a tree and a non-array for a list, naming the field', () => {
    const doc = docWith(full);
    for (const [values, field] of [
      [{ outline: { a: 1 } }, 'outline'],
      [{ tags: 'x' }, 'tags'],
    ] as const) {
      let err: unknown;
      try {
        writeFields(doc.fork(), note, values);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('CRDT_FIELD_UNSUPPORTED');
      expect((err as AppError).fields).toEqual([field]);
    }
  });

  it('projects a tree edited through Loro, and unknown or missing keys as null', () => {
    const doc = docWith({ title: 'T' });
    const tree = doc.getTree('outline');
    tree.createNode().data.set('label', 'root');
    doc.commit();
    const row = projectDoc(doc, note);
    expect(row.outline).toMatchObject([{ meta: { label: 'root' } }]);
    expect(row.rank).toBeNull();
    expect(Object.keys(row).sort()).toEqual(Object.keys(full).sort());
  });
});
