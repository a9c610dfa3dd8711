import { evaluateFilter, resolveSchema, type AppSchema, type Manifest, type ManifestField, type ManifestPolicy, type RelatedLookup } from '@mast/schema';
import type { PolicyAuth, PolicyRow } from '../src/index.js';

function field(name: string, type: ManifestField['type'], optional = true): ManifestField {
  return { name, type, optional, unique: false };
}

/**
 * `Todo` has a field of every kind policies compare; `User` is the owner entity. For relational
 * rules, a Todo's `tenantId` names a `Team`, a Team belongs to an `Org`, and `Member` rows put
 * users in teams (`teamId`) or in whole orgs (`orgId`).
 */
export function policyTestManifest(policies: ManifestPolicy[] = []): Manifest {
  return {
    manifest_version: 1,
    name: 'policy-test',
    version: '1',
    entities: [
      { name: 'User', fields: [field('email', 'string')], indexes: [] },
      {
        name: 'Todo',
        fields: [
          field('title', 'string'),
          field('done', 'bool'),
          field('priority', 'int'),
          field('score', 'float'),
          field('ownerId', 'id(User)'),
          field('tenantId', 'string'),
          field('tags', 'json'),
          field('due', 'datetime'),
          field('status', 'string'),
        ],
        indexes: [],
      },
      { name: 'Org', fields: [field('name', 'string')], indexes: [] },
      { name: 'Team', fields: [field('orgId', 'id(Org)'), field('name', 'string'), field('open', 'bool')], indexes: [] },
      {
        name: 'Member',
        fields: [field('teamId', 'id(Team)'), field('orgId', 'id(Org)'), field('userId', 'string'), field('role', 'string'), field('level', 'int')],
        indexes: [],
      },
    ],
    routes: [],
    actions: [{ name: 'archive', input: [field('reason', 'string'), field('days', 'int')] }],
    policies,
  };
}

/** The resolved test schema, with the given policies. */
export function policyTestSchema(policies: ManifestPolicy[] = []): AppSchema {
  return resolveSchema(policyTestManifest(policies));
}

const auth = (userId: string | null, extra: Partial<PolicyAuth> = {}): PolicyAuth =>
  Object.freeze({ userId, isAdmin: false, isGuest: false, roles: [], tenantId: null, orgRole: null, ...extra });

/** Callers the test tables use. */
export const AUTHS = Object.freeze({
  anon: auth(null),
  alice: auth('alice', { roles: ['editor'], tenantId: 'acme', orgRole: 'admin' }),
  bob: auth('bob', { tenantId: 'globex', orgRole: 'member' }),
  guest: auth('guest_1', { isGuest: true }),
  admin: auth('__admin__', { isAdmin: true, roles: ['admin'] }),
});

/** Caller names, for table entries. */
export type AuthName = keyof typeof AUTHS;

/** Todo rows as the store returns them (domain values; absent fields are null in the store). */
export const ROWS: readonly (PolicyRow & { id: string })[] = Object.freeze([
  { id: 't1', title: 'Buy milk', done: false, priority: 1, score: 0.5, ownerId: 'alice', tenantId: 'acme', tags: ['home'], due: '2024-01-01T00:00:00.000Z', status: 'open' },
  { id: 't2', title: 'Ship it', done: true, priority: 5, score: 2.5, ownerId: 'bob', tenantId: 'acme', tags: { k: 1 }, due: '2024-06-01T00:00:00.000Z', status: 'published' },
  { id: 't3', title: '', done: false, priority: null, score: null, ownerId: null, tenantId: null, tags: null, due: null, status: null },
  { id: 't4', title: 'Élan 😀', done: true, priority: 10, score: -1, ownerId: 'alice', tenantId: 'globex', tags: 'x', due: null, status: 'draft' },
  { id: 't5', title: 'zeta', done: null, priority: 3, score: null, ownerId: 'guest_1', tenantId: null, tags: 3, due: '2023-12-31T23:59:59.999Z', status: 'open' },
]);

/** The related rows relational cases read: teams of the Todos' tenants, orgs and memberships. */
export const RELATED: Readonly<Record<'Org' | 'Team' | 'Member', readonly (PolicyRow & { id: string })[]>> = Object.freeze({
  Org: [
    { id: 'o1', name: 'One' },
    { id: 'o2', name: 'Two' },
  ],
  Team: [
    { id: 'acme', orgId: 'o1', name: 'Acme', open: true },
    { id: 'globex', orgId: 'o2', name: 'Globex', open: false },
    { id: 'initech', orgId: null, name: 'Initech', open: null },
  ],
  Member: [
    { id: 'm1', teamId: 'acme', orgId: null, userId: 'alice', role: 'admin', level: 3 },
    { id: 'm2', teamId: 'globex', orgId: null, userId: 'bob', role: 'member', level: 1 },
    { id: 'm3', teamId: 'acme', orgId: null, userId: 'bob', role: null, level: null },
    { id: 'm4', teamId: null, orgId: 'o2', userId: 'alice', role: 'owner', level: 2 },
    { id: 'm5', teamId: null, orgId: null, userId: null, role: 'admin', level: 9 },
  ],
});

/**
 * Answers related-row conditions from rows held in memory (entity → rows), with the same
 * filter semantics as the stores: the in-memory twin of a store's `rowExists`.
 */
export function memoryLookup(tables: Readonly<Record<string, readonly PolicyRow[]>>): RelatedLookup {
  const lookup: RelatedLookup = (entity, where) => (tables[entity] ?? []).some((row) => evaluateFilter(where, row, lookup));
  return lookup;
}
