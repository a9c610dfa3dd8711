import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

// A password reset request must not take longer for an email that has an account: its timing
// would tell which addresses do. Wall-clock medians on a shared, loaded machine overlap too much
// to assert on (the known side used to be about 1.6 times as slow; under load single calls vary
// by more), so this checks the cause instead: the database work done before the answer leaves
// is the same for both, and the token write for a known email happens only after it.

let t: TestServer;
/** What the server did, in order: its auth-table calls and the moments answers finished. */
const events: string[] = [];

beforeAll(async () => {
  t = await startTestServer(testManifest, { dev: true });
  expect((await t.request('POST', '/api/auth/password/register', { body: { email: 'known@example.com', password: 'correct horse battery' } })).status).toBe(201);
  // Record the auth-table calls made through the real store (they still run), and each
  // response's end. Other work (the job worker's polls) uses other tables and is not recorded.
  const store = t.server.store as unknown as Record<'read' | 'write', (fn: (tx: { auth: object }) => unknown) => Promise<unknown>>;
  for (const kind of ['read', 'write'] as const) {
    const original = store[kind].bind(store);
    store[kind] = (fn) =>
      original((tx) => {
        const auth = new Proxy(tx.auth, {
          get(target, name, receiver) {
            const value = Reflect.get(target, name, receiver) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              events.push(String(name));
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
        return fn(new Proxy(tx, { get: (target, name) => (name === 'auth' ? auth : (Reflect.get(target, name) as unknown)) }));
      });
  }
  t.server.http.server.on('request', (_req, res) => res.once('finish', () => events.push('answered')));
});
afterAll(() => t.close());

/** The events of one reset request: those before its answer, and those in the 300 ms after. */
async function resetRequest(email: string): Promise<{ before: string[]; after: string[] }> {
  events.length = 0;
  const res = await t.request('POST', '/api/auth/password/reset/request', { body: { email } });
  expect([res.status, res.text]).toEqual([200, '{"sent":true}']);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const answered = events.indexOf('answered');
  return { before: events.slice(0, answered), after: events.slice(answered + 1) };
}

it('does the same database work before answering for a known and an unknown email; the token is written after', async () => {
  const unknown = await resetRequest('nobody@example.com');
  const known = await resetRequest('known@example.com');
  expect(unknown.before).toEqual(['hitRate', 'hitRate', 'accountByEmail']); // rate limits per address and per email, the lookup
  expect(known.before).toEqual(unknown.before);
  expect(unknown.after).toEqual([]);
  expect(known.after).toEqual(['putCode']); // the reset token, after the answer left
  const outbox = (await t.request('GET', '/api/auth/outbox?to=known%40example.com')).json as { messages: unknown[] };
  expect(outbox.messages).toHaveLength(1);
});
