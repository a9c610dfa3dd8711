import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileManifest } from '@mast/schema';
import { createCore, createSqliteStore, loadConfig, type MastCore } from '@mast/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedTodoManifest } from './helpers/functions-app.js';

// The core's clock is the only time of day its services record and decide by: a core on a clock
// set years ahead stamps sessions, keys and orgs with that time and expires them by it.
const T0 = Date.UTC(2031, 0, 1);
let time = T0;
let dir: string;
let core: MastCore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-clock-'));
  const config = loadConfig({}, { logLevel: 'silent', databaseUrl: join(dir, 'clock.db') });
  const store = createSqliteStore({ path: join(dir, 'clock.db') });
  core = await createCore({ appDir: dir, store, schema: compileManifest(ownedTodoManifest('clock')), config, clock: { now: () => time } });
});

afterAll(async () => {
  await core.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the core's clock", () => {
  it('stamps and expires sessions', async () => {
    time = T0;
    const issued = await core.sessions.issue({ userId: 'alice', expiresIn: 60 });
    expect(issued.session.createdAt).toBe(T0);
    expect(issued.session.expiresAt).toBe(T0 + 60_000);
    expect((await core.sessions.resolve(issued.token)).userId).toBe('alice');
    time = T0 + 61_000;
    await expect(core.sessions.resolve(issued.token)).rejects.toMatchObject({ code: 'SESSION_EXPIRED' });
  });

  it('stamps API keys and expires them', async () => {
    time = T0;
    const { key, record } = await core.apiKeys.create('alice', { expiresAt: T0 + 1_000 });
    expect(record.createdAt).toBe(T0);
    expect((await core.apiKeys.resolve(key)).userId).toBe('alice');
    time = T0 + 2_000;
    await expect(core.apiKeys.resolve(key)).rejects.toMatchObject({ code: 'INVALID_API_KEY', message: 'The API key has expired' });
  });

  it('stamps orgs and memberships', async () => {
    time = T0 + 5_000;
    const org = await core.orgs.create('alice', 'Acme');
    expect(org.createdAt).toBe(T0 + 5_000);
  });
});
