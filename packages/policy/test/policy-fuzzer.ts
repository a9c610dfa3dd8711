import type { PolicyAuth, PolicyRow } from '../src/index.js';

/**
 * Random, well-typed read rules on the test Todo entity, random rows and random callers, from a
 * seed (mulberry32), so a failure replays exactly. Rows hold nulls, astral characters and case
 * variants; rules mix every operator, null tests, lists, roles and auth constants.
 */

/** A small deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'text' | 'id' | 'int' | 'float' | 'bool' | 'datetime' | 'json';
const FIELDS: ReadonlyArray<readonly [string, Kind]> = [
  ['title', 'text'],
  ['status', 'text'],
  ['tenantId', 'id'],
  ['ownerId', 'id'],
  ['id', 'id'],
  ['priority', 'int'],
  ['score', 'float'],
  ['done', 'bool'],
  ['due', 'datetime'],
  ['tags', 'json'],
];
const TEXTS = ['', 'a', 'A', 'b', 'é', 'É', 'ß', 'Σ', 'σ', '😀', '𝐀', '\uffee', 'open', 'draft', 'a b', "it's", 'x"y', 'tab\tc'];
const USERS = ['alice', 'bob', 'guest_1', 'carol'];
const TENANTS = ['acme', 'globex'];
const DATES = ['2024-01-01T00:00:00.000Z', '2024-06-01T12:30:00.000Z', '2023-12-31T23:59:59.999Z'];
const DATE_LITERALS = ['2024-01-01', '2024-06-01T12:30:00Z', '2024-01-01T02:00:00+02:00', '2023-12-31T23:59:59.999Z'];
const JSONS: unknown[] = ['x', 3, true, ['home'], { k: 1 }, 'open'];
const ROLES = ['editor', 'admin', 'open', 'viewer'];

/** Writes a string literal the lexer reads back (it knows \\ \" \n \t escapes). */
function quote(text: string, rand: () => number): string {
  if (rand() < 0.3 && !text.includes("'") && !text.includes('\\')) return `'${text}'`;
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\t/g, '\\t')}"`;
}

/** Options of the fuzzer: `relational` mixes `exists` rules over Team / Member / Todo in. */
export interface FuzzerOptions {
  readonly relational?: boolean;
}

const TEAMS = ['acme', 'globex', 'initech'];
const ORGS = ['o1', 'o2'];

/** A generator of rules, rows and callers from one seed. */
export function policyFuzzer(seed: number, options: FuzzerOptions = {}) {
  const rand = prng(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const maybe = <T>(value: () => T): T | null => (rand() < 0.2 ? null : value());
  const text = (): string => pick(TEXTS) + (rand() < 0.3 ? pick(TEXTS) : '');

  const literal = (kind: Kind): string => {
    switch (kind) {
      case 'text':
        return quote(text(), rand);
      case 'id':
        return quote(pick([...USERS, ...TENANTS, 't1', 'r3']), rand);
      case 'int':
        return rand() < 0.15 ? `"${int(8) - 2}"` : String(int(8) - 2);
      case 'float':
        return pick(['-1', '0', '0.5', '2.5', '"0.5"', '1e3']);
      case 'bool':
        return pick(['true', 'false']);
      case 'datetime':
        return quote(pick(DATE_LITERALS), rand);
      case 'json':
        return pick(['"x"', '3', 'true', '"open"', '"3"']);
    }
  };

  const leaf = (): string => {
    const [field, kind] = pick(FIELDS);
    const data = `data.${field}`;
    const r = rand();
    if (r < 0.1) return `${data} ${pick(['==', '!='])} null`;
    if (r < 0.2 && kind !== 'json') return kind === 'bool' || kind === 'text' || kind === 'int' ? data : `${data} != null`;
    if (r < 0.32) {
      const items = Array.from({ length: int(4) }, () => literal(kind));
      if (kind === 'id' && rand() < 0.5) items.push('auth.userId');
      return `${data} in [${items.join(', ')}]`;
    }
    if (r < 0.38 && (kind === 'text' || kind === 'id' || kind === 'json')) return `${data} in auth.roles`;
    if (r < 0.5 && kind === 'id') return rand() < 0.5 ? `${data} ${pick(['==', '!=', '<', '>='])} auth.userId` : `auth.tenantId ${pick(['==', '!='])} ${data}`;
    const ordered = kind !== 'bool' && kind !== 'json';
    const op = ordered ? pick(['==', '!=', '<', '<=', '>', '>=']) : pick(['==', '!=']);
    return rand() < 0.2 ? `${literal(kind)} ${op} ${data}` : `${data} ${op} ${literal(kind)}`;
  };

  /** A condition on Member `m`; `outer` names the rows it may relate to (data, or a Team `c`). */
  const memberLeaf = (m: string, outer: 'data' | 'team'): string => {
    const r = rand();
    if (r < 0.25)
      return `${m}.userId ${pick(['==', '==', '!='])} ${rand() < 0.8 ? 'auth.userId' : outer === 'data' ? 'data.ownerId' : pick(['data.ownerId', quote(pick(USERS), rand)])}`;
    if (r < 0.5)
      return outer === 'data' ? `${m}.teamId ${pick(['==', '==', '!='])} data.tenantId` : `${pick([`${m}.teamId == c.id`, `${m}.orgId == c.orgId`, `c.id != ${m}.teamId`])}`;
    if (r < 0.6) return `${m}.role ${pick(['==', '!='])} ${pick(['"admin"', '"member"', 'null'])}`;
    if (r < 0.7) return `${m}.role in ["owner", "${pick(['admin', 'member'])}"]`;
    if (r < 0.8) return `${m}.level ${pick(['>', '<=', '=='])} ${int(4)}`;
    if (r < 0.88) return `${m}.orgId == ${pick(['null', quote(pick(ORGS), rand)])}`;
    return `${m}.teamId in [${quote(pick(TEAMS), rand)}, auth.tenantId]`;
  };

  const conj = (parts: () => string, n: number): string => {
    const items = Array.from({ length: n }, parts);
    return items.join(rand() < 0.75 ? ' && ' : ' || ');
  };

  /** An `exists` over Member, Team (two levels) or Todo itself. */
  const relationalLeaf = (): string => {
    const not = rand() < 0.2 ? '!' : '';
    const r = rand();
    if (r < 0.5) return `${not}exists(Member, m => ${conj(() => memberLeaf('m', 'data'), 1 + int(3))})`;
    if (r < 0.85) {
      const inner =
        rand() < 0.7 ? `${rand() < 0.3 ? '!' : ''}exists(Member, m => ${conj(() => memberLeaf('m', 'team'), 1 + int(3))})` : pick(['c.open', '!c.open', 'c.orgId == null']);
      return `${not}exists(Team, c => c.id ${pick(['==', '==', '!='])} data.tenantId && ${inner})`;
    }
    return `${not}exists(Todo, o => o.ownerId == data.ownerId && o.id != data.id${rand() < 0.5 ? ` && o.priority > ${int(6)}` : ''})`;
  };

  const authLeaf = (): string =>
    pick([
      'auth.userId != null',
      'auth.userId == null',
      'auth.isGuest',
      '!auth.isAdmin',
      `auth.hasRole("${pick(ROLES)}")`,
      `auth.hasAnyRole("${pick(ROLES)}", "${pick(ROLES)}")`,
      `"${pick(ROLES)}" in auth.roles`,
      `auth.tenantId == "${pick(TENANTS)}"`,
      `auth.orgRole in ["owner", "${pick(ROLES)}"]`,
      'auth.userId',
      'true',
      'false',
    ]);

  const expression = (depth = 3): string => {
    const r = rand();
    if (depth <= 0 || r < 0.3) {
      if (options.relational && rand() < 0.25) return relationalLeaf();
      return rand() < 0.85 ? leaf() : authLeaf();
    }
    if (r < 0.42) return `!(${expression(depth - 1)})`;
    const parts = Array.from({ length: 2 + int(2) }, () => expression(depth - 1));
    const joined = parts.join(r < 0.7 ? ' && ' : ' || ');
    return rand() < 0.5 ? `(${joined})` : joined;
  };

  const row = (id: string): PolicyRow & { id: string } => ({
    id,
    title: maybe(text),
    status: maybe(() => pick(['open', 'draft', 'published', 'editor', 'É'])),
    tenantId: maybe(() => pick(TENANTS)),
    ownerId: maybe(() => pick(USERS)),
    priority: maybe(() => int(8) - 2),
    score: maybe(() => pick([-1, 0, 0.5, 2.5, 1000])),
    done: maybe(() => rand() < 0.5),
    due: maybe(() => pick(DATES)),
    tags: maybe(() => pick(JSONS)),
  });

  const auth = (): PolicyAuth => {
    const userId = rand() < 0.25 ? null : pick(USERS);
    const isAdmin = rand() < 0.1;
    const roles = ROLES.filter(() => rand() < 0.3);
    const tenantId = rand() < 0.3 ? null : pick(TENANTS);
    return { userId, isAdmin, isGuest: userId === 'guest_1', roles, tenantId, orgRole: tenantId === null ? null : pick(['owner', 'admin', 'member']) };
  };

  /** Orgs, teams (the Todo rows' tenants) and memberships, with nulls, for relational rules. */
  const related = (): Record<'Org' | 'Team' | 'Member', Array<PolicyRow & { id: string }>> => ({
    Org: ORGS.map((id) => ({ id, name: id })),
    Team: TEAMS.map((id) => ({ id, orgId: maybe(() => pick(ORGS)), name: id, open: maybe(() => rand() < 0.5) })),
    Member: Array.from({ length: 12 }, (_, i) => ({
      id: `m${i}`,
      teamId: maybe(() => pick(TEAMS)),
      orgId: rand() < 0.5 ? null : pick(ORGS),
      userId: maybe(() => pick(USERS)),
      role: maybe(() => pick(['admin', 'member', 'owner'])),
      level: maybe(() => int(4)),
    })),
  });

  return { expression, row, auth, int, related };
}
