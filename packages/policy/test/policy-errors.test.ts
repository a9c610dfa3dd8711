import { describe, expect, it } from 'vitest';
import type { ManifestPolicy } from '@mast/schema';
import { checkPolicy, compilePolicies, entityScope, formatPolicyDiagnostics, parsePolicy, PolicyError, type PolicyCode, type PolicyOperation } from '../src/index.js';
import { policyTestSchema } from './fixtures.js';

const schema = policyTestSchema();
const todo = schema.entitiesByName.get('Todo')!;
const origin = { policy: 'todo_owner', rule: 'allowRead', path: 'policies[0] todo_owner.allowRead' } as const;

function errorOf(source: string, operation: PolicyOperation = 'read'): PolicyError {
  try {
    checkPolicy(parsePolicy(source, origin), entityScope(todo, operation, schema), source, origin);
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(source)} to be rejected`);
}

/** [expression, code, column, words the message must contain] */
const BAD: ReadonlyArray<readonly [string, PolicyCode, number, readonly string[]]> = [
  // Syntax
  ['', 'POLICY_SYNTAX', 1, ['empty']],
  ['auth.userId = data.ownerId', 'POLICY_SYNTAX', 13, ['"=="']],
  ['data.done & true', 'POLICY_SYNTAX', 11, ['"&&"']],
  ['data.done | true', 'POLICY_SYNTAX', 11, ['"||"']],
  ['data.title == "abc', 'POLICY_SYNTAX', 15, ['unterminated']],
  ['data.title == "a\\qb"', 'POLICY_SYNTAX', 17, ['escape']],
  ['(data.done', 'POLICY_SYNTAX', 11, ['")"', 'end of the expression']],
  ['data.done == true)', 'POLICY_SYNTAX', 18, ['unexpected']],
  ['data.done &&', 'POLICY_SYNTAX', 13, ['ends too early']],
  ['data.priority == 1 == 1', 'POLICY_SYNTAX', 20, ['chain']],
  ['data.priority == 01', 'POLICY_SYNTAX', 18, ['malformed number']],
  ['data.title == @x', 'POLICY_SYNTAX', 15, ['"@"']],
  ['data.', 'POLICY_SYNTAX', 6, ['after "."']],
  [`${'!'.repeat(70)}data.done`, 'POLICY_TOO_DEEP', 65, ['64']],
  // Names
  ['auth.userId == data.ownr', 'POLICY_UNKNOWN_FIELD', 16, ['unknown field data.ownr on Todo', 'did you mean ownerId?']],
  ['data.Title == "x"', 'POLICY_UNKNOWN_FIELD', 1, ['did you mean title?']],
  ['data == null', 'POLICY_UNKNOWN_FIELD', 1, ['data.<field>']],
  ['auth.userid == data.ownerId', 'POLICY_UNKNOWN_AUTH', 1, ['auth.userid', 'did you mean userId?']],
  ['auth.email == "x"', 'POLICY_UNKNOWN_AUTH', 1, ['unknown auth property auth.email']],
  ['record.ownerId == auth.userId', 'POLICY_UNKNOWN_ROOT', 1, ['unknown name record.ownerId']],
  ['dta.done', 'POLICY_UNKNOWN_ROOT', 1, ['did you mean data?']],
  ['data.tags.color == "red"', 'POLICY_NESTED_PATH', 1, ['data.tags.color']],
  ['input.title == "x"', 'POLICY_SCOPE', 1, ['input.title', 'read']],
  // Types
  ['data.done == "yes"', 'POLICY_TYPE_MISMATCH', 14, ['data.done (bool)', '"yes"']],
  ['data.title == 3', 'POLICY_TYPE_MISMATCH', 15, ['data.title (string)']],
  ['data.priority == "five"', 'POLICY_TYPE_MISMATCH', 18, ['data.priority (int)']],
  ['data.priority == "05"', 'POLICY_TYPE_MISMATCH', 18, ['data.priority']],
  ['data.ownerId == auth.isAdmin', 'POLICY_TYPE_MISMATCH', 14, ['cannot compare data.ownerId (string) with auth.isAdmin (bool)']],
  ['data.tags > 3', 'POLICY_TYPE_MISMATCH', 11, ['orders numbers, text and datetimes', 'json']],
  ['data.done < true', 'POLICY_TYPE_MISMATCH', 11, ['bool']],
  ['data.ownerId == auth.roles', 'POLICY_TYPE_MISMATCH', 14, ['auth.roles is a list; use in']],
  ['data.title in data.status', 'POLICY_TYPE_MISMATCH', 15, ['list [...] or auth.roles']],
  ['data.priority in ["a"]', 'POLICY_TYPE_MISMATCH', 19, ['data.priority (int)']],
  ['(data.done == true) == false', 'POLICY_TYPE_MISMATCH', 12, ['condition']],
  ['!data.done == true', 'POLICY_TYPE_MISMATCH', 1, ['condition']],
  ['data.tags', 'POLICY_NOT_CONDITION', 1, ['data.tags is a json']],
  ['auth.roles', 'POLICY_NOT_CONDITION', 1, ['hasRole']],
  ['[1, 2]', 'POLICY_NOT_CONDITION', 1, ['list']],
  // Literals
  ['data.priority > 2.5', 'POLICY_BAD_LITERAL', 17, ['not an integer']],
  ['data.priority == 9007199254740993', 'POLICY_BAD_LITERAL', 18, ['±2^53']],
  ['data.due > "yesterday"', 'POLICY_BAD_LITERAL', 12, ['ISO-8601']],
  ['data.due > "2024-02-30"', 'POLICY_BAD_LITERAL', 12, ['ISO-8601']],
  ['data.priority > null', 'POLICY_BAD_LITERAL', 15, ['null']],
  ['data.status in ["a", null]', 'POLICY_BAD_LITERAL', 22, ['null']],
  ['null in ["a"]', 'POLICY_BAD_LITERAL', 1, ['null']],
  // Functions
  ['auth.hasRoles("x")', 'POLICY_UNKNOWN_FUNCTION', 1, ['auth.hasRoles', 'did you mean auth.hasRole?']],
  ['data.title.startsWith("x")', 'POLICY_UNKNOWN_FUNCTION', 1, ['data.title.startsWith']],
  ['auth.hasRole("a", "b")', 'POLICY_ARITY', 1, ['exactly one role', '2 arguments']],
  ['auth.hasAnyRole()', 'POLICY_ARITY', 1, ['at least one role']],
  ['auth.hasRole(data.status)', 'POLICY_TYPE_MISMATCH', 14, ['string literals']],
  // Row against row: no filter form
  ['data.ownerId == data.tenantId', 'POLICY_DATA_COMPARISON', 14, ['data.ownerId == data.tenantId', 'two fields of the row']],
  ['data.priority < data.score', 'POLICY_DATA_COMPARISON', 15, ['two fields']],
  ['auth.userId in [data.ownerId]', 'POLICY_DATA_COMPARISON', 17, ['not data.ownerId']],
  // Relational: exists(Entity, r => …)
  ['exists(Membr, m => m.userId == auth.userId)', 'POLICY_UNKNOWN_ENTITY', 8, ['unknown entity Membr', 'did you mean Member?']],
  ['exists(Member, m => m.usrId == auth.userId)', 'POLICY_UNKNOWN_FIELD', 21, ['unknown field m.usrId on Member', 'did you mean userId?']],
  ['exists(Member, m => n.userId == auth.userId)', 'POLICY_UNKNOWN_ROOT', 21, ['unknown name n.userId', 'did you mean m?']],
  ['exists(Member, m => m.level == data.tenantId)', 'POLICY_TYPE_MISMATCH', 29, ['cannot relate m.level (int) to data.tenantId (string)']],
  ['exists(Member, m => m.userId == data.tags)', 'POLICY_TYPE_MISMATCH', 30, ['json']],
  ['exists(Member, m => m.teamId < data.tenantId)', 'POLICY_TYPE_MISMATCH', 30, ['== (or !=) only']],
  ['exists(Member, m => m.teamId == m.orgId)', 'POLICY_DATA_COMPARISON', 30, ['two fields of the same row']],
  ['exists(Member, m => data.done && m.userId == auth.userId)', 'POLICY_OUTER_ROW', 21, ['data.done belongs to an enclosing row', 'a condition is about m']],
  ['exists(Member, m => m.userId == auth.userId && data.priority > 2)', 'POLICY_OUTER_ROW', 48, ['data.priority']],
  ['exists(Team, c => exists(Member, m => data.ownerId == c.id))', 'POLICY_DATA_COMPARISON', 52, ['two enclosing rows']],
  ['exists(Member, data => data.userId == auth.userId)', 'POLICY_BINDING', 16, ['data cannot name the related row']],
  ['exists(Team, c => exists(Member, c => c.userId == auth.userId))', 'POLICY_BINDING', 34, ['bound by an enclosing exists']],
  ['exists(Team, a => exists(Team, b => exists(Team, c => exists(Member, m => m.teamId == c.id))))', 'POLICY_TOO_DEEP', 55, ['exists nests at most 3 levels']],
  ['exists(Member m => true)', 'POLICY_SYNTAX', 15, ['","']],
  ['exists(Member, m, true)', 'POLICY_SYNTAX', 17, ['"=>"']],
  ['exists("Member", m => true)', 'POLICY_SYNTAX', 8, ['entity name']],
  ['exists(Member, m => m.userId == auth.userId', 'POLICY_SYNTAX', 44, ['")" to close exists(']],
  ['exists.userId', 'POLICY_UNKNOWN_ROOT', 1, ['exists.userId']],
];

describe('policy errors: code, message and position', () => {
  for (const [source, code, column, words] of BAD) {
    it(`${JSON.stringify(source)} → ${code} at column ${column}`, () => {
      const error = errorOf(source);
      expect(error.code).toBe(code);
      expect(error.column).toBe(column);
      expect(error.message).toMatch(new RegExp(`^policy "todo_owner" allowRead, column ${column}: `));
      for (const word of words) expect(error.message).toContain(word);
      expect(error.diagnostics[0]!.path).toBe('policies[0] todo_owner.allowRead');
    });
  }

  it('words the brief example exactly', () => {
    expect(errorOf('auth.userId == data.ownr').message).toBe('policy "todo_owner" allowRead, column 16: unknown field data.ownr on Todo (did you mean ownerId?)');
  });

  it('reports lines and columns in code points on multi-line rules', () => {
    const error = errorOf('data.title == "😀😀" &&\n  data.nope');
    expect([error.line, error.column]).toEqual([2, 3]);
    expect(error.message).toContain('line 2, column 3: unknown field data.nope');
    expect(errorOf('"😀" == data.nope').column).toBe(8);
  });

  it('reports every problem of a rule, not only the first', () => {
    const error = errorOf('data.ownr == "a" && auth.nope && data.done == 1');
    expect(error.diagnostics.map((d) => d.code)).toEqual(['POLICY_UNKNOWN_FIELD', 'POLICY_UNKNOWN_AUTH', 'POLICY_TYPE_MISMATCH']);
    expect(error.message).toContain('3 policy errors');
  });

  it('allows input in write rules only', () => {
    expect(() => checkPolicy(parsePolicy('input.ownerId == auth.userId'), entityScope(todo, 'insert'), '')).not.toThrow();
    expect(errorOf('input.ownerId == auth.userId', 'delete').code).toBe('POLICY_SCOPE');
    expect(errorOf('input.ownr == auth.userId', 'update').message).toContain('did you mean ownerId?');
  });
});

describe('compilePolicies rejects bad rules at start-up', () => {
  it('collects every error of every policy, with its manifest path', () => {
    const schema = policyTestSchema([
      { name: 'ok', entity: 'Todo', allowRead: 'true' },
      { name: 'typo', entity: 'Todo', allowRead: 'auth.userId == data.ownr' },
      { name: 'broken', entity: 'Todo', allow: 'auth.userId = data.ownerId' },
      { name: 'reads_input', entity: 'Todo', allow: 'input.title != null' },
    ]);
    let error: unknown;
    try {
      compilePolicies(schema);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyError);
    const diagnostics = (error as PolicyError).diagnostics;
    expect(diagnostics.map((d) => [d.code, d.path])).toEqual([
      ['POLICY_UNKNOWN_FIELD', 'policies[1] typo.allowRead'],
      // One broken `allow` serves four operations and is reported once.
      ['POLICY_SYNTAX', 'policies[2] broken.allow'],
      // allow applies to read and delete too, where there is no input.
      ['POLICY_SCOPE', 'policies[3] reads_input.allow'],
    ]);
    expect(diagnostics[2]!.message).toContain('applies to read');
  });

  it('parses rules that no operation reaches, so a typo there is not silent', () => {
    const schema = policyTestSchema([
      { name: 'shadowed', entity: 'Todo', allowRead: 'true', allowInsert: 'true', allowUpdate: 'true', allowDelete: 'true', allowWrite: 'nope ==' },
    ]);
    expect(() => compilePolicies(schema)).toThrow(/policy "shadowed" allowWrite, column 8/);
  });

  it('checks action rules against the action inputs', () => {
    expect(() => compilePolicies(policyTestSchema([{ name: 'a', action: 'archive', allow: 'input.days > 3 && input.reason != null' }]))).not.toThrow();
    expect(() => compilePolicies(policyTestSchema([{ name: 'a', action: 'archive', allow: 'input.dayz > 3' }]))).toThrow(
      /unknown field input.dayz on action archive \(did you mean days\?\)/,
    );
    expect(() => compilePolicies(policyTestSchema([{ name: 'a', action: 'archive', allow: 'data.title != null' }]))).toThrow(/there is no row/);
  });

  it('checks room rules against the room pattern and the schema', () => {
    const room = (allowJoin: string): ManifestPolicy[] => [{ name: 'r', room: 'team:{team}', allowJoin }];
    expect(() => compilePolicies(policyTestSchema(room('exists(Member, m => m.teamId == room.team && m.userId == auth.userId)')))).not.toThrow();
    const cases: Array<[string, RegExp]> = [
      ['room.teem != null', /unknown placeholder room.teem of room team:\{team\} \(did you mean team\?\)/],
      ['input.team != null', /the room name's parts are room.<name>/],
      ['data.id != null', /there is no row/],
      ['exists(Membr, m => m.teamId == room.team)', /unknown entity Membr \(did you mean Member\?\)/],
      ['exists(Member, m => m.level == room.team)', /cannot compare m.level \(int\) with room.team \(string\)/],
      ['exists(Member, room => room.userId == auth.userId)', /room cannot name the related row/],
    ];
    for (const [rule, message] of cases) expect(() => compilePolicies(policyTestSchema(room(rule))), rule).toThrow(message);
  });
});

describe('formatPolicyDiagnostics', () => {
  it('names the file, the manifest path and what the policy guards, and points at the position', () => {
    let error: PolicyError | undefined;
    try {
      compilePolicies(
        policyTestSchema([
          { name: 'typo', entity: 'Todo', allowRead: 'data.done &&\n  auth.userid == "x"' },
          { name: 'a', action: 'archive', allow: 'input.dayz > 3' },
        ]),
      );
    } catch (e) {
      error = e as PolicyError;
    }
    expect(error!.diagnostics.map((d) => [d.target, d.expression])).toEqual([
      ['Todo', 'data.done &&\n  auth.userid == "x"'],
      ['action archive', 'input.dayz > 3'],
    ]);
    expect(formatPolicyDiagnostics(error!.diagnostics, 'app/pylon.manifest.json')).toBe(
      [
        'error[POLICY_UNKNOWN_AUTH] policy "typo" allowRead, line 2, column 3: unknown auth property auth.userid (did you mean userId?)',
        '  at app/pylon.manifest.json policies[0] typo.allowRead (entity Todo)',
        '  |   auth.userid == "x"',
        '  |   ^',
        '  hint: auth has userId, isAdmin, isGuest, roles, tenantId, orgRole',
        'error[POLICY_UNKNOWN_FIELD] policy "a" allow, column 1: unknown field input.dayz on action archive (did you mean days?)',
        '  at app/pylon.manifest.json policies[1] a.allow (action archive)',
        '  | input.dayz > 3',
        '  | ^',
        '  hint: fields: reason, days',
      ].join('\n'),
    );
  });
});
