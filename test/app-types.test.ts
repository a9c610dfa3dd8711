import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mastSync } from './helpers/cli-process.js';

// The app `mast init` scaffolds, type-checked as its author's editor and `npx tsc` would: its
// schema.ts registers the schema, so `ctx.db` in functions/ knows the entities and their fields.
// @mast/* resolve to this repository's built packages (`npm test` builds first).
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mast-types-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TSC = join(process.cwd(), 'node_modules/typescript/bin/tsc');

describe('ctx.db typed from the schema of a scaffolded app', { timeout: 120_000 }, () => {
  it('accepts the scaffold and refuses a misspelled entity, a misspelled field and a wrong value type', () => {
    const app = join(dir, 'app');
    expect(mastSync(['init', app]).status).toBe(0);
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(join(process.cwd(), 'node_modules/@mast'), join(app, 'node_modules/@mast'), 'dir');
    writeFileSync(
      join(app, 'functions', 'typos.ts'),
      [
        "import { mutation } from '@mast/functions';",
        'export default mutation({',
        '  async handler(ctx) {',
        "    await ctx.db.insert('Mesage', { bdy: 1 });",
        "    await ctx.db.insert('Todo', { title: 'x', done: false, dne: true });",
        "    await ctx.db.insert('Todo', { title: 1, done: false });",
        "    const todo = await ctx.db.get('Todo', 'a');",
        '    const title: number | undefined = todo?.title;',
        '    return title;',
        '  },',
        '});',
        '',
      ].join('\n'),
    );
    const res = spawnSync(process.execPath, [TSC, '-p', '.', '--pretty', 'false'], { cwd: app, encoding: 'utf8', timeout: 100_000 });
    const errors = res.stdout
      .split('\n')
      .filter((line) => / error TS\d+/.test(line))
      .map((line) => /^(.*)\((\d+),\d+\): error (TS\d+)/.exec(line)!.slice(1, 4).join(' '));
    expect(errors).toEqual(['functions/typos.ts 4 TS2345', 'functions/typos.ts 5 TS2561', 'functions/typos.ts 6 TS2322', 'functions/typos.ts 8 TS2322']);
  });
});
