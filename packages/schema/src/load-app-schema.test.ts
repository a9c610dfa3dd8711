import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAppSchema, loadManifestFile } from './load-app-schema.js';
import { ManifestError } from './manifest-error.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
let scratch = '';

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'mast-schema-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<ManifestError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error('expected a ManifestError');
}

async function dirWith(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(scratch, name);
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

describe('loadAppSchema', () => {
  it('refuses a folder with both pylon.manifest.json and schema.ts, naming both (MANIFEST_AMBIGUOUS)', async () => {
    const dir = await dirWith('both', { 'pylon.manifest.json': '{}', 'schema.ts': 'export default {};\n' });
    const err = await rejection(loadAppSchema(dir));
    expect(err.diagnostics.map((d) => d.code)).toEqual(['MANIFEST_AMBIGUOUS']);
    expect(err.message).toContain(join(dir, 'pylon.manifest.json'));
    expect(err.message).toContain(join(dir, 'schema.ts'));
  });

  it('loads pylon.manifest.json', async () => {
    const { schema, source } = await loadAppSchema(fixtures);
    expect(source).toBe(join(fixtures, 'pylon.manifest.json'));
    expect(schema.entities.map((e) => e.name)).toEqual(['User', 'Todo', 'Message']);
  });

  it('imports schema.ts whose default export is a DSL schema', async () => {
    const { schema, source } = await loadAppSchema(join(fixtures, 'dsl-app'));
    expect(source).toBe(join(fixtures, 'dsl-app', 'schema.ts'));
    expect(schema.manifest.name).toBe('anchor');
    expect(schema.entitiesByName.get('Message')?.indexes).toEqual([{ name: 'by_room', fields: ['room'], unique: false }]);
  });

  it('imports schema.ts whose default export is a manifest object', async () => {
    const { schema } = await loadAppSchema(join(fixtures, 'object-app'));
    expect(schema.entitiesByName.get('Note')?.fieldsByName.get('meta')?.kind).toBe('json');
  });

  it('reports MANIFEST_NOT_FOUND for a directory with neither file', async () => {
    const dir = await dirWith('empty', {});
    const error = await rejection(loadAppSchema(dir));
    expect(error.diagnostics.map((d) => d.code)).toEqual(['MANIFEST_NOT_FOUND']);
    expect(error.message).toContain(dir);
  });

  it('reports a schema module without a default export', async () => {
    const dir = await dirWith('no-default', { 'schema.ts': 'export const x = 1;\n' });
    const error = await rejection(loadAppSchema(dir));
    expect(error.diagnostics.map((d) => d.code)).toEqual(['MANIFEST_PARSE_ERROR']);
    expect(error.diagnostics[0]!.message).toContain('no default export');
  });

  it('reports a schema module that fails to import as MANIFEST_READ_FAILED', async () => {
    const dir = await dirWith('throws', { 'schema.ts': 'throw new Error("boom");\nexport default {};\n' });
    const error = await rejection(loadAppSchema(dir));
    expect(error.diagnostics.map((d) => d.code)).toEqual(['MANIFEST_READ_FAILED']);
    expect(error.diagnostics[0]!.message).toContain('boom');
  });

  it('validates what schema.ts exports', async () => {
    const dir = await dirWith('invalid-object', {
      'schema.ts': 'export default { manifest_version: 1, name: "a", version: "1", entities: [], routes: [] };\n',
    });
    const error = await rejection(loadAppSchema(dir));
    expect(error.diagnostics.map((d) => d.code)).toEqual(['SCHEMA_EMPTY']);
    expect(error.source).toBe(join(dir, 'schema.ts'));
  });
});

describe('loadManifestFile', () => {
  it('reports an unreadable file as MANIFEST_READ_FAILED', async () => {
    const path = join(scratch, 'missing.json');
    const error = await rejection(loadManifestFile(path));
    expect(error.diagnostics.map((d) => d.code)).toEqual(['MANIFEST_READ_FAILED']);
    expect(error.diagnostics[0]!.message).toContain(path);
  });

  it('reports invalid JSON as MANIFEST_PARSE_ERROR', async () => {
    const dir = await dirWith('bad-json', { 'pylon.manifest.json': '{"manifest_version": 1,' });
    const error = await rejection(loadAppSchema(dir));
    expect(error.diagnostics.map((d) => d.code)).toEqual(['MANIFEST_PARSE_ERROR']);
    expect(error.diagnostics[0]!.message).toMatch(/^Invalid manifest JSON at line 1, column 24: expected a double-quoted property name$/);
  });

  it('names the line and column of a JSON syntax error, with the line under a caret, not a character position', async () => {
    const text = '{\n  "manifest_version": 1,\n  "entities": [\n    { "name": "Room", "fields": [], },\n  ]\n}\n';
    const dir = await dirWith('trailing-comma', { 'pylon.manifest.json': text });
    const error = await rejection(loadAppSchema(dir));
    const [d] = error.diagnostics;
    expect(d).toMatchObject({ code: 'MANIFEST_PARSE_ERROR', location: { line: 4, column: 37 } });
    expect(d!.message).toContain('trailing commas are not JSON');
    expect(error.message).not.toMatch(/position \d+/);
    expect(error.message).toContain('  at line 4, column 37\n  |     { "name": "Room", "fields": [], },\n  |                                     ^');
  });

  it('names the line of a value V8 reports without any position', async () => {
    const dir = await dirWith('bare-word', { 'pylon.manifest.json': '{\n  "name": tru\n}' });
    const [d] = (await rejection(loadAppSchema(dir))).diagnostics;
    expect(d?.location).toEqual({ line: 2, column: 11 });
  });

  it('adds the line and column to rule and shape diagnostics of a manifest file', async () => {
    const text = [
      '{ "manifest_version": 1, "name": "chat", "version": "1",',
      '  "entities": [',
      '    { "name": "Room", "fields": [',
      '      { "name": "title", "type": "strng" },',
      '      { "name": "topic", "type": "string", "unique": "no" }',
      '    ] }',
      '  ] }',
    ].join('\n');
    const dir = await dirWith('located-shape', { 'pylon.manifest.json': text });
    const shape = await rejection(loadAppSchema(dir));
    expect(shape.diagnostics[0]).toMatchObject({ path: 'entities[0] Room.fields[1] topic.unique', location: { line: 5, column: 54 } });
    expect(shape.message).toContain('at entities[0] Room.fields[1] topic.unique (line 5, column 54)');

    const dir2 = await dirWith('located-rule', { 'pylon.manifest.json': text.replace('"unique": "no"', '"unique": false') });
    const rule = await rejection(loadAppSchema(dir2));
    expect(rule.diagnostics[0]).toMatchObject({ code: 'FIELD_TYPE_UNKNOWN', location: { line: 4, column: 7 } });
  });

  it('loads the CRDT anchor manifest', async () => {
    const schema = await loadManifestFile(join(fixtures, 'crdt.manifest.json'));
    expect(schema.entities.map((e) => e.name)).toEqual(['User', 'Doc']);
  });
});
