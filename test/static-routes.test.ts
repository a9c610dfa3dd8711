import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

const INDEX = '<!doctype html><title>app</title><div id="root"></div>';
let server: TestServer;
let outside: string;

/** A GET with the path sent byte for byte (fetch would normalise `..` away). */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  outside = mkdtempSync(join(tmpdir(), 'mast-outside-'));
  writeFileSync(join(outside, 'secret.txt'), 'do not serve');
  const dir = mkdtempSync(join(tmpdir(), 'mast-static-'));
  writeFileSync(join(dir, 'secret.txt'), 'the app folder itself is not served');
  mkdirSync(join(dir, 'public', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'public', 'index.html'), INDEX);
  writeFileSync(join(dir, 'public', 'sw.js'), 'self.addEventListener("fetch", () => {});');
  writeFileSync(join(dir, 'public', 'assets', 'index-Ab12.js'), 'console.log("app")');
  writeFileSync(join(dir, 'public', 'assets', 'loro-Cd34.wasm'), Buffer.from([0, 97, 115, 109]));
  writeFileSync(join(dir, 'public', '.env'), 'SECRET=1');
  symlinkSync(join(outside, 'secret.txt'), join(dir, 'public', 'leak.txt'));
  server = await startTestServer(testManifest, {}, { dir });
});
afterAll(async () => {
  await server.close();
  rmSync(outside, { recursive: true, force: true });
});

describe("an app's public/ folder served at /", () => {
  it('serves index.html at / with an HTML content type, revalidated on every use', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toBe(INDEX);
  });

  it('serves hashed assets as immutable with their content types', async () => {
    const js = await fetch(`${server.url}/assets/index-Ab12.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await js.text()).toBe('console.log("app")');
    const wasm = await fetch(`${server.url}/assets/loro-Cd34.wasm`);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect(new Uint8Array(await wasm.arrayBuffer())).toEqual(new Uint8Array([0, 97, 115, 109]));
    const sw = await fetch(`${server.url}/sw.js`);
    expect(sw.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers a matching ETag with 304 and HEAD with headers only', async () => {
    const first = await fetch(`${server.url}/assets/index-Ab12.js`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/"/);
    const again = await fetch(`${server.url}/assets/index-Ab12.js`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    const head = await fetch(`${server.url}/assets/index-Ab12.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String('console.log("app")'.length));
    expect(await head.text()).toBe('');
  });

  it('answers a page path asked for as HTML with index.html (client-side routes)', async () => {
    const res = await fetch(`${server.url}/lists/42`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(INDEX);
  });

  it('answers a missing file, or a page path not asked for as HTML, with the 404 envelope', async () => {
    for (const [path, accept] of [
      ['/assets/missing-1234.js', 'text/html'],
      ['/lists/42', 'application/json'],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, { headers: { accept } });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    }
  });

  it('keeps API routes first: an unknown API path is the API 404, never the page', async () => {
    for (const [path, code] of [
      ['/api/nope', 'NOT_FOUND'],
      ['/api/entities/Nope', 'ENTITY_NOT_FOUND'],
      ['/events/x', 'NOT_FOUND'],
      ['/ws/extra', 'NOT_FOUND'],
      ['/metrics/x', 'NOT_FOUND'],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } });
      const body = await res.text();
      expect(body, path).not.toContain('<title>app</title>');
      expect(JSON.parse(body).error.code, path).toBe(code);
    }
    const health = await fetch(`${server.url}/health`, { headers: { accept: 'text/html' } });
    expect(((await health.json()) as { status: string }).status).toBe('ok');
    const list = await fetch(`${server.url}/api/entities/Todo`);
    expect(list.status).toBe(200);
  });

  it('opens the socket at /ws as before', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
    const hello = await new Promise<{ type: string }>((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(String(data)) as { type: string }));
      ws.once('error', reject);
    });
    ws.close();
    expect(hello.type).toBe('hello');
  });

  it('never serves a file outside the folder: .. segments, encoded or not, dotfiles, symlinks out, backslashes, NUL', async () => {
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%2fsecret.txt',
      '/..%5csecret.txt',
      '/assets%5c..%5c..%5csecret.txt',
      '/.env',
      '/%2eenv',
      '/leak.txt',
      '/index.html%00.js',
      `/${'..%2f'.repeat(12)}etc/passwd`,
    ];
    for (const path of attempts) {
      const res = await rawGet(server.url, path, { accept: 'application/json' });
      expect([400, 404], path).toContain(res.status);
      expect(res.body, path).not.toContain('do not serve');
      expect(res.body, path).not.toContain('SECRET=1');
      expect(res.body, path).not.toContain('the app folder itself');
      expect(res.body, path).not.toContain('root:');
    }
    // A bad percent-escape is the URL error, not a crash.
    const bad = await rawGet(server.url, '/%E0%A4%A.js');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.code).toBe('INVALID_URL');
  });
});

describe('an app without a public/ folder', () => {
  it('serves nothing at /: the 404 envelope, as before', async () => {
    const bare = await startTestServer(testManifest);
    try {
      const res = await fetch(`${bare.url}/`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    } finally {
      await bare.close();
    }
  });
});
