import { describe, expect, it } from 'vitest';
import { compilePolicies, type PolicySet } from '../src/index.js';
import type { ManifestPolicy } from '@mast/schema';
import { AUTHS, memoryLookup, policyTestSchema, RELATED, ROWS } from './fixtures.js';

const { anon, alice, bob, admin } = AUTHS;
const t1 = ROWS[0]!; // alice's, tenant acme
const t2 = ROWS[1]!; // bob's, tenant acme

function set(...policies: ManifestPolicy[]): PolicySet {
  return compilePolicies(policyTestSchema(policies));
}

describe('PolicySet', () => {
  it('denies every operation of an entity without rules, except to admins', () => {
    const policies = set();
    for (const auth of [anon, alice]) {
      expect(policies.canRead('Todo', auth, t1)).toBe(false);
      expect(policies.readFilter('Todo', auth)).toBe(false);
      expect(policies.canInsert('Todo', auth, t1)).toBe(false);
      expect(policies.canUpdate('Todo', auth, t1, t1)).toBe(false);
      expect(policies.canDelete('Todo', auth, t1)).toBe(false);
    }
    expect(policies.decide('Todo', 'read', alice, t1)).toEqual({ allowed: false, reason: 'no-rule' });
    expect(policies.readFilter('Todo', admin)).toBe(true);
    expect(policies.decide('Todo', 'delete', admin, t1)).toEqual({ allowed: true, reason: 'admin' });
    expect(policies.canRunAction('archive', alice, {})).toBe(false);
  });

  it('denies the operations a policy does not mention (Pylon allows them)', () => {
    const policies = set({ name: 'readable', entity: 'Todo', allowRead: 'true' });
    expect(policies.canRead('Todo', anon, t1)).toBe(true);
    expect(policies.canInsert('Todo', alice, t1)).toBe(false);
    expect(policies.canUpdate('Todo', alice, t1, t1)).toBe(false);
    expect(policies.canDelete('Todo', alice, t1)).toBe(false);
  });

  it('opens an entity explicitly with allow: "true"', () => {
    const policies = set({ name: 'open', entity: 'Todo', allow: 'true' });
    expect(policies.readFilter('Todo', anon)).toBe(true);
    expect(policies.canInsert('Todo', anon, t1)).toBe(true);
    expect(policies.canUpdate('Todo', anon, t1, t2)).toBe(true);
    expect(policies.canDelete('Todo', anon, t1)).toBe(true);
  });

  it('picks allowX, then allowWrite, then allow, per operation', () => {
    const policies = set({ name: 'p', entity: 'Todo', allow: 'false', allowWrite: 'auth.userId != null', allowDelete: 'auth.hasRole("editor")' });
    expect(policies.rules('Todo', 'read').map((r) => r.rule)).toEqual(['allow']);
    expect(policies.rules('Todo', 'insert').map((r) => r.rule)).toEqual(['allowWrite']);
    expect(policies.rules('Todo', 'delete').map((r) => r.rule)).toEqual(['allowDelete']);
    expect(policies.canRead('Todo', alice, t1)).toBe(false);
    expect(policies.canInsert('Todo', bob, t1)).toBe(true);
    expect(policies.canInsert('Todo', anon, t1)).toBe(false);
    expect(policies.canDelete('Todo', bob, t1)).toBe(false);
    expect(policies.canDelete('Todo', alice, t1)).toBe(true);
  });

  it('ANDs several policies and names the one that denies', () => {
    const policies = set(
      { name: 'same_tenant', entity: 'Todo', allowRead: 'data.tenantId == auth.tenantId' },
      { name: 'owner', entity: 'Todo', allowRead: 'data.ownerId == auth.userId' },
    );
    expect(policies.canRead('Todo', alice, t1)).toBe(true);
    expect(policies.decide('Todo', 'read', alice, t2)).toEqual({
      allowed: false,
      reason: 'denied',
      policy: 'owner',
      rule: 'allowRead',
      source: 'data.ownerId == auth.userId',
    });
    expect(policies.readFilter('Todo', alice)).toEqual({
      kind: 'and',
      items: [
        { kind: 'compare', field: 'tenantId', op: 'eq', value: 'acme' },
        { kind: 'compare', field: 'ownerId', op: 'eq', value: 'alice' },
      ],
    });
    // An anonymous caller has no tenant and no id: nothing, decided without a query.
    expect(policies.readFilter('Todo', anon)).toBe(false);
  });

  it('checks updates on the row before and after the change', () => {
    const policies = set({ name: 'owner', entity: 'Todo', allow: 'data.ownerId == auth.userId' });
    expect(policies.canUpdate('Todo', alice, t1, { ...t1, title: 'Buy oat milk' })).toBe(true);
    // Handing the row to someone else takes it out of alice's reach: denied.
    expect(policies.canUpdate('Todo', alice, t1, { ...t1, ownerId: 'bob' })).toBe(false);
    // Taking someone else's row: the row before is not bob's.
    expect(policies.canUpdate('Todo', bob, t1, { ...t1, ownerId: 'bob' })).toBe(false);
    expect(policies.canUpdate('Todo', admin, t1, { ...t1, ownerId: 'bob' })).toBe(true);
  });

  it('gives write rules the incoming change as input', () => {
    const policies = set({
      name: 'owner',
      entity: 'Todo',
      allowRead: 'true',
      allowInsert: 'input.ownerId == auth.userId',
      allowUpdate: 'input.status != "published" || auth.hasRole("editor")',
    });
    expect(policies.canInsert('Todo', alice, { title: 'x', ownerId: 'alice' })).toBe(true);
    expect(policies.canInsert('Todo', alice, { title: 'x', ownerId: 'bob' })).toBe(false);
    expect(policies.canInsert('Todo', anon, { title: 'x' })).toBe(false);
    expect(policies.canUpdate('Todo', bob, t2, { ...t2, status: 'published' }, { status: 'published' })).toBe(false);
    expect(policies.canUpdate('Todo', alice, t2, { ...t2, status: 'published' }, { status: 'published' })).toBe(true);
    // input defaults to the row after the change
    expect(policies.canUpdate('Todo', bob, t1, { ...t1, status: 'published' })).toBe(false);
  });

  it('runs action policies on the action input', () => {
    const policies = set({ name: 'archive_rule', action: 'archive', allow: 'auth.userId != null && input.days >= 7' });
    expect(policies.canRunAction('archive', alice, { days: 7 })).toBe(true);
    expect(policies.canRunAction('archive', alice, { days: 3 })).toBe(false);
    expect(policies.canRunAction('archive', anon, { days: 30 })).toBe(false);
    expect(policies.canRunAction('nope', admin, {})).toBe(true);
  });

  it('refuses entities the schema does not have', () => {
    expect(() => set().canRead('Nope', alice, t1)).toThrow(/unknown entity Nope/);
  });

  it('decides rows under exists through the lookup it was given, in writes too', () => {
    const member = 'exists(Member, m => m.teamId == data.tenantId && m.userId == auth.userId)';
    const schema = policyTestSchema([{ name: 'team', entity: 'Todo', allowRead: member, allowInsert: `${member} && data.ownerId == auth.userId` }]);
    const policies = compilePolicies(schema, { lookup: memoryLookup({ ...RELATED, Todo: ROWS }) });
    expect(policies.relatedEntities('Todo', 'read')).toEqual(['Member']);
    expect(policies.relatedEntities('Todo', 'delete')).toEqual([]);
    expect(policies.canRead('Todo', alice, t2)).toBe(true); // alice is in team acme
    expect(policies.canRead('Todo', alice, ROWS[3]!)).toBe(false); // globex
    expect(policies.canInsert('Todo', alice, { id: 'n1', tenantId: 'acme', ownerId: 'alice' })).toBe(true);
    expect(policies.canInsert('Todo', alice, { id: 'n2', tenantId: 'globex', ownerId: 'alice' })).toBe(false);
    expect(policies.canInsert('Todo', bob, { id: 'n3', tenantId: 'globex', ownerId: 'alice' })).toBe(false);
    // Without a lookup, a row under exists cannot be decided: it throws rather than guess.
    expect(() => compilePolicies(schema).canRead('Todo', alice, t2)).toThrow(/lookup/);
    // The filter form never needs one.
    expect(compilePolicies(schema).readFilter('Todo', alice)).toMatchObject({ kind: 'related', entity: 'Member' });
  });

  it('decides room joins by the rules whose pattern matches the room name', () => {
    const member = 'exists(Member, m => m.teamId == room.team && m.userId == auth.userId)';
    const schema = policyTestSchema([
      { name: 'team_rooms', room: 'team:{team}', allowJoin: member },
      { name: 'signed_in', room: 'team:{team}', allowJoin: 'auth.userId != null' },
      { name: 'boards', room: 'board:{team}:{board}', allowJoin: `${member} && room.board != "secret"` },
    ]);
    const policies = compilePolicies(schema, { lookup: memoryLookup({ ...RELATED, Todo: ROWS }) });
    expect(policies.roomRules.map((r) => [r.policy, r.pattern.params, r.reads])).toEqual([
      ['team_rooms', ['team'], ['Member']],
      ['signed_in', ['team'], []],
      ['boards', ['team', 'board'], ['Member']],
    ]);
    expect(policies.decideJoin('team:acme', alice)).toEqual({ allowed: true, reason: 'rules' });
    expect(policies.decideJoin('team:globex', alice)).toMatchObject({ allowed: false, reason: 'denied', policy: 'team_rooms', rule: 'allowJoin' });
    expect(policies.decideJoin('team:globex', bob)).toEqual({ allowed: true, reason: 'rules' });
    expect(policies.decideJoin('team:acme', anon)).toMatchObject({ allowed: false, policy: 'team_rooms' });
    expect(policies.decideJoin('team:acme', admin)).toEqual({ allowed: true, reason: 'admin' });
    expect(policies.decideJoin('board:acme:plans', alice)).toEqual({ allowed: true, reason: 'rules' });
    expect(policies.decideJoin('board:acme:secret', alice)).toMatchObject({ allowed: false, policy: 'boards' });
    // No pattern matches: the manifest does not guard the room (a placeholder takes no ":" and is never empty).
    for (const room of ['lobby', 'team:', 'team:acme:x', 'board:acme', 'xteam:acme']) expect(policies.decideJoin(room, alice), room).toBeNull();
  });
});
