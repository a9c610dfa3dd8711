import type { PolicyAuth, PolicyRow } from '../src/index.js';
import { AUTHS, ROWS, type AuthName } from './fixtures.js';

/**
 * The shared policy table: a read rule on Todo, a caller, and the ids of the ROWS it allows
 * (every other row is denied). Each entry expands to one (expression, row, auth, expected) case
 * per row; the in-memory evaluator, the filter evaluated in memory and the filter run through
 * a real SQL store must all give the expected answer. Relational cases read RELATED's rows
 * (and the Todo ROWS themselves).
 */
export interface PolicyCase {
  readonly expr: string;
  readonly auth: AuthName;
  readonly allows: readonly string[];
}

const ALL = ROWS.map((r) => r.id);
const but = (...ids: string[]): string[] => ALL.filter((id) => !ids.includes(id));

/** Every read-rule case, by theme. */
export const POLICY_CASES: readonly PolicyCase[] = [
  // Ownership: null never equals null, so anonymous callers own nothing (Pylon: t3 and lists leak).
  { expr: 'auth.userId == data.ownerId', auth: 'anon', allows: [] },
  { expr: 'auth.userId == data.ownerId', auth: 'alice', allows: ['t1', 't4'] },
  { expr: 'data.ownerId == auth.userId', auth: 'bob', allows: ['t2'] },
  { expr: 'auth.user_id == data.ownerId', auth: 'alice', allows: ['t1', 't4'] },
  { expr: 'auth.userId != data.ownerId', auth: 'alice', allows: ['t2', 't3', 't5'] },
  { expr: 'auth.userId != data.ownerId', auth: 'anon', allows: ALL },
  { expr: '!(auth.userId == data.ownerId)', auth: 'alice', allows: ['t2', 't3', 't5'] },
  { expr: 'data.id != auth.userId', auth: 'anon', allows: ALL },
  { expr: 'auth.tenantId == data.tenantId', auth: 'alice', allows: ['t1', 't2'] },
  { expr: 'auth.tenantId == data.tenantId', auth: 'anon', allows: [] },
  { expr: 'data.tenantId == auth.tenantId || data.ownerId == auth.userId', auth: 'bob', allows: ['t2', 't4'] },
  // The role in the selected org: only members of the row's tenant, and only its admins and owners for some rows.
  { expr: 'auth.tenantId == data.tenantId && auth.orgRole in ["owner", "admin"]', auth: 'alice', allows: ['t1', 't2'] },
  { expr: 'auth.tenantId == data.tenantId && auth.orgRole in ["owner", "admin"]', auth: 'bob', allows: [] },
  { expr: 'data.tenantId == auth.tenantId && (auth.org_role == "admin" || data.ownerId == auth.userId)', auth: 'bob', allows: [] },
  { expr: 'data.tenantId == auth.tenantId && (auth.orgRole == "member" || data.done)', auth: 'bob', allows: ['t4'] },
  { expr: 'auth.orgRole != null && data.status == "open"', auth: 'alice', allows: ['t1', 't5'] },
  { expr: 'auth.orgRole == null', auth: 'guest', allows: ALL },
  { expr: 'auth.orgRole == data.status', auth: 'anon', allows: [] },
  // Explicit null tests.
  { expr: 'data.ownerId == null', auth: 'anon', allows: ['t3'] },
  { expr: 'null != data.ownerId', auth: 'anon', allows: but('t3') },
  { expr: 'auth.userId != null', auth: 'anon', allows: [] },
  { expr: 'auth.userId != null', auth: 'guest', allows: ALL },
  { expr: 'auth.userId != null && !auth.isGuest', auth: 'guest', allows: [] },
  { expr: 'auth.userId != null && !auth.is_guest', auth: 'bob', allows: ALL },
  { expr: 'auth.userId == null', auth: 'anon', allows: ALL },
  { expr: 'null == null', auth: 'bob', allows: ALL },
  // Pylon's example rules.
  { expr: 'auth.isAdmin || (auth.userId != null && data.status == "published")', auth: 'alice', allows: ['t2'] },
  { expr: 'auth.isAdmin || (auth.userId != null && data.status == "published")', auth: 'admin', allows: ALL },
  { expr: 'auth.isAdmin || (auth.userId != null && data.status == "published")', auth: 'anon', allows: [] },
  { expr: "data.status == 'published'", auth: 'anon', allows: ['t2'] },
  // Numbers, including Pylon's numbers-as-decimal-text literals, and negation around nulls.
  { expr: 'data.priority > 2', auth: 'anon', allows: ['t2', 't4', 't5'] },
  { expr: 'data.priority >= 5', auth: 'anon', allows: ['t2', 't4'] },
  { expr: 'data.priority < 5', auth: 'anon', allows: ['t1', 't5'] },
  { expr: '!(data.priority < 5)', auth: 'anon', allows: ['t2', 't3', 't4'] },
  { expr: '3 <= data.priority', auth: 'anon', allows: ['t2', 't4', 't5'] },
  { expr: 'data.priority == "5"', auth: 'anon', allows: ['t2'] },
  { expr: 'data.priority != 5', auth: 'anon', allows: but('t2') },
  { expr: 'data.score <= 0.5', auth: 'anon', allows: ['t1', 't4'] },
  { expr: 'data.score > -1', auth: 'anon', allows: ['t1', 't2'] },
  // Booleans and bare values as conditions.
  { expr: 'data.done', auth: 'anon', allows: ['t2', 't4'] },
  { expr: '!data.done', auth: 'anon', allows: ['t1', 't3', 't5'] },
  { expr: 'data.done == false', auth: 'anon', allows: ['t1', 't3'] },
  { expr: 'data.done != true', auth: 'anon', allows: ['t1', 't3', 't5'] },
  { expr: 'data.title', auth: 'anon', allows: but('t3') },
  { expr: 'data.priority', auth: 'anon', allows: but('t3') },
  { expr: 'auth.userId', auth: 'anon', allows: [] },
  { expr: 'auth.tenantId && data.done', auth: 'alice', allows: ['t2', 't4'] },
  // Lists, roles and functions.
  { expr: 'data.status in ["open", "draft"]', auth: 'anon', allows: ['t1', 't4', 't5'] },
  { expr: '!(data.status in ["open"])', auth: 'anon', allows: ['t2', 't3', 't4'] },
  { expr: 'data.status in []', auth: 'anon', allows: [] },
  { expr: 'data.ownerId in [auth.userId, "bob"]', auth: 'alice', allows: ['t1', 't2', 't4'] },
  { expr: 'data.ownerId in [auth.userId, "bob"]', auth: 'anon', allows: ['t2'] },
  { expr: 'data.priority in [1, "10"]', auth: 'anon', allows: ['t1', 't4'] },
  { expr: '"editor" in auth.roles', auth: 'alice', allows: ALL },
  { expr: '"editor" in auth.roles', auth: 'bob', allows: [] },
  { expr: 'data.status in auth.roles', auth: 'admin', allows: [] },
  { expr: 'auth.userId in ["alice", "bob"] && data.done', auth: 'bob', allows: ['t2', 't4'] },
  { expr: 'auth.hasRole("editor")', auth: 'alice', allows: ALL },
  { expr: 'auth.hasRole("editor")', auth: 'admin', allows: ALL },
  { expr: 'auth.hasRole("editor")', auth: 'bob', allows: [] },
  { expr: 'auth.hasAnyRole("x", "editor") && data.done == false', auth: 'alice', allows: ['t1', 't3'] },
  // json: compared by JSON text, so 3 is not "3".
  { expr: 'data.tags == "x"', auth: 'anon', allows: ['t4'] },
  { expr: 'data.tags == 3', auth: 'anon', allows: ['t5'] },
  { expr: 'data.tags == "3"', auth: 'anon', allows: [] },
  { expr: 'data.tags != "x"', auth: 'anon', allows: but('t4') },
  { expr: 'data.tags in ["x", 3, true]', auth: 'anon', allows: ['t4', 't5'] },
  // Datetimes: literals are normalised to the stored ISO form.
  { expr: 'data.due > "2024-03-01"', auth: 'anon', allows: ['t2'] },
  { expr: 'data.due == "2024-01-01"', auth: 'anon', allows: ['t1'] },
  { expr: 'data.due < "2024-01-01T03:00:00+02:00"', auth: 'anon', allows: ['t1', 't5'] },
  // Strings: code-point order ('É' > 'z'; astral after everything in the BMP).
  { expr: 'data.title < "a"', auth: 'anon', allows: ['t1', 't2', 't3'] },
  { expr: 'data.title > "Élan"', auth: 'anon', allows: ['t4'] },
  { expr: 'data.title >= "Élan \uffee"', auth: 'anon', allows: ['t4'] },
  { expr: 'data.title == ""', auth: 'anon', allows: ['t3'] },
  { expr: 'data.title == "Élan 😀"', auth: 'anon', allows: ['t4'] },
  // Structure: precedence, nesting, constants, several lines.
  { expr: 'data.id == "t1" || data.id == "t3"', auth: 'anon', allows: ['t1', 't3'] },
  { expr: '(data.done == true || data.priority > 4) && data.ownerId == "alice"', auth: 'anon', allows: ['t4'] },
  { expr: 'data.done == true || data.priority > 4 && data.ownerId == "alice"', auth: 'anon', allows: ['t2', 't4'] },
  { expr: 'data.done == true\n  && data.priority >= 10', auth: 'anon', allows: ['t4'] },
  { expr: '!!data.done', auth: 'anon', allows: ['t2', 't4'] },
  { expr: 'true', auth: 'anon', allows: ALL },
  { expr: 'false || !true', auth: 'admin', allows: [] },
  { expr: '"a" == "a" && 1 < 2', auth: 'anon', allows: ALL },
  // Relational: a related row exists (RELATED holds the teams, orgs and memberships).
  { expr: 'exists(Member, m => m.teamId == data.tenantId && m.userId == auth.userId)', auth: 'alice', allows: ['t1', 't2'] },
  { expr: 'exists(Member, m => m.teamId == data.tenantId && m.userId == auth.userId)', auth: 'bob', allows: ['t1', 't2', 't4'] },
  { expr: 'exists(Member, m => m.teamId == data.tenantId && m.userId == auth.userId)', auth: 'anon', allows: [] },
  { expr: 'exists(Member, m => data.tenantId == m.teamId && auth.userId == m.userId && m.role == "admin")', auth: 'bob', allows: [] },
  { expr: 'exists(Member, m => m.teamId == data.tenantId && m.userId == auth.userId && m.role in ["owner", "admin"])', auth: 'alice', allows: ['t1', 't2'] },
  { expr: '!exists(Member, m => m.teamId == data.tenantId)', auth: 'anon', allows: ['t3', 't5'] },
  { expr: 'data.ownerId == auth.userId || exists(Member, m => m.teamId == data.tenantId && m.userId == auth.userId)', auth: 'alice', allows: ['t1', 't2', 't4'] },
  { expr: 'data.done && exists(Member, m => m.teamId == data.tenantId && m.userId == auth.userId)', auth: 'bob', allows: ['t2', 't4'] },
  { expr: 'exists(Team, c => c.id == data.tenantId && c.open)', auth: 'anon', allows: ['t1', 't2'] },
  { expr: 'exists(Team, c => c.id == data.tenantId && c.open != true)', auth: 'anon', allows: ['t4'] },
  { expr: 'exists(Member, m => m.userId == auth.userId && m.level > 2)', auth: 'alice', allows: ALL },
  { expr: 'exists(Member, m => m.userId == auth.userId && m.level > 2)', auth: 'bob', allows: [] },
  { expr: 'exists(Member, m => m.teamId != data.tenantId && m.userId == auth.userId && m.role == "admin")', auth: 'alice', allows: ['t3', 't4', 't5'] },
  { expr: 'exists(Member, m => m.level == null && m.userId == auth.userId)', auth: 'bob', allows: ALL },
  // Two levels: through the Todo's team to its org's memberships, and a negated inner level.
  { expr: 'exists(Team, c => c.id == data.tenantId && exists(Member, m => m.orgId == c.orgId && m.userId == auth.userId))', auth: 'alice', allows: ['t4'] },
  { expr: 'exists(Team, c => c.id == data.tenantId && exists(Member, m => m.orgId == c.orgId && m.userId == auth.userId))', auth: 'bob', allows: [] },
  { expr: 'exists(Team, c => c.id == data.tenantId && !exists(Member, m => m.teamId == c.id && m.userId == auth.userId))', auth: 'alice', allows: ['t4'] },
  { expr: 'exists(Team, c => c.id == data.tenantId && !exists(Member, m => m.teamId == c.id && m.userId == auth.userId))', auth: 'anon', allows: ['t1', 't2', 't4'] },
  { expr: 'exists(Team, c => c.id == data.tenantId && exists(Member, m => m.teamId == c.id && m.userId == data.ownerId))', auth: 'anon', allows: ['t1', 't2'] },
  // The same entity inside itself: a Todo whose owner has another Todo.
  { expr: 'exists(Todo, o => o.ownerId == data.ownerId && o.id != data.id)', auth: 'anon', allows: ['t1', 't4'] },
];

/** One expanded case: an expression, a row, a caller and whether the row is allowed. */
export interface ExpandedPolicyCase {
  readonly expr: string;
  readonly authName: AuthName;
  readonly auth: PolicyAuth;
  readonly row: PolicyRow & { id: string };
  readonly expected: boolean;
}

/** Expands the table to one case per row. */
export function expandPolicyCases(cases: readonly PolicyCase[] = POLICY_CASES): ExpandedPolicyCase[] {
  return cases.flatMap((c) => ROWS.map((row) => ({ expr: c.expr, authName: c.auth, auth: AUTHS[c.auth], row, expected: c.allows.includes(row.id) })));
}
