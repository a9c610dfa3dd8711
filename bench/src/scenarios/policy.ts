/**
 * `policy`: what a row-level rule costs a list. A signed-in user lists 1,000 rows of an entity
 * whose read rule is `auth.userId == data.ownerId` (half of its 2,000 rows are theirs), 1,000
 * rows of an identical entity whose read rule is a membership
 * (`exists(Membership, m => m.channelId == data.channelId && m.userId == auth.userId)`: the user
 * is a member of half of the 100 channels, so the same half of the rows), and 1,000 rows of an
 * identical entity whose read rule is `true`; same rows and same indexes, at concurrency 1 and
 * 16, over HTTP, each triple back to back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '@mast/schema';
import type { Row } from '@mast/server';
import type { Check, Measurement, ResultRow, Scenario, ScenarioContext, ScenarioResult } from '../scenario.js';
import { errorLine, quietest, ratio, type Outcome } from '../harness/cell-runner.js';
import { startHttpRig, type HttpRig } from '../harness/http-rig.js';
import type { RequestTemplate } from '../harness/request-template.js';
import { seedDatabase } from '../harness/seed-database.js';
import { PYLON_VERSION } from '../harness/pylon.js';

const OWNED = 'Owned';
const OPEN = 'Open';
const MEMBERS = 'Posted';
const CHANNELS = 100;
const ROWS = 2_000;
const LIST = 1_000;
const CONCURRENCY = [1, 16] as const;
const USER = 'bench-user-1';
const OTHER = 'bench-user-2';
const ADMIN_TOKEN = 'bench-policy-admin-token';
/** The issue's target: the list under the owner rule costs under 1.5x the list without one. */
const LIMIT = 1.5;
/** Issue 15's target: the list under the membership rule costs under 2x the list without one (at c=16). */
const MEMBER_LIMIT = 2;

const fields = [
  { name: 'title', type: 'string', optional: false, unique: false },
  { name: 'ownerId', type: 'string', optional: false, unique: false },
  { name: 'n', type: 'int', optional: false, unique: false },
  { name: 'channelId', type: 'string', optional: false, unique: false },
] as const;
const MEMBER_OF_CHANNEL = 'exists(Membership, m => m.channelId == data.channelId && m.userId == auth.userId)';

const MANIFEST: Manifest = {
  manifest_version: 1,
  name: 'bench-policy',
  version: '1.0.0',
  entities: [
    ...[OWNED, OPEN, MEMBERS].map((name) => ({
      name,
      fields: [...fields],
      indexes: [
        { name: `${name.toLowerCase()}_by_owner`, fields: ['ownerId'], unique: false },
        { name: `${name.toLowerCase()}_by_channel`, fields: ['channelId'], unique: false },
      ],
    })),
    {
      name: 'Membership',
      fields: [
        { name: 'channelId', type: 'string', optional: false, unique: false },
        { name: 'userId', type: 'string', optional: false, unique: false },
      ],
      indexes: [{ name: 'membership_by_channel_user', fields: ['channelId', 'userId'], unique: true }],
    },
  ],
  routes: [],
  policies: [
    { name: 'owned_by_owner', entity: OWNED, allowRead: 'auth.userId == data.ownerId' },
    { name: 'open_to_all', entity: OPEN, allowRead: 'true' },
    { name: 'posted_to_members', entity: MEMBERS, allowRead: MEMBER_OF_CHANNEL },
  ],
};

/**
 * Rows alternate between the user and someone else, so the user owns every other one; row i is
 * in channel i % 100, and the user is a member of the even channels: the same rows again.
 */
function seedRow(index: number): Row {
  return {
    id: (0x1800000000000000n + BigInt(index)).toString(16).padStart(32, '0') + '00000000',
    title: `row ${index}`,
    ownerId: index % 2 === 0 ? USER : OTHER,
    n: index,
    channelId: `ch${index % CHANNELS}`,
  };
}

/** The other user is in every channel, the user in the even ones. */
function membershipRow(index: number): Row {
  const channel = index % CHANNELS;
  const userId = index < CHANNELS ? OTHER : USER;
  return { id: `ms-${index}`, channelId: `ch${userId === USER ? channel * 2 : channel}`, userId };
}

/** A session for USER, minted with the admin token. */
async function userToken(origin: string): Promise<string> {
  const response = await fetch(`${origin}/api/auth/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ user_id: USER }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`POST /api/auth/session answered ${response.status}: ${text.slice(0, 200)}`);
  return (JSON.parse(text) as { token: string }).token;
}

/** Lists the first page once and checks it has LIST rows, all the user's where the rule applies. */
async function checkList(origin: string, template: RequestTemplate, ownedOnly: boolean): Promise<void> {
  const response = await fetch(origin + template.path, { headers: { ...template.headers }, signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { data?: { ownerId: string }[] };
  const rows = body.data ?? [];
  if (rows.length !== LIST) throw new Error(`${template.path} returned ${rows.length} rows, expected ${LIST}`);
  if (ownedOnly && rows.some((row) => row.ownerId !== USER)) throw new Error(`${template.path} returned another user's row`);
}

type Target = 'rule' | 'member' | 'open';

async function run(context: ScenarioContext): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-bench-policy-'));
  const cells = new Map<number, Partial<Record<Target, Outcome>>>();
  let rig: HttpRig | null = null;
  let failure: string | null = null;
  try {
    const dbPath = join(dir, 'server.db');
    context.log(`policy: seeding ${ROWS} rows into each of ${OWNED} and ${OPEN}`);
    await seedDatabase(dbPath, MANIFEST, OWNED, ROWS, seedRow);
    await seedDatabase(dbPath, MANIFEST, OPEN, ROWS, seedRow);
    await seedDatabase(dbPath, MANIFEST, MEMBERS, ROWS, seedRow);
    await seedDatabase(dbPath, MANIFEST, 'Membership', CHANNELS + CHANNELS / 2, membershipRow);
    rig = await startHttpRig(context, dir, MANIFEST, { rateLimit: 0, databaseUrl: dbPath, adminToken: ADMIN_TOKEN });
    const server = rig;
    const headers = { authorization: `Bearer ${await userToken(server.origin)}` };
    const templates: Record<Target, RequestTemplate> = {
      rule: { method: 'GET', path: `/api/entities/${OWNED}?limit=${LIST}`, headers, expectStatus: 200 },
      member: { method: 'GET', path: `/api/entities/${MEMBERS}?limit=${LIST}`, headers, expectStatus: 200 },
      open: { method: 'GET', path: `/api/entities/${OPEN}?limit=${LIST}`, headers, expectStatus: 200 },
    };
    await checkList(server.origin, templates.rule, true);
    await checkList(server.origin, templates.member, true);
    await checkList(server.origin, templates.open, false);
    for (const c of CONCURRENCY) {
      cells.set(
        c,
        await quietest<Target>(context, `list ${LIST} c=${c}`, async () => ({
          open: await server.measure(`no rule c=${c}`, templates.open, c),
          rule: await server.measure(`owner rule c=${c}`, templates.rule, c),
          member: await server.measure(`membership rule c=${c}`, templates.member, c),
        })),
      );
    }
  } catch (err) {
    failure = errorLine(err);
    context.log(`policy: FAILED: ${failure}`);
  } finally {
    await rig?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows: ResultRow[] = CONCURRENCY.map((c) => {
    const cell = cells.get(c) ?? {};
    const results: Record<string, Measurement> = {};
    const failures: string[] = [];
    for (const target of ['rule', 'member', 'open'] as const) {
      const outcome = cell[target];
      if (outcome?.ok) results[target] = outcome.value;
      else failures.push(`${target}: ${outcome ? (outcome.ok ? '' : outcome.error) : `not run${failure ? ` (${failure})` : ''}`}`);
    }
    const [rule, member, open] = [results['rule'], results['member'], results['open']];
    return {
      op: `list ${LIST}`,
      concurrency: c,
      results,
      ratios: {
        openVsRule: ratio(open?.rps, rule?.rps),
        ruleVsOpenP50: ratio(rule?.latencyMs.p50, open?.latencyMs.p50),
        openVsMember: ratio(open?.rps, member?.rps),
        memberVsOpenP50: ratio(member?.latencyMs.p50, open?.latencyMs.p50),
      },
      ...(failures.length > 0 ? { failure: failures.join('; ') } : {}),
    };
  });
  return {
    scenario: 'policy',
    description: policyScenario.description,
    setup: {
      entities: `${OWNED}, ${MEMBERS} and ${OPEN}: the same ${ROWS} rows (every other one owned by the user, and in a channel the user is a member of), the same fields and the same indexes on ownerId and channelId; Membership: ${CHANNELS + CHANNELS / 2} rows (the other user in all ${CHANNELS} channels, the user in the even ones), unique index (channelId, userId)`,
      rules: { [OWNED]: 'allowRead: auth.userId == data.ownerId', [MEMBERS]: `allowRead: ${MEMBER_OF_CHANNEL}`, [OPEN]: 'allowRead: true' },
      requests: { rule: `GET /api/entities/${OWNED}?limit=${LIST}`, member: `GET /api/entities/${MEMBERS}?limit=${LIST}`, open: `GET /api/entities/${OPEN}?limit=${LIST}` },
      caller: `a session of ${USER}, minted with the admin token through POST /api/auth/session`,
      serverConfig: { rateLimit: 0, logLevel: 'silent', databaseUrl: 'fresh temporary SQLite file' },
    },
    rows,
    checks: rows.flatMap((row) => {
      const value = row.ratios['openVsRule'] ?? null;
      const member = row.ratios['openVsMember'] ?? null;
      return [
        { name: `list ${LIST} c=${row.concurrency}: without a rule req/s < ${LIMIT}x with the owner rule`, pass: value !== null && value < LIMIT, value, limit: LIMIT },
        {
          name: `list ${LIST} c=${row.concurrency}: without a rule req/s < ${MEMBER_LIMIT}x with the membership rule`,
          pass: member !== null && member < MEMBER_LIMIT,
          value: member,
          limit: MEMBER_LIMIT,
        },
      ];
    }),
    table: policyTable(rows),
    ...(context.against === 'pylon'
      ? {
          notes: [
            `Pylon ${PYLON_VERSION} was not run here, because it cannot serve this list: its list endpoint evaluates a read rule once with no row, so under \`auth.userId == data.ownerId\` the owner gets 403 (reference: pylon-policies-auth-functions.md section 1), and its open list of 1,000 rows would mostly measure its 44 ms keep-alive stall (see crud).`,
          ],
        }
      : {}),
  };
}

const num = (value: number | undefined | null, digits = 0): string => (value === undefined || value === null ? '—' : value.toFixed(digits));

function policyTable(rows: readonly ResultRow[]): NonNullable<ScenarioResult['table']> {
  return {
    columns: [
      'op',
      'c',
      'rule req/s',
      'rule p50 ms',
      'rule p99 ms',
      'rule err/non-2xx',
      'member req/s',
      'member p50 ms',
      'member p99 ms',
      'member err/non-2xx',
      'no-rule req/s',
      'no-rule p50 ms',
      'no-rule p99 ms',
      'no-rule err/non-2xx',
      'no-rule/rule req/s',
      'no-rule/member req/s',
      'other CPU %',
    ],
    rows: rows.map((row) => {
      const [rule, member, open] = [row.results['rule'], row.results['member'], row.results['open']];
      return [
        row.op,
        String(row.concurrency),
        num(rule?.rps),
        num(rule?.latencyMs.p50, 2),
        num(rule?.latencyMs.p99, 2),
        rule ? `${rule.errors}/${rule.non2xx}` : '—',
        num(member?.rps),
        num(member?.latencyMs.p50, 2),
        num(member?.latencyMs.p99, 2),
        member ? `${member.errors}/${member.non2xx}` : '—',
        num(open?.rps),
        num(open?.latencyMs.p50, 2),
        num(open?.latencyMs.p99, 2),
        open ? `${open.errors}/${open.non2xx}` : '—',
        num(row.ratios['openVsRule'], 2),
        num(row.ratios['openVsMember'], 2),
        num(Math.max(rule?.foreignCpuPct ?? 0, member?.foreignCpuPct ?? 0, open?.foreignCpuPct ?? 0)),
      ];
    }),
    notes: [
      'The three lists return 1,000 rows of the same shape; `no-rule/rule req/s` is how many times more lists per second the unruled entity serves than the owner-ruled one (the target is under 1.5), `no-rule/member req/s` the same against the membership rule (under 2).',
    ],
  };
}

/** The policy scenario. */
export const policyScenario: Scenario = {
  name: 'policy',
  description:
    'a signed-in user lists 1,000 rows under an owner rule (auth.userId == data.ownerId) and under a membership rule (exists(Membership, …)) against the same list under no restriction, over HTTP at c=1/16',
  run,
};
