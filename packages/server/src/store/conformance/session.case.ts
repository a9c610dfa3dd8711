import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../store.js';
import type { StoreRef } from './fixtures.js';

function session(tokenHash: string, userId: string, expiresAt: number, extra: Partial<SessionRecord> = {}): SessionRecord {
  return { tokenHash, userId, isGuest: false, roles: [], tenantId: null, createdAt: 1_000, expiresAt, ...extra };
}

/** Sessions: stored, found by token hash, revoked one by one or per user, pruned on expiry. */
export function sessionCases(store: StoreRef): void {
  describe('sessions', () => {
    it('stores and finds a session with its roles, tenant and guest flag', async () => {
      const s = session('h1', 'u1', 9_000, { isGuest: true, roles: ['admin', 'editor'], tenantId: 'org-1' });
      await store().sessions.create(s);
      expect(await store().sessions.find('h1')).toEqual(s);
      expect(await store().sessions.find('h2')).toBeNull();
    });

    it('refuses a second session with the same token hash', async () => {
      await store().sessions.create(session('h1', 'u1', 9_000));
      await expect(store().sessions.create(session('h1', 'u2', 9_000))).rejects.toThrow();
      expect((await store().sessions.find('h1'))?.userId).toBe('u1');
    });

    it('revokes one session, then all of a user, leaving others', async () => {
      await store().sessions.create(session('a', 'u1', 9_000));
      await store().sessions.create(session('b', 'u1', 9_000));
      await store().sessions.create(session('c', 'u2', 9_000));
      expect(await store().sessions.revoke('a')).toBe(true);
      expect(await store().sessions.revoke('a')).toBe(false);
      expect(await store().sessions.revokeUser('u1')).toBe(1);
      expect(await store().sessions.find('b')).toBeNull();
      expect(await store().sessions.find('c')).not.toBeNull();
    });

    it('prunes expired sessions only', async () => {
      await store().sessions.create(session('old', 'u1', 5_000));
      await store().sessions.create(session('new', 'u1', 15_000));
      expect(await store().sessions.pruneExpired(10_000)).toBe(1);
      expect(await store().sessions.find('old')).toBeNull();
      expect(await store().sessions.find('new')).not.toBeNull();
    });
  });
}
