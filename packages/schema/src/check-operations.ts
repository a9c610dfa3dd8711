import { diagnostic, type Diagnostic } from './manifest-error.js';
import type { ParsedField, ParsedManifest } from './manifest-shape.js';
import { checkFieldType } from './check-entities.js';
import { parseRoomPattern } from './room-pattern.js';
import { didYouMean } from './suggest-name.js';

type Operation = { name: string; input?: ParsedField[] | undefined };

const ROUTE_MODES = ['static', 'server', 'live'];
const ROUTE_AUTHS = ['public', 'user'];

function checkOperations(kind: 'query' | 'action', list: readonly Operation[], entityNames: ReadonlySet<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const key = kind === 'query' ? 'queries' : 'actions';
  const codes =
    kind === 'query' ? ({ empty: 'QUERY_NAME_EMPTY', duplicate: 'QUERY_DUPLICATE' } as const) : ({ empty: 'ACTION_NAME_EMPTY', duplicate: 'ACTION_DUPLICATE' } as const);
  list.forEach((op, i) => {
    const path = op.name === '' ? `${key}[${i}]` : `${key}[${i}] ${op.name}`;
    const label = op.name === '' ? `${kind} ${key}[${i}]` : `${kind} ${op.name}`;
    if (op.name === '') out.push(diagnostic(codes.empty, path, `${label}: ${kind} has an empty name`));
    const input = op.input ?? [];
    input.forEach((field, j) => {
      const fieldPath = field.name === '' ? `${path}.input[${j}]` : `${path}.input[${j}] ${field.name}`;
      const fieldLabel = field.name === '' ? `${label} input[${j}]` : `${label} input ${field.name}`;
      if (field.name === '') out.push(diagnostic('INPUT_FIELD_NAME_EMPTY', fieldPath, `${fieldLabel}: input has an empty name`));
      out.push(...checkFieldType(field, fieldLabel, fieldPath, entityNames, 'INPUT_FIELD_TYPE_UNKNOWN'));
    });
    for (const dup of exactDuplicates(input.map((f) => f.name))) {
      const name = input[dup.index]!.name;
      out.push(
        diagnostic('INPUT_FIELD_DUPLICATE', `${path}.input[${dup.index}] ${name}`, `${label} input ${name}: input is declared more than once (first at input[${dup.first}])`),
      );
    }
  });
  for (const dup of exactDuplicates(list.map((op) => op.name))) {
    const name = list[dup.index]!.name;
    out.push(diagnostic(codes.duplicate, `${key}[${dup.index}] ${name}`, `${kind} ${name}: declared more than once (first at ${key}[${dup.first}])`));
  }
  return out;
}

/** Duplicates compared exactly (query, action, policy and input names are not SQL identifiers). */
function exactDuplicates(names: readonly string[]): { index: number; first: number }[] {
  const seen = new Map<string, number>();
  const out: { index: number; first: number }[] = [];
  names.forEach((name, index) => {
    if (name === '') return;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, index);
    else out.push({ index, first });
  });
  return out;
}

function checkPolicies(manifest: ParsedManifest, entityNames: ReadonlySet<string>, actionNames: ReadonlySet<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const policies = manifest.policies ?? [];
  policies.forEach((policy, i) => {
    const path = policy.name === '' ? `policies[${i}]` : `policies[${i}] ${policy.name}`;
    const label = policy.name === '' ? `policy policies[${i}]` : `policy ${policy.name}`;
    if (policy.name === '') out.push(diagnostic('POLICY_NAME_EMPTY', path, `${label}: policy has an empty name`));
    const entity = policy.entity ?? undefined;
    const action = policy.action ?? undefined;
    const room = policy.room ?? undefined;
    if (room !== undefined) {
      out.push(...checkRoomPolicy(policy, path, label, room));
      return;
    }
    const allows = [policy.allow, policy.allowRead, policy.allowInsert, policy.allowUpdate, policy.allowDelete, policy.allowWrite];
    if (!allows.some((expr) => typeof expr === 'string' && expr !== '')) {
      out.push(diagnostic('POLICY_ALLOW_EMPTY', path, `${label}: no allow expression is set`, 'set allow, or one of allowRead, allowInsert, allowUpdate, allowDelete, allowWrite'));
    }
    if (policy.allowJoin != null && policy.allowJoin !== '') {
      out.push(diagnostic('POLICY_ROOM_INVALID', path, `${label}: allowJoin guards rooms, and this policy names no room`, 'add "room": "channel:{id}" (a room name pattern)'));
    }
    if (entity === undefined && action === undefined) {
      out.push(diagnostic('POLICY_NO_TARGET', path, `${label}: names neither an entity nor an action`));
    }
    if (entity !== undefined && !entityNames.has(entity)) {
      out.push(
        diagnostic(
          'POLICY_ENTITY_NOT_FOUND',
          path,
          `${label}: entity "${entity}" is not a declared entity${didYouMean(entity, entityNames)}`,
          `declared entities: ${[...entityNames].join(', ') || '(none)'}`,
        ),
      );
    }
    if (action !== undefined && !actionNames.has(action)) {
      out.push(
        diagnostic(
          'POLICY_ACTION_NOT_FOUND',
          path,
          `${label}: action "${action}" is not a declared action${didYouMean(action, actionNames)}`,
          `declared actions: ${[...actionNames].join(', ') || '(none)'}`,
        ),
      );
    }
  });
  for (const dup of exactDuplicates(policies.map((p) => p.name))) {
    const name = policies[dup.index]!.name;
    out.push(diagnostic('POLICY_DUPLICATE', `policies[${dup.index}] ${name}`, `policy ${name}: declared more than once (first at policies[${dup.first}])`));
  }
  return out;
}

/** A room policy: a valid pattern, a non-empty allowJoin, and no entity, action or other rule. */
function checkRoomPolicy(policy: NonNullable<ParsedManifest['policies']>[number], path: string, label: string, room: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const pattern = parseRoomPattern(room);
  if (typeof pattern === 'string') out.push(diagnostic('POLICY_ROOM_INVALID', `${path}.room`, `${label}: room pattern "${room}": ${pattern}`, 'e.g. "channel:{id}"'));
  if (policy.entity != null || policy.action != null) {
    out.push(diagnostic('POLICY_ROOM_INVALID', path, `${label}: a room policy names no entity or action`, 'declare the room rule as a policy of its own'));
  }
  const others = (['allow', 'allowRead', 'allowInsert', 'allowUpdate', 'allowDelete', 'allowWrite'] as const).filter((k) => policy[k] != null && policy[k] !== '');
  if (others.length > 0) out.push(diagnostic('POLICY_ROOM_INVALID', path, `${label}: a room policy has allowJoin only, not ${others.join(', ')}`));
  if (policy.allowJoin == null || policy.allowJoin === '') {
    out.push(
      diagnostic(
        'POLICY_ALLOW_EMPTY',
        path,
        `${label}: no allowJoin expression is set`,
        'e.g. "allowJoin": "exists(Membership, m => m.channelId == room.id && m.userId == auth.userId)"',
      ),
    );
  }
  return out;
}

function checkRoutes(manifest: ParsedManifest): Diagnostic[] {
  const out: Diagnostic[] = [];
  const queries = new Map<string, Operation>();
  for (const q of manifest.queries ?? []) if (!queries.has(q.name)) queries.set(q.name, q);
  manifest.routes.forEach((route, i) => {
    const path = route.path === '' ? `routes[${i}]` : `routes[${i}] ${route.path}`;
    const label = route.path === '' ? `route routes[${i}]` : `route ${route.path}`;
    if (route.path === '') out.push(diagnostic('ROUTE_PATH_EMPTY', path, `${label}: route has an empty path`));
    else if (!route.path.startsWith('/')) {
      out.push(diagnostic('ROUTE_PATH_NO_SLASH', path, `${label}: path must start with "/"`, `write "/${route.path}"`));
    }
    if (!ROUTE_MODES.includes(route.mode)) {
      out.push(diagnostic('ROUTE_MODE_INVALID', path, `${label}: mode "${route.mode}" is not static, server or live`));
    }
    const auth = route.auth ?? undefined;
    if (auth !== undefined && !ROUTE_AUTHS.includes(auth)) {
      out.push(diagnostic('ROUTE_AUTH_INVALID', path, `${label}: auth "${auth}" is not public or user`));
    }
    const queryName = route.query ?? undefined;
    if (queryName === undefined) return;
    const query = queries.get(queryName);
    if (!query) {
      out.push(diagnostic('ROUTE_QUERY_NOT_FOUND', path, `${label}: query "${queryName}" is not a declared query${didYouMean(queryName, queries.keys())}`));
      return;
    }
    const inputs = new Set((query.input ?? []).map((f) => f.name));
    for (const segment of route.path.split('/')) {
      if (!segment.startsWith(':')) continue;
      const param = segment.slice(1);
      if (inputs.has(param)) continue;
      out.push(
        diagnostic(
          'ROUTE_PARAM_NOT_IN_QUERY',
          path,
          `${label}: path parameter ":${param}" is not an input of query ${queryName}`,
          `add an input named "${param}" to query ${queryName}`,
        ),
      );
    }
  });
  for (const dup of exactDuplicates(manifest.routes.map((r) => r.path))) {
    const routePath = manifest.routes[dup.index]!.path;
    out.push(diagnostic('ROUTE_PATH_DUPLICATE', `routes[${dup.index}] ${routePath}`, `route ${routePath}: path is declared more than once (first at routes[${dup.first}])`));
  }
  return out;
}

/** Checks queries, actions (and their inputs), policies and routes. */
export function checkOperationsAndAccess(manifest: ParsedManifest): Diagnostic[] {
  const entityNames = new Set(manifest.entities.map((e) => e.name).filter((n) => n !== ''));
  const actionNames = new Set((manifest.actions ?? []).map((a) => a.name).filter((n) => n !== ''));
  return [
    ...checkOperations('query', manifest.queries ?? [], entityNames),
    ...checkOperations('action', manifest.actions ?? [], entityNames),
    ...checkPolicies(manifest, entityNames, actionNames),
    ...checkRoutes(manifest),
  ];
}
