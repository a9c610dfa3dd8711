/**
 * `policy-live`: what relational rules cost live subscriptions, against a baseline measured in
 * the same run on the same sockets.
 *
 * - `membership`: 100 users with 10 distinct live subscriptions each (1,000 windows on Message,
 *   whose read rule is `exists(Membership, …)`). One membership insert makes one user a member
 *   of a channel of 5 messages: the time from the write's response until that user's 10
 *   subscriptions have their rows, and proof that the other 990 received nothing. Baseline: a
 *   plain message insert into a channel the user already belongs to (the same 10 windows each
 *   get one `added` row, through the ordinary diff path). Rounds alternate between the two.
 * - `fanout`: 1,000 users, each a member of one channel and with one subscription to it; one
 *   message posted there reaches 1,000 windows under the membership rule. Baseline: the same
 *   fan-out on an identical entity whose read rule is owner-style and non-relational
 *   (`data.public == true || data.ownerId == auth.userId`, the message public), on a second
 *   socket of each user. Rounds alternate.
 *
 * The server runs in one child process, the sockets in another, the writes from this one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Manifest } from '@mast/schema';
import type { MastConfig, Row } from '@mast/server';
import type { Check, Measurement, ResultRow, Scenario, ScenarioContext, ScenarioResult } from '../scenario.js';
import { errorLine, ratio, round2 } from '../harness/cell-runner.js';
import { startChild, type BenchChild } from '../harness/child-process.js';
import { withForeignCpu } from '../harness/cpu-monitor.js';
import { monotonicMs } from '../harness/delivery-histogram.js';
import { LatencyRecorder } from '../harness/latency-stats.js';
import type { Delivery, LiveSubscription, OpenParams } from '../harness/policy-live-client-process.js';
import { seedDatabase } from '../harness/seed-database.js';
import type { ServerParams } from '../harness/server-process.js';
import { waitForHealth } from '../harness/wait-for-health.js';

const ADMIN_TOKEN = 'bench-policy-live-admin-token';
const MEMBER_RULE = 'exists(Membership, m => m.channelId == data.channelId && m.userId == auth.userId)';
const OWNER_RULE = 'data.public == true || data.ownerId == auth.userId';
/** Users of the membership workload, and subscriptions per user (distinct windows). */
const A_USERS = 100;
const A_SUBS = 10;
/** Messages in each user's own channel and in each channel a round joins. */
const CHANNEL_MESSAGES = 5;
/** Members of the fan-out channel. */
const B_USERS = 1_000;
/** How long a round waits for its deliveries, and for stray ones after them. */
const ROUND_TIMEOUT_MS = 15_000;
const QUIET_MS = 250;

const messageFields = [
  { name: 'channelId', type: 'string', optional: false, unique: false },
  { name: 'n', type: 'int', optional: false, unique: false },
  { name: 'ownerId', type: 'string', optional: false, unique: false },
  { name: 'public', type: 'bool', optional: false, unique: false },
] as const;

const MANIFEST: Manifest = {
  manifest_version: 1,
  name: 'bench-policy-live',
  version: '1.0.0',
  entities: [
    {
      name: 'Membership',
      crdt: false,
      fields: [
        { name: 'channelId', type: 'string', optional: false, unique: false },
        { name: 'userId', type: 'string', optional: false, unique: false },
      ],
      indexes: [{ name: 'by_channel_user', fields: ['channelId', 'userId'], unique: true }],
    },
    ...['Message', 'OwnedMessage'].map((name) => ({
      name,
      crdt: false,
      fields: [...messageFields],
      indexes: [{ name: `${name.toLowerCase()}_by_channel`, fields: ['channelId', 'n'], unique: false }],
    })),
  ],
  routes: [],
  policies: [
    { name: 'own_memberships', entity: 'Membership', allowRead: 'data.userId == auth.userId' },
    { name: 'channel_members', entity: 'Message', allowRead: MEMBER_RULE },
    { name: 'owner_or_public', entity: 'OwnedMessage', allowRead: OWNER_RULE },
  ],
};

const SERVER_CONFIG: Partial<MastConfig> = { rateLimit: 0, wsMaxSocketsPerIp: 20_000, maxConnections: 25_000, adminToken: ADMIN_TOKEN };

const aUser = (i: number): string => `a-u${i}`;
const bUser = (i: number): string => `b-u${i}`;
const hex = (n: number): string => (0x1800000000000000n + BigInt(n)).toString(16).padStart(32, '0') + '00000000';

interface Rig {
  readonly origin: string;
  readonly clients: BenchChild;
  readonly pids: () => number[];
  stop(): Promise<void>;
}

async function startRig(context: ScenarioContext, dir: string, dbPath: string): Promise<Rig> {
  const children: BenchChild[] = [];
  const stop = async (): Promise<void> => {
    for (const child of children.reverse()) await child.stop().catch(() => undefined);
  };
  try {
    const server = await startChild(new URL('../harness/server-process.ts', import.meta.url), 'mast server');
    children.push(server);
    const params: ServerParams = { appDir: dir, manifest: MANIFEST, config: { ...SERVER_CONFIG, databaseUrl: dbPath } };
    const origin = `http://127.0.0.1:${(await server.call<{ port: number }>('start', params, 60_000)).port}`;
    await waitForHealth(origin);
    const clients = await startChild(new URL('../harness/policy-live-client-process.ts', import.meta.url), 'live subscribers');
    children.push(clients);
    context.log(`policy-live: server ${origin}`);
    return { origin, clients, pids: () => [process.pid, ...children.map((c) => c.pid)], stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function admin(origin: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

async function tokens(origin: string, users: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < users.length; i += 25) {
    await Promise.all(users.slice(i, i + 25).map(async (u) => out.set(u, (await admin(origin, 'POST', '/api/auth/session', { user_id: u })).token as string)));
  }
  return out;
}

/** One round: a write, then every delivery that followed it. */
interface Round {
  /** Write request sent → the last expected delivery, ms (null: not all arrived). */
  readonly complete: number | null;
  /** Write request sent → each expected delivery, ms. */
  readonly each: readonly number[];
  /** Deliveries to sockets the write does not concern (must be 0), and expected ones missing. */
  readonly strays: number;
  readonly missing: number;
  /** The diffs carried the rows they should (rows per expected delivery). */
  readonly rowsOk: boolean;
}

/**
 * Runs `write` (which returns the commit's seq) and waits until each socket in `expect` got a diff
 * at or after that seq, then a quiet period; sockets outside `expect` must get nothing.
 */
async function round(rig: Rig, expect: ReadonlySet<number>, rows: (d: Delivery) => boolean, write: () => Promise<number>): Promise<Round> {
  const sentAt = monotonicMs();
  const seq = await write();
  const got = new Map<number, Delivery>();
  let strays = 0;
  let rowsOk = true;
  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  let quietUntil = Number.POSITIVE_INFINITY;
  while (Date.now() < Math.min(deadline, quietUntil)) {
    await sleep(got.size === expect.size ? QUIET_MS : 5);
    const { deliveries } = await rig.clients.call<{ deliveries: Delivery[] }>('take', null, 10_000);
    for (const d of deliveries) {
      if (d.seq < seq) continue;
      if (!expect.has(d.socket)) strays++;
      else if (!got.has(d.socket)) {
        got.set(d.socket, d);
        if (!rows(d)) rowsOk = false;
      }
    }
    if (got.size === expect.size && quietUntil === Number.POSITIVE_INFINITY) quietUntil = Date.now() + QUIET_MS;
  }
  const each = [...got.values()].map((d) => round2(d.at - sentAt));
  return { complete: got.size === expect.size ? Math.max(...each) : null, each, strays, missing: expect.size - got.size, rowsOk };
}

function measurement(rounds: readonly Round[], seconds: number): Measurement {
  const completion = new LatencyRecorder();
  for (const r of rounds) if (r.complete !== null) completion.record(r.complete);
  const bad = rounds.filter((r) => r.complete === null || r.strays > 0 || !r.rowsOk).length;
  const deliveries = rounds.reduce((n, r) => n + r.each.length, 0);
  return { completed: deliveries, seconds: round2(seconds), rps: round2(deliveries / Math.max(seconds, 1e-9)), latencyMs: completion.summary(), errors: bad, non2xx: 0 };
}

function eachSummary(rounds: readonly Round[]): { p50: number; p99: number } {
  const all = new LatencyRecorder();
  for (const r of rounds) for (const v of r.each) all.record(v);
  const s = all.summary();
  return { p50: s.p50, p99: s.p99 };
}

interface Workload {
  readonly name: string;
  readonly relational: Round[];
  readonly baseline: Round[];
  relationalMs: number;
  baselineMs: number;
}

async function membershipWorkload(context: ScenarioContext, rig: Rig, rounds: number): Promise<Workload> {
  const users = Array.from({ length: A_USERS }, (_, i) => aUser(i));
  const tokenOf = await tokens(rig.origin, users);
  const subs: LiveSubscription[] = [];
  for (const u of users) for (let j = 0; j < A_SUBS; j++) subs.push({ token: tokenOf.get(u)!, entity: 'Message', filter: { $order: { n: 'asc' }, $limit: 20 + j }, tag: u });
  context.log(`policy-live: opening ${subs.length} subscriptions (${A_USERS} users x ${A_SUBS})`);
  await rig.clients.call('open', { url: `${rig.origin.replace('http', 'ws')}/ws`, subscriptions: subs, batch: 50 } satisfies OpenParams, 120_000);
  await rig.clients.call('take', null, 10_000);
  const socketsOf = (user: number): Set<number> => new Set(Array.from({ length: A_SUBS }, (_, j) => user * A_SUBS + j));
  const work: Workload = { name: 'membership', relational: [], baseline: [], relationalMs: 0, baselineMs: 0 };
  let n = 1_000_000;
  for (let r = 0; r < rounds; r++) {
    const user = r % A_USERS;
    let t = performance.now();
    work.baseline.push(
      await round(
        rig,
        socketsOf(user),
        (d) => d.added === 1 && d.removed === 0,
        async () => (await admin(rig.origin, 'POST', '/api/entities/Message', { channelId: `own-${user}`, n: n++, ownerId: aUser(user), public: false })).seq,
      ),
    );
    work.baselineMs += performance.now() - t;
    t = performance.now();
    work.relational.push(
      await round(
        rig,
        socketsOf(user),
        (d) => d.added === CHANNEL_MESSAGES && d.removed === 0,
        async () => (await admin(rig.origin, 'POST', '/api/entities/Membership', { channelId: `hot-${r}`, userId: aUser(user) })).seq,
      ),
    );
    work.relationalMs += performance.now() - t;
  }
  await rig.clients.call('close', null, 30_000);
  return work;
}

async function fanoutWorkload(context: ScenarioContext, rig: Rig, rounds: number, members: number): Promise<Workload> {
  const users = Array.from({ length: members }, (_, i) => bUser(i));
  const tokenOf = await tokens(rig.origin, users);
  const subs: LiveSubscription[] = [];
  // Sockets 0..members-1 under the membership rule, members..2*members-1 under the owner rule.
  for (const entity of ['Message', 'OwnedMessage'])
    for (const u of users) subs.push({ token: tokenOf.get(u)!, entity, filter: { channelId: 'all', $order: { n: 'desc' }, $limit: 20 }, tag: `${entity}:${u}` });
  context.log(`policy-live: opening ${subs.length} subscriptions (${members} users x 2 entities)`);
  await rig.clients.call('open', { url: `${rig.origin.replace('http', 'ws')}/ws`, subscriptions: subs, batch: 50 } satisfies OpenParams, 300_000);
  await rig.clients.call('take', null, 10_000);
  const memberSockets = new Set(Array.from({ length: members }, (_, i) => i));
  const ownerSockets = new Set(Array.from({ length: members }, (_, i) => members + i));
  const work: Workload = { name: 'fanout', relational: [], baseline: [], relationalMs: 0, baselineMs: 0 };
  for (let r = 0; r < rounds; r++) {
    const body = { channelId: 'all', n: r, ownerId: 'poster', public: true };
    let t = performance.now();
    work.baseline.push(
      await round(
        rig,
        ownerSockets,
        (d) => d.added === 1,
        async () => (await admin(rig.origin, 'POST', '/api/entities/OwnedMessage', body)).seq,
      ),
    );
    work.baselineMs += performance.now() - t;
    t = performance.now();
    work.relational.push(
      await round(
        rig,
        memberSockets,
        (d) => d.added === 1,
        async () => (await admin(rig.origin, 'POST', '/api/entities/Message', body)).seq,
      ),
    );
    work.relationalMs += performance.now() - t;
  }
  await rig.clients.call('close', null, 30_000);
  return work;
}

function seedRows(members: number): Array<{ entity: string; rows: Row[] }> {
  const memberships: Row[] = [];
  const messages: Row[] = [];
  let id = 0;
  for (let u = 0; u < A_USERS; u++) {
    memberships.push({ id: `ms-own-${u}`, channelId: `own-${u}`, userId: aUser(u) });
    for (let k = 0; k < CHANNEL_MESSAGES; k++) messages.push({ id: hex(id++), channelId: `own-${u}`, n: k, ownerId: aUser(u), public: false });
  }
  for (let r = 0; r < A_USERS * 4; r++)
    for (let k = 0; k < CHANNEL_MESSAGES; k++) messages.push({ id: hex(id++), channelId: `hot-${r}`, n: 100 + k, ownerId: 'poster', public: false });
  for (let u = 0; u < members; u++) memberships.push({ id: `ms-all-${u}`, channelId: 'all', userId: bUser(u) });
  return [
    { entity: 'Membership', rows: memberships },
    { entity: 'Message', rows: messages },
  ];
}

async function run(context: ScenarioContext): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-bench-policy-live-'));
  const members = context.quick ? 100 : B_USERS;
  const aRounds = context.quick ? 4 : 30;
  const bRounds = context.quick ? 3 : 15;
  const workloads: Workload[] = [];
  const cpu: Record<string, number | null> = {};
  let failure: string | null = null;
  let rig: Rig | null = null;
  try {
    const dbPath = join(dir, 'server.db');
    for (const { entity, rows } of seedRows(members)) await seedDatabase(dbPath, MANIFEST, entity, rows.length, (i) => rows[i]!);
    rig = await startRig(context, dir, dbPath);
    const r = rig;
    const a = await withForeignCpu(r.pids, () => membershipWorkload(context, r, aRounds));
    workloads.push(a.value);
    cpu['membership'] = a.foreignCpuPct;
    const b = await withForeignCpu(r.pids, () => fanoutWorkload(context, r, bRounds, members));
    workloads.push(b.value);
    cpu['fanout'] = b.foreignCpuPct;
  } catch (err) {
    failure = errorLine(err);
    context.log(`policy-live: FAILED: ${failure}`);
  } finally {
    await rig?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows: ResultRow[] = workloads.map((w) => {
    const relational = { ...measurement(w.relational, w.relationalMs / 1000), foreignCpuPct: cpu[w.name] ?? null };
    const baseline = { ...measurement(w.baseline, w.baselineMs / 1000), foreignCpuPct: cpu[w.name] ?? null };
    return {
      op: w.name === 'membership' ? `membership insert, ${A_USERS * A_SUBS} subscriptions, ${A_SUBS} affected` : `fan-out of one message to ${members} subscriptions`,
      concurrency: 1,
      results: { relational, baseline },
      ratios: {
        relationalVsBaselineP50: ratio(relational.latencyMs.p50, baseline.latencyMs.p50),
        relationalVsBaselineP99: ratio(relational.latencyMs.p99, baseline.latencyMs.p99),
      },
    };
  });
  if (failure !== null) rows.push({ op: 'policy-live', concurrency: 1, results: {}, ratios: {}, failure });
  const checks: Check[] = workloads.flatMap((w) => [
    {
      name: `${w.name}: every round delivered to exactly the subscriptions it concerns (rounds with a missing, stray or wrong delivery)`,
      pass: [...w.relational, ...w.baseline].every((r) => r.complete !== null && r.strays === 0 && r.rowsOk),
      value: [...w.relational, ...w.baseline].filter((r) => r.complete === null || r.strays > 0 || !r.rowsOk).length,
      limit: 0,
    },
  ]);
  return {
    scenario: 'policy-live',
    description: policyLiveScenario.description,
    setup: {
      rules: { Message: `allowRead: ${MEMBER_RULE}`, OwnedMessage: `allowRead: ${OWNER_RULE}`, Membership: 'allowRead: data.userId == auth.userId' },
      membership: `${A_USERS} users x ${A_SUBS} distinct subscriptions to Message ({$order: {n: asc}, $limit: 20..29}); each user is a member of its own channel of ${CHANNEL_MESSAGES} messages; a round inserts (admin, POST /api/entities/Membership) one membership into a channel of ${CHANNEL_MESSAGES} messages for one user, after a baseline round that posts one message into that user's own channel; ${aRounds} rounds of each`,
      fanout: `${members} users, each a member of channel "all", with one subscription to Message and one to OwnedMessage ({channelId: "all", $order: {n: desc}, $limit: 20}); a round posts one message (admin, POST) to "all" on OwnedMessage (baseline) then on Message; ${bRounds} rounds of each`,
      measured:
        "from sending the write's HTTP request (in the runner; the diffs often arrive before its response) to each diff's receipt (in the subscribers' process), on the machine-wide monotonic clock; \"until all\" is the last expected delivery of a round; a round also waits 250 ms after it for stray diffs",
      serverConfig: { ...SERVER_CONFIG, adminToken: '(set)', logLevel: 'silent', databaseUrl: 'fresh temporary SQLite file' },
    },
    rows,
    checks,
    table: {
      columns: ['workload', 'rule', 'rounds', 'until all p50 ms', 'until all p99 ms', 'each p50 ms', 'each p99 ms', 'bad rounds', 'other CPU %'],
      rows: workloads.flatMap((w) =>
        (['relational', 'baseline'] as const).map((side) => {
          const rs = side === 'relational' ? w.relational : w.baseline;
          const m = measurement(rs, 1);
          const each = eachSummary(rs);
          const label =
            w.name === 'membership'
              ? side === 'relational'
                ? 'membership insert (exists)'
                : 'plain message insert'
              : side === 'relational'
                ? 'exists(Membership, …)'
                : 'owner-style, no exists';
          return [
            w.name,
            label,
            String(rs.length),
            m.latencyMs.p50.toFixed(2),
            m.latencyMs.p99.toFixed(2),
            each.p50.toFixed(2),
            each.p99.toFixed(2),
            String(m.errors),
            String(cpu[w.name] ?? '—'),
          ];
        }),
      ),
      notes: ['"bad rounds" counts rounds where an expected subscription got nothing, or got the wrong rows, or an unconcerned one got a diff: it must be 0.'],
    },
  };
}

/** The policy-live scenario. */
export const policyLiveScenario: Scenario = {
  name: 'policy-live',
  description:
    'live subscriptions under a membership rule: one membership insert among 1,000 subscriptions of which 10 are affected (vs a plain insert), and fan-out of one message to 1,000 members (vs an owner-style rule)',
  withoutPylon: 'Pylon has no relational rules and no server-side live queries, so policy-live runs on Mast alone.',
  run,
};
