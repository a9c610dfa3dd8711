import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION } from '@mast/protocol';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { LiveClient } from './helpers/live-client.js';

function wsUrlOf(t: TestServer, port = Number(new URL(t.url).port), path = '/ws'): string {
  return `ws://127.0.0.1:${port}${path}`;
}

/** Who a socket is: the user id rooms show for it (null for an anonymous socket). */
async function whoAmI(client: LiveClient): Promise<string | null> {
  client.send({ type: 'join', id: 'who', room: `who-${Math.random().toString(36).slice(2)}` });
  const answered = (): boolean => client.unread().some((m) => (m.type === 'joined' || m.type === 'error') && m.id === 'who');
  await expect.poll(answered).toBe(true);
  if (client.unread().some((m) => m.type === 'error')) {
    expect(await client.next('error')).toMatchObject({ id: 'who', code: 'AUTH_REQUIRED' });
    return null;
  }
  return (await client.next('joined')).members[0]!.userId;
}

async function openWith(url: string, headers: Record<string, string>): Promise<LiveClient> {
  return LiveClient.open(url, { headers });
}

describe('the session cookie on the upgrade', () => {
  it('authenticates a socket from this host, from a trusted origin, or from no browser at all; refuses other origins (4003)', async () => {
    const t = await startTestServer(testManifest, { trustedOrigins: 'https://app.example' });
    try {
      const { token } = await t.server.sessions.issue({ userId: 'cookie-user' });
      const cookie = `other=1; mast_session=${token}`;
      const host = new URL(t.url).host;

      for (const origin of [undefined, `http://${host}`, 'https://app.example']) {
        const client = await openWith(wsUrlOf(t), { cookie, ...(origin ? { origin } : {}) });
        await client.next('hello');
        expect(await whoAmI(client)).toBe('cookie-user');
        client.close();
      }

      for (const origin of ['https://evil.example', `http://${host}.evil.example`, 'null']) {
        const refused = await openWith(wsUrlOf(t), { cookie, origin });
        expect(await refused.closed).toMatchObject({ code: 4003 });
        expect(refused.unread()).toEqual([]);
      }
      expect(t.server.sockets.closedWith('FORBIDDEN_ORIGIN')).toBe(3);

      // A bearer token wins over the cookie, so the origin check does not apply to it.
      const { token: other } = await t.server.sessions.issue({ userId: 'bearer-user' });
      const viaBearer = await openWith(wsUrlOf(t), { cookie, origin: 'https://evil.example', authorization: `Bearer ${other}` });
      await viaBearer.next('hello');
      expect(await whoAmI(viaBearer)).toBe('bearer-user');
      viaBearer.close();

      // An unknown cookie closes like an unknown token; a socket with no credentials is anonymous.
      const stale = await openWith(wsUrlOf(t), { cookie: 'mast_session=mast_unknown' });
      expect(await stale.closed).toMatchObject({ code: 4001 });
      const anonymous = await openWith(wsUrlOf(t), { cookie: 'unrelated=1', origin: 'https://evil.example' });
      await anonymous.next('hello');
      expect(await whoAmI(anonymous)).toBeNull();
      anonymous.close();
    } finally {
      await t.close();
    }
  });

  it('a signed-out session closes the cookie socket too', async () => {
    const t = await startTestServer(testManifest);
    try {
      const { token } = await t.server.sessions.issue({ userId: 'leaving' });
      const client = await openWith(wsUrlOf(t), { cookie: `mast_session=${token}` });
      await client.next('hello');
      const res = await t.request('DELETE', '/api/auth/session', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await client.closed).toMatchObject({ code: 4001 });
    } finally {
      await t.close();
    }
  });
});

describe('socket caps', () => {
  it('caps sockets per user (4011), not per other user nor the admin; a closed socket frees its place', async () => {
    const t = await startTestServer(testManifest, { wsMaxSocketsPerUser: 2, adminToken: 'admin-secret' });
    try {
      const { token: alice } = await t.server.sessions.issue({ userId: 'alice' });
      const { token: alice2 } = await t.server.sessions.issue({ userId: 'alice' });
      const { token: bob } = await t.server.sessions.issue({ userId: 'bob' });
      const { client: a1 } = await LiveClient.connect(wsUrlOf(t), { token: alice });
      const { client: a2 } = await LiveClient.connect(wsUrlOf(t), { token: alice2 });
      // The cap is per user, across sessions.
      const a3 = await LiveClient.open(wsUrlOf(t), { token: alice });
      expect(await a3.closed).toMatchObject({ code: 4011 });
      expect(a3.unread()).toEqual([]);
      const { client: b1 } = await LiveClient.connect(wsUrlOf(t), { token: bob });
      const admins = await Promise.all([1, 2, 3].map(() => LiveClient.connect(wsUrlOf(t), { token: 'admin-secret' })));
      // Anonymous sockets are capped per address only.
      const anons = await Promise.all([1, 2, 3].map(() => LiveClient.connect(wsUrlOf(t))));
      expect(t.server.sockets.closedWith('TOO_MANY_USER_CONNECTIONS')).toBe(1);
      a1.close();
      await a1.closed;
      const { client: a4 } = await LiveClient.connect(wsUrlOf(t), { token: alice });
      for (const c of [a2, a4, b1, ...admins.map((x) => x.client), ...anons.map((x) => x.client)]) c.close();
    } finally {
      await t.close();
    }
  });

  it('counts sockets per address through trusted proxy hops of X-Forwarded-For, and ignores the header without trustProxy', async () => {
    const proxied = await startTestServer(testManifest, { wsMaxSocketsPerIp: 1, trustProxy: 1 });
    try {
      const url = wsUrlOf(proxied);
      const first = await openWith(url, { 'x-forwarded-for': '203.0.113.7' });
      await first.next('hello');
      const same = await openWith(url, { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' });
      expect(await same.closed).toMatchObject({ code: 4009 });
      const other = await openWith(url, { 'x-forwarded-for': '203.0.113.8' });
      await other.next('hello');
      first.close();
      other.close();
    } finally {
      await proxied.close();
    }
    const direct = await startTestServer(testManifest, { wsMaxSocketsPerIp: 1 });
    try {
      const url = wsUrlOf(direct);
      const first = await openWith(url, { 'x-forwarded-for': '203.0.113.7' });
      await first.next('hello');
      // Without trustProxy the header is the client's word: the peer address counts.
      const spoofed = await openWith(url, { 'x-forwarded-for': '203.0.113.99' });
      expect(await spoofed.closed).toMatchObject({ code: 4009 });
      first.close();
    } finally {
      await direct.close();
    }
  });
});

describe('the compatibility port', () => {
  it("serves the same WebSocket on port+1 at any path, with Pylon's bearer subprotocol; plain HTTP there gets 426", async () => {
    const t = await startTestServer(testManifest, { wsCompatPort: true });
    try {
      const compat = Number(new URL(t.url).port) + 1;
      const { token } = await t.server.sessions.issue({ userId: 'pylon-client' });
      const { client, hello } = await LiveClient.connect(wsUrlOf(t, compat, '/'), { protocols: [`bearer.${encodeURIComponent(token)}`] });
      expect(client.ws.protocol).toBe(`bearer.${encodeURIComponent(token)}`);
      expect(hello.protocol).toBe(PROTOCOL_VERSION);
      expect(await whoAmI(client)).toBe('pylon-client');
      client.send({ type: 'subscribe', id: 's', entity: 'Todo', filter: { ownerId: 'compat' } });
      await client.next('result');
      const res = await t.request('POST', '/api/entities/Todo', { body: { title: 'via compat', done: false, ownerId: 'compat' } });
      expect(await client.next('diff')).toMatchObject({ seq: (res.json as { seq: number }).seq, added: [{ title: 'via compat' }] });

      const { client: deep } = await LiveClient.connect(wsUrlOf(t, compat, '/any/path?x=1'));
      deep.close();
      const plain = await fetch(`http://127.0.0.1:${compat}/`);
      expect(plain.status).toBe(426);
      client.close();
    } finally {
      await t.close();
    }
  });

  it('is not served without the option', async () => {
    const t = await startTestServer(testManifest);
    try {
      const compat = Number(new URL(t.url).port) + 1;
      const ws = new WebSocket(wsUrlOf(t, compat, '/'));
      const outcome = await new Promise<string>((resolve) => {
        ws.once('open', () => resolve('open'));
        ws.once('error', () => resolve('error'));
      });
      expect(outcome).toBe('error');
      // The main port serves only /ws.
      const wrongPath = new WebSocket(wsUrlOf(t, Number(new URL(t.url).port), '/elsewhere'));
      const status = await new Promise<number>((resolve) => wrongPath.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
      expect(status).toBe(404);
    } finally {
      await t.close();
    }
  });
});

describe('live metrics', () => {
  it('reports sockets, subscriptions, rooms, frames and bytes sent, and closes by code', async () => {
    const t = await startTestServer(testManifest, { adminToken: 'metrics-admin', wsMessageRate: 5 });
    try {
      const scrape = async (): Promise<Map<string, number>> => {
        const res = await t.request('GET', '/metrics', { headers: { authorization: 'Bearer metrics-admin' } });
        expect(res.status).toBe(200);
        const out = new Map<string, number>();
        for (const line of res.text.split('\n')) {
          const m = /^(mast_(?:ws|live|room)\S*) (\d+)$/.exec(line);
          if (m) out.set(m[1]!, Number(m[2]));
        }
        return out;
      };
      const before = await scrape();
      expect(before.get('mast_ws_sockets')).toBe(0);
      expect(before.get('mast_ws_closes_total{code="SLOW_CONSUMER"}')).toBe(0);

      const { token } = await t.server.sessions.issue({ userId: 'metered' });
      const { client } = await LiveClient.connect(wsUrlOf(t), { token });
      client.send({ type: 'subscribe', id: 'm', entity: 'Todo' });
      await client.next('result');
      await whoAmI(client);
      const during = await scrape();
      expect(during.get('mast_ws_sockets')).toBe(1);
      expect(during.get('mast_live_subscriptions')).toBe(1);
      expect(during.get('mast_live_queries')).toBe(1);
      expect(during.get('mast_rooms')).toBe(1);
      expect(during.get('mast_room_members')).toBe(1);
      // hello, result, joined: three frames, and their exact bytes.
      expect(during.get('mast_ws_frames_sent_total')).toBe(3);
      expect(during.get('mast_ws_bytes_sent_total')).toBe(client.frames.reduce((n, f) => n + Buffer.byteLength(f), 0));

      for (let i = 0; i < 100 && client.ws.readyState === WebSocket.OPEN; i++) client.send({ type: 'unsubscribe', id: `x${i}` });
      expect(await client.closed).toMatchObject({ code: 4008 });
      await expect.poll(async () => (await scrape()).get('mast_ws_sockets')).toBe(0);
      const after = await scrape();
      expect(after.get('mast_ws_closes_total{code="RATE_LIMITED"}')).toBe(1);
      expect(after.get('mast_live_subscriptions')).toBe(0);
      expect(after.get('mast_room_members')).toBe(0);
    } finally {
      await t.close();
    }
  });
});
