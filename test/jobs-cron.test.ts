import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Manifest } from '@mast/schema';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { writeFunction } from './helpers/functions-app.js';

const ADMIN = 'admin-token-for-cron';
const manifest: Manifest = {
  manifest_version: 1,
  name: 'cron',
  version: '1',
  routes: [],
  entities: [{ name: 'Tick', fields: [{ name: 'label', type: 'string', optional: false, unique: false }], indexes: [] }],
  policies: [{ name: 'open', entity: 'Tick', allow: 'true' }],
};
const admin = { authorization: `Bearer ${ADMIN}` };

/** Polls until `check` holds; fails after `timeoutMs`. */
async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > end) throw new Error(`condition not reached within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** An app folder with a per-minute cron that records a Tick, and a clock the test moves. */
function app(cronBody: string, extraFunctions: Record<string, string> = {}): { dir: string; start: (now: () => number) => Promise<TestServer> } {
  const dir = mkdtempSync(join(tmpdir(), 'mast-cron-'));
  dirs.push(dir);
  const fake = { dir } as TestServer;
  writeFunction(fake, 'tick', `export default mutation({ args: { label: v.string() }, handler: (ctx, a) => ctx.db.insert('Tick', { label: a.label }) });`);
  for (const [name, body] of Object.entries(extraFunctions)) writeFunction(fake, name, body);
  writeFunction(fake, 'crons', cronBody.replace(/^/, `import { crons } from ${JSON.stringify(new URL('../packages/functions/src/index.ts', import.meta.url).href)};\n`));
  return { dir, start: (now) => startTestServer(manifest, { adminToken: ADMIN, jobPoll: 50, jobBackoff: 10 }, { dir, now }) };
}

const ticks = async (t: TestServer): Promise<string[]> =>
  ((await t.request('GET', '/api/entities/Tick?limit=1000', { headers: admin })).json as { data: Array<{ label: string }> }).data.map((r) => r.label);
const cronJobs = async (t: TestServer): Promise<Array<{ id: string; status: string; run_at: string; cron: string }>> =>
  ((await t.request('GET', '/api/jobs?limit=1000', { headers: admin })).json as { jobs: Array<{ id: string; status: string; run_at: string; cron: string }> }).jobs.filter(
    (j) => j.cron !== null,
  );
const crons = async (t: TestServer) => ((await t.request('GET', '/api/crons', { headers: admin })).json as { crons: Array<{ name: string; next_run_at: string | null }> }).crons;

describe('cron schedules', () => {
  it('survive restarts on the same database: a run missed while down fires once, none is doubled', async () => {
    const { start } = app(`export default crons({ everyMinute: { schedule: '* * * * *', function: 'tick', args: { label: 'minute' } } });`);
    let now = Date.parse('2026-01-01T00:00:30Z');
    const clock = () => now;

    // First start: the schedule is stored with its next run; nothing fires for the past.
    let t = await start(clock);
    expect(
      await until(
        () => crons(t),
        (c) => c[0]?.next_run_at !== null,
      ),
    ).toEqual([{ name: 'everyMinute', schedule: '* * * * *', function: 'tick', next_run_at: '2026-01-01T00:01:00.000Z' }]);
    await t.server.close();

    // Down across 00:01 and 00:02: on restart the missed runs fire once, as one job.
    now = Date.parse('2026-01-01T00:02:10Z');
    t = await start(clock);
    await until(
      () => cronJobs(t),
      (j) => j.length === 1 && j[0]!.status === 'succeeded',
    );
    expect(await ticks(t)).toEqual(['minute']);
    expect(
      await until(
        () => crons(t),
        (c) => c[0]?.next_run_at === '2026-01-01T00:03:00.000Z',
      ),
    ).toHaveLength(1);
    await t.server.close();

    // A restart within the same minute fires nothing again; the next minute fires once.
    t = await start(clock);
    now = Date.parse('2026-01-01T00:03:05Z');
    await until(
      () => cronJobs(t),
      (j) => j.length === 2 && j.every((x) => x.status === 'succeeded'),
    );
    expect(await ticks(t)).toEqual(['minute', 'minute']);
    expect((await cronJobs(t)).map((j) => j.run_at).sort()).toEqual(['2026-01-01T00:01:00.000Z', '2026-01-01T00:03:00.000Z']);
    await t.server.close();
  });

  it('jobs run concurrently, each exactly once', async () => {
    const { start } = app(`export default crons({});`, {
      work: `export default mutation({ args: { n: v.int() }, handler: (ctx, a) => ctx.db.insert('Tick', { id: 'job-' + a.n, label: 'job' }) });`,
      fan: `export default action({ handler: async (ctx) => { for (let n = 0; n < 30; n++) await ctx.scheduler.runAfter(0, 'work', { n }); } });`,
    });
    const t = await start(Date.now);
    try {
      const res = await t.request('POST', '/api/fn/fan', { body: {} });
      expect([res.status, res.text]).toEqual([200, 'null']);
      const jobs = await until(
        async () => ((await t.request('GET', '/api/jobs?limit=1000', { headers: admin })).json as { jobs: Array<{ function: string; status: string; attempts: number }> }).jobs,
        (j) => j.length === 30 && j.every((x) => x.status === 'succeeded'),
        30_000,
      );
      // A second run of any job would insert a duplicate id and fail, costing an attempt.
      expect(jobs.every((j) => j.attempts === 1)).toBe(true);
      expect(await ticks(t)).toHaveLength(30);
    } finally {
      await t.server.close();
    }
  });

  it('a bad schedule is reported with its file, and the rest of the app loads', async () => {
    const bad = app(`export default crons({ broken: { schedule: '61 * * * *', function: 'tick', args: { label: 'x' } } });`);
    const t1 = await bad.start(Date.now);
    try {
      const set = await t1.server.reloadFunctions();
      expect(set.errors).toEqual([expect.objectContaining({ file: join(bad.dir, 'functions', 'crons.ts'), message: expect.stringContaining('minute "61" is not in 0-59') })]);
      expect(set.functions.has('tick')).toBe(true);
    } finally {
      await t1.server.close();
    }
    const wrong = app(
      `export default crons({
        unknown: { schedule: '* * * * *', function: 'nope' },
        query: { schedule: '* * * * *', function: 'q' },
        args: { schedule: '* * * * *', function: 'tick', args: { label: 5 } },
        never: { schedule: '0 0 30 2 *', function: 'tick', args: { label: 'x' } },
        fine: { schedule: '0 0 * * *', function: 'tick', args: { label: 'x' } },
      });`,
      { q: `export default query({ handler: () => 1 });` },
    );
    const t2 = await wrong.start(Date.now);
    try {
      const set = await t2.server.reloadFunctions();
      expect(set.errors.map((e) => e.message)).toEqual([
        'cron "unknown" runs "nope", which is not a loaded function',
        'cron "query" runs "q", a query: crons run mutations and actions',
        expect.stringMatching(/^cron "args" gives "tick" invalid arguments: label: /),
        'cron "never" ("0 0 30 2 *") never fires',
      ]);
      expect([...set.crons.keys()]).toEqual(['fine']);
      expect((await crons(t2)).map((c) => c.name)).toEqual(['fine']);
    } finally {
      await t2.server.close();
    }
  });
});
