import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { AppTypesOf, LiveQuery, TypedClient, TypedClientOf, Watch } from '@mast/client';
import { mutation, v } from '@mast/functions';
import { compileManifest } from '@mast/schema';
import { registerTypeScript } from '@mast/server';
import { codegen, generateTypes } from '../src/codegen-command.js';
import type { App, AppClient, Rows } from './codegen-app/mast-types.js';
import schema from './codegen-app/schema-dsl.js';
import addTask from './codegen-app/functions/addTask.js';
import openTitles from './codegen-app/functions/openTitles.js';
import shout from './codegen-app/functions/shout.js';

// `mast codegen` on an app with a JSON manifest (codegen-app/pylon.manifest.json, the manifest
// of schema-dsl.ts) and typed functions. The generated file is committed (mast-types.d.ts) so
// `npm run typecheck` proves its types equal the ones the DSL infers; this test proves the
// generator still writes exactly that file.
const app = join(import.meta.dirname, 'codegen-app');
const functions = { addTask, openTitles, shout };
let work: string;

beforeAll(async () => {
  await registerTypeScript();
  work = mkdtempSync(join(tmpdir(), 'mast-codegen-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('mast codegen', () => {
  it('the fixture manifest is the DSL schema’s manifest', () => {
    expect(JSON.parse(readFileSync(join(app, 'pylon.manifest.json'), 'utf8'))).toEqual(schema.manifest);
  });

  it('writes the committed .d.ts from the manifest and the function files', async () => {
    const out = join(work, 'types', 'app.d.ts');
    expect(await codegen(app, out)).toBe(out);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(app, 'mast-types.d.ts'), 'utf8'));
    await expect(codegen(join(work, 'nothing-here'), undefined)).rejects.toThrow(/No schema/);
  });

  it('runs as a command; refuses an app whose functions do not load, naming the file', () => {
    const out = join(work, 'cli.d.ts');
    const bin = join(import.meta.dirname, '..', 'bin', 'mast.js');
    const ok = spawnSync(process.execPath, [bin, 'codegen', app, '--out', out], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`Wrote ${out}`);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(app, 'mast-types.d.ts'), 'utf8'));

    const broken = join(work, 'broken');
    mkdirSync(join(broken, 'functions'), { recursive: true });
    writeFileSync(join(broken, 'pylon.manifest.json'), JSON.stringify(schema.manifest));
    writeFileSync(join(broken, 'functions', 'bad.mjs'), 'export default 42;\n');
    const bad = spawnSync(process.execPath, [bin, 'codegen', broken], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('bad.mjs');
    const usage = spawnSync(process.execPath, [bin, 'start', app, '--out', 'x'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--out is an option of mast codegen');
  });

  it('types a result without `returns` as unknown, and names a validator it cannot type', () => {
    const noReturns = mutation({ args: { n: v.optional(v.union(v.int(), v.null())) }, handler: async () => 1 });
    const text = generateTypes(compileManifest(schema.manifest), new Map([['inc', noReturns]]), 'x');
    expect(text).toContain('n?: number | null | undefined;');
    expect(text).toMatch(/inc: \{\n {4}kind: 'mutation';[\s\S]*result: unknown;/);
    const odd = mutation({ args: { when: v.any().transform(() => new Date()) as never }, handler: async () => 1 });
    expect(() => generateTypes(compileManifest(schema.manifest), new Map([['odd', odd]]), 'x')).toThrow(/validator of kind "pipe"/);
  });

  it('generated types equal what the DSL and function definitions infer', () => {
    expectTypeOf<App>().toEqualTypeOf<AppTypesOf<typeof schema, typeof functions>>();
    expectTypeOf<AppClient>().toEqualTypeOf<TypedClient<typeof schema, typeof functions>>();
    expectTypeOf<AppClient>().toEqualTypeOf<TypedClientOf<App>>();
    const checks = (client: AppClient): void => {
      expectTypeOf(client.query('Task')).toEqualTypeOf<LiveQuery<Rows['Task']>>();
      expectTypeOf(client.mutation('addTask', { title: 't', projectId: 'p', tags: [], priority: 'low' })).resolves.toEqualTypeOf<{ id: string }>();
      expectTypeOf(client.watch('openTitles', {})).toEqualTypeOf<Watch<string[]>>();
      // @ts-expect-error not one of the literals
      client.mutation('addTask', { title: 't', projectId: 'p', tags: [], priority: 'urgent' });
      // @ts-expect-error an entity the manifest does not declare
      client.query('Nope');
    };
    expect(typeof checks).toBe('function');
  });
});
