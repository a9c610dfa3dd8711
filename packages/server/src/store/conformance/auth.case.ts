import { describe, expect, it } from 'vitest';
import type { AccountRecord, CodeRecord } from '../store.js';
import type { StoreRef } from './fixtures.js';

function account(id: string, email: string, extra: Partial<AccountRecord> = {}): AccountRecord {
  return { id, email, emailVerifiedAt: null, passwordHash: null, createdAt: 1_000, ...extra };
}

function code(purpose: string, subject: string, codeHash: string, expiresAt: number): CodeRecord {
  return { purpose, subject, codeHash, attempts: 0, createdAt: 1_000, expiresAt };
}

/** Auth tables: accounts, identities, one-time codes and rate-limit counters. */
export function authCases(store: StoreRef): void {
  describe('auth tables', () => {
    it('stores accounts, finds them by id and email, and refuses a taken email or id', async () => {
      const a = account('u1', 'a@example.com', { passwordHash: '$scrypt$x', emailVerifiedAt: 5 });
      await store().write((tx) => tx.auth.createAccount(a));
      expect(await store().read((tx) => tx.auth.accountById('u1'))).toEqual(a);
      expect(await store().read((tx) => tx.auth.accountByEmail('a@example.com'))).toEqual(a);
      expect(await store().read((tx) => tx.auth.accountByEmail('b@example.com'))).toBeNull();
      await expect(store().write((tx) => tx.auth.createAccount(account('u2', 'a@example.com')))).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });
      await expect(store().write((tx) => tx.auth.createAccount(account('u1', 'c@example.com')))).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });
      expect(await store().read((tx) => tx.auth.accountById('u2'))).toBeNull();
    });

    it('updates verification and password hash, and reports a missing account', async () => {
      await store().write((tx) => tx.auth.createAccount(account('u1', 'a@example.com', { passwordHash: 'old' })));
      expect(await store().write((tx) => tx.auth.updateAccount('u1', { emailVerifiedAt: 7 }))).toBe(true);
      expect(await store().read((tx) => tx.auth.accountById('u1'))).toMatchObject({ emailVerifiedAt: 7, passwordHash: 'old' });
      expect(await store().write((tx) => tx.auth.updateAccount('u1', { passwordHash: 'new' }))).toBe(true);
      expect(await store().read((tx) => tx.auth.accountById('u1'))).toMatchObject({ emailVerifiedAt: 7, passwordHash: 'new' });
      expect(await store().write((tx) => tx.auth.updateAccount('nobody', { passwordHash: 'x' }))).toBe(false);
    });

    it('rolls account writes back with the transaction', async () => {
      await expect(
        store().write(async (tx) => {
          await tx.auth.createAccount(account('u1', 'a@example.com'));
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store().read((tx) => tx.auth.accountById('u1'))).toBeNull();
    });

    it('links an identity once per (provider, subject)', async () => {
      await store().write((tx) => tx.auth.linkIdentity({ provider: 'github', subject: '42', userId: 'u1', createdAt: 1 }));
      expect(await store().read((tx) => tx.auth.findIdentity('github', '42'))).toEqual({ provider: 'github', subject: '42', userId: 'u1', createdAt: 1 });
      expect(await store().read((tx) => tx.auth.findIdentity('google', '42'))).toBeNull();
      await expect(store().write((tx) => tx.auth.linkIdentity({ provider: 'github', subject: '42', userId: 'u2', createdAt: 2 }))).rejects.toMatchObject({
        code: 'IDENTITY_TAKEN',
      });
      expect((await store().read((tx) => tx.auth.findIdentity('github', '42')))?.userId).toBe('u1');
    });

    it('keeps one code per purpose and subject: a new one replaces the old', async () => {
      await store().write((tx) => tx.auth.putCode(code('magic', 'a@example.com', 'h1', 9_000)));
      await store().write((tx) => tx.auth.putCode(code('verify', 'a@example.com', 'h2', 9_000)));
      await store().write((tx) => tx.auth.putCode(code('magic', 'a@example.com', 'h3', 9_500)));
      expect(await store().read((tx) => tx.auth.getCode('magic', 'a@example.com'))).toMatchObject({ codeHash: 'h3', expiresAt: 9_500 });
      expect(await store().read((tx) => tx.auth.findCodeByHash('magic', 'h1'))).toBeNull();
      expect(await store().read((tx) => tx.auth.findCodeByHash('verify', 'h2'))).toMatchObject({ subject: 'a@example.com' });
      expect(await store().read((tx) => tx.auth.findCodeByHash('magic', 'h2'))).toBeNull();
      await store().write((tx) => tx.auth.setCodeAttempts('magic', 'a@example.com', 3));
      expect((await store().read((tx) => tx.auth.getCode('magic', 'a@example.com')))?.attempts).toBe(3);
      expect(await store().write((tx) => tx.auth.deleteCode('magic', 'a@example.com'))).toBe(true);
      expect(await store().write((tx) => tx.auth.deleteCode('magic', 'a@example.com'))).toBe(false);
      expect(await store().read((tx) => tx.auth.getCode('verify', 'a@example.com'))).not.toBeNull();
    });

    it('counts rate-limit hits in a fixed window that restarts once it ends', async () => {
      const hit = (key: string, now: number) => store().write((tx) => tx.auth.hitRate(key, 1_000, now));
      expect(await hit('ip:1', 10_000)).toEqual({ count: 1, resetAt: 11_000 });
      expect(await hit('ip:1', 10_500)).toEqual({ count: 2, resetAt: 11_000 });
      expect(await hit('ip:2', 10_600)).toEqual({ count: 1, resetAt: 11_600 });
      expect(await hit('ip:1', 10_999)).toEqual({ count: 3, resetAt: 11_000 });
      expect(await hit('ip:1', 11_000)).toEqual({ count: 1, resetAt: 12_000 });
    });

    it('prunes expired codes and ended windows only', async () => {
      await store().write((tx) => tx.auth.putCode(code('magic', 'old@example.com', 'h1', 5_000)));
      await store().write((tx) => tx.auth.putCode(code('magic', 'new@example.com', 'h2', 15_000)));
      await store().write((tx) => tx.auth.hitRate('old', 1_000, 3_000));
      await store().write((tx) => tx.auth.hitRate('new', 10_000, 9_000));
      expect(await store().write((tx) => tx.auth.pruneAuth(10_000))).toBe(2);
      expect(await store().read((tx) => tx.auth.getCode('magic', 'old@example.com'))).toBeNull();
      expect(await store().read((tx) => tx.auth.getCode('magic', 'new@example.com'))).not.toBeNull();
      expect(await store().write((tx) => tx.auth.hitRate('new', 10_000, 10_000))).toEqual({ count: 2, resetAt: 19_000 });
    });
  });
}
