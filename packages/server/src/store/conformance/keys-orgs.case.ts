import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord, OAuthStateRecord, SessionRecord } from '../store.js';
import type { StoreRef } from './fixtures.js';

const key = (id: string, userId: string, createdAt = 1_000): ApiKeyRecord => ({
  id,
  userId,
  name: 'k',
  secretHash: 'ab'.repeat(32),
  scopes: ['read'],
  expiresAt: null,
  createdAt,
  lastUsedAt: null,
});
const session = (tokenHash: string, userId: string, tenantId: string | null): SessionRecord => ({
  tokenHash,
  userId,
  isGuest: false,
  roles: [],
  tenantId,
  createdAt: 1_000,
  expiresAt: 9_999_999_999_999,
});
const state = (stateHash: string, expiresAt: number): OAuthStateRecord => ({
  stateHash,
  provider: 'p',
  browserHash: 'b',
  codeVerifier: 'v',
  nonce: 'n',
  callbackUrl: 'https://app/cb',
  errorCallbackUrl: null,
  expiresAt,
});

/** API keys, orgs with their owner invariant and session tenants, and single-use OAuth states. */
export function keysOrgsCases(store: StoreRef): void {
  describe('API keys, orgs and OAuth states', () => {
    it("stores API keys per user and revokes only the owner's", async () => {
      await store().apiKeys.create(key('k1', 'u1', 1_000));
      await store().apiKeys.create(key('k2', 'u1', 2_000));
      await store().apiKeys.create(key('k3', 'u2'));
      expect((await store().apiKeys.list('u1')).map((k) => k.id)).toEqual(['k2', 'k1']);
      expect(await store().apiKeys.count('u1')).toBe(2);
      expect(await store().apiKeys.find('k3')).toEqual(key('k3', 'u2'));
      expect(await store().apiKeys.revoke('k3', 'u1')).toBe(false);
      expect(await store().apiKeys.revoke('k3', 'u2')).toBe(true);
      await store().apiKeys.touch('k1', 5_000);
      expect((await store().apiKeys.find('k1'))?.lastUsedAt).toBe(5_000);
    });

    it('keeps an owner in every org: a change that would leave none changes nothing', async () => {
      await store().orgs.create({ id: 'o1', name: 'O', createdBy: 'u1', createdAt: 1 });
      expect(await store().orgs.role('o1', 'u1')).toBe('owner');
      await expect(store().orgs.putMember({ orgId: 'o1', userId: 'u1', role: 'member', createdAt: 2 })).rejects.toMatchObject({ code: 'LAST_OWNER' });
      await expect(store().orgs.removeMember('o1', 'u1')).rejects.toMatchObject({ code: 'LAST_OWNER' });
      expect(await store().orgs.role('o1', 'u1')).toBe('owner');
      await store().orgs.putMember({ orgId: 'o1', userId: 'u2', role: 'owner', createdAt: 3 });
      expect(await store().orgs.removeMember('o1', 'u1')).toBe(true);
      expect((await store().orgs.members('o1')).map((m) => [m.userId, m.role])).toEqual([['u2', 'owner']]);
    });

    it('clears an org from sessions when the membership or the org goes', async () => {
      await store().orgs.create({ id: 'o1', name: 'O', createdBy: 'u1', createdAt: 1 });
      await store().orgs.putMember({ orgId: 'o1', userId: 'u2', role: 'member', createdAt: 2 });
      await store().sessions.create(session('s1', 'u1', 'o1'));
      await store().sessions.create(session('s2', 'u2', 'o1'));
      await store().sessions.create(session('s3', 'u2', 'other'));
      await store().orgs.removeMember('o1', 'u2');
      expect((await store().sessions.find('s2'))?.tenantId).toBeNull();
      expect((await store().sessions.find('s3'))?.tenantId).toBe('other');
      expect(await store().orgs.delete('o1')).toBe(true);
      expect((await store().sessions.find('s1'))?.tenantId).toBeNull();
      expect(await store().orgs.get('o1')).toBeNull();
      expect(await store().orgs.listForUser('u1')).toEqual([]);
    });

    it('uses an invite once; a member keeps their role; an expired invite adds nobody', async () => {
      await store().orgs.create({ id: 'o1', name: 'O', createdBy: 'u1', createdAt: 1 });
      const invite = { id: 'i1', orgId: 'o1', tokenHash: 't1', email: null, role: 'admin' as const, createdBy: 'u1', createdAt: 1, expiresAt: 10_000 };
      await store().orgs.putInvite(invite);
      await store().orgs.putInvite({ ...invite, id: 'i2', tokenHash: 't2' });
      await store().orgs.putInvite({ ...invite, id: 'i3', tokenHash: 't3', expiresAt: 2_000 });
      expect(await store().orgs.findInvite('t1')).toEqual(invite);
      expect(await store().orgs.countInvites('o1')).toBe(3);
      expect(await store().orgs.acceptInvite('t1', 'u2', 5_000)).toMatchObject({ orgId: 'o1', userId: 'u2', role: 'admin' });
      expect(await store().orgs.acceptInvite('t1', 'u3', 5_000)).toBeNull();
      expect(await store().orgs.acceptInvite('t2', 'u1', 5_000)).toMatchObject({ role: 'owner' });
      expect(await store().orgs.acceptInvite('t3', 'u3', 5_000)).toBeNull();
      expect(await store().orgs.role('o1', 'u3')).toBeNull();
      expect(await store().orgs.invites('o1')).toEqual([]);
    });

    it('gives an OAuth state out once, and never after it expired', async () => {
      await store().oauthStates.put(state('a', 10_000));
      await store().oauthStates.put(state('b', 10_000));
      expect(await store().oauthStates.take('a', 5_000)).toEqual(state('a', 10_000));
      expect(await store().oauthStates.take('a', 5_000)).toBeNull();
      expect(await store().oauthStates.take('b', 10_000)).toBeNull();
      expect(await store().oauthStates.take('b', 5_000)).toBeNull();
    });
  });
}
