import { describe, expect, it } from 'vitest';
import { checkNewPassword, PasswordHasher, PASSWORD_MAX_BYTES, readPresentedPassword } from './passwords.js';

// The lowest accepted cost keeps these tests quick; the format and checks do not depend on it.
const hasher = new PasswordHasher(10);

describe('PasswordHasher', () => {
  it('hashes with a fresh salt each time and verifies only the right password', async () => {
    const a = await hasher.hash('correct horse');
    const b = await hasher.hash('correct horse');
    expect(a).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(await hasher.verify('correct horse', a)).toBe(true);
    expect(await hasher.verify('correct horse', b)).toBe(true);
    expect(await hasher.verify('correct horsf', a)).toBe(false);
    expect(await hasher.verify('', a)).toBe(false);
  });

  it('verifies hashes made at another cost, so the cost can be raised', async () => {
    const old = await new PasswordHasher(11).hash('pw with old cost');
    expect(await hasher.verify('pw with old cost', old)).toBe(true);
  });

  it('treats composed and decomposed accents as the same password', async () => {
    const hash = await hasher.hash('caf\u00e9 au lait');
    expect(await hasher.verify('cafe\u0301 au lait', hash)).toBe(true);
  });

  it('a missing hash never verifies, whatever the password', async () => {
    expect(await hasher.verify('anything', null)).toBe(false);
    expect(await hasher.verify('', null)).toBe(false);
  });

  it('refuses stored hashes it cannot or must not check instead of running them', async () => {
    const good = await hasher.hash('pw');
    const [, , , salt, key] = good.split('$');
    for (const stored of [
      `$scrypt$ln=30,r=8,p=1$${salt}$${key}`, // would allocate 128 GiB
      `$scrypt$ln=10,r=8,p=99$${salt}$${key}`,
      `$scrypt$ln=10,r=8,p=1$${salt}$${key!.slice(0, 20)}`,
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${key}`,
      'plaintext',
    ]) {
      expect(await hasher.verify('pw', stored), stored).toBe(false);
    }
  });

  it('refuses a cost outside 10..20', () => {
    expect(() => new PasswordHasher(9)).toThrow();
    expect(() => new PasswordHasher(21)).toThrow();
  });
});

describe('password checks', () => {
  it('new passwords: minimum characters, maximum bytes', () => {
    expect(checkNewPassword('12345678', 8, 'password')).toBe('12345678');
    expect(() => checkNewPassword('1234567', 8, 'password')).toThrow(expect.objectContaining({ code: 'WEAK_PASSWORD', fields: ['password'] }));
    // Characters, not UTF-16 units: four emoji are four characters.
    expect(() => checkNewPassword('😀😀😀😀', 8, 'password')).toThrow(expect.objectContaining({ code: 'WEAK_PASSWORD' }));
    expect(checkNewPassword('a'.repeat(PASSWORD_MAX_BYTES), 8, 'password')).toHaveLength(PASSWORD_MAX_BYTES);
    expect(() => checkNewPassword('é'.repeat(129), 8, 'newPassword')).toThrow(expect.objectContaining({ code: 'PASSWORD_TOO_LONG', fields: ['newPassword'] }));
    expect(() => checkNewPassword(12345678, 8, 'password')).toThrow(expect.objectContaining({ code: 'INVALID_DATA' }));
  });

  it('presented passwords: a non-empty string within the byte limit', () => {
    expect(readPresentedPassword('x', 'password')).toBe('x');
    expect(() => readPresentedPassword('', 'password')).toThrow(expect.objectContaining({ code: 'INVALID_DATA' }));
    expect(() => readPresentedPassword(null, 'password')).toThrow(expect.objectContaining({ code: 'INVALID_DATA' }));
    expect(() => readPresentedPassword('x'.repeat(PASSWORD_MAX_BYTES + 1), 'password')).toThrow(expect.objectContaining({ code: 'PASSWORD_TOO_LONG' }));
  });
});
