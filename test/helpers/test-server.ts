import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileManifest, type Manifest } from '@mast/schema';
import { MastServer, loadConfig, type MastConfig, type MastServerOptions } from '@mast/server';

/** A Mast server on a real port with a real SQLite file, for API tests. */
export interface TestServer {
  readonly url: string;
  readonly server: MastServer;
  readonly dir: string;
  /** fetch against the server with JSON in and out. */
  request(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; text: string; json: unknown; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * Builds and starts a server. The compatibility port is the main port + 1, which another process
 * may hold by chance: then the server is closed and built again on a new port (a few times).
 */
async function createAndListen(create: () => Promise<MastServer>): Promise<{ server: MastServer; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const server = await create();
    try {
      return { server, port: await server.listen() };
    } catch (err) {
      await server.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
    }
  }
}

/**
 * Starts a server on port 0 in a fresh temporary folder (or in `extra.dir`, reusing its
 * database); the rest of `extra` are server options beyond the config.
 */
export async function startTestServer(
  manifest: Manifest,
  overrides: Partial<MastConfig> = {},
  extra: Pick<MastServerOptions, 'roomAccess' | 'oauthProviders' | 'now' | 'logger'> & { dir?: string } = {},
): Promise<TestServer> {
  const { dir: given, ...hooks } = extra;
  const dir = given ?? mkdtempSync(join(tmpdir(), 'mast-test-'));
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dir, 'test.db'), ...overrides });
  const { server, port } = await createAndListen(() => MastServer.create({ appDir: dir, schema: compileManifest(manifest), config, ...hooks }));
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    server,
    dir,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      let body: string | undefined;
      if (options.rawBody !== undefined) body = options.rawBody;
      else if (options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, text, json, headers: res.headers };
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A manifest with every field kind, used by the API tests. */
export const testManifest: Manifest = {
  manifest_version: 1,
  name: 'test',
  version: '1.0.0',
  entities: [
    {
      name: 'User',
      fields: [
        { name: 'email', type: 'string', optional: false, unique: true },
        { name: 'name', type: 'string', optional: true, unique: false },
      ],
      indexes: [],
    },
    {
      name: 'Todo',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'done', type: 'bool', optional: false, unique: false },
        { name: 'priority', type: 'int', optional: true, unique: false },
        { name: 'score', type: 'float', optional: true, unique: false },
        { name: 'due', type: 'datetime', optional: true, unique: false },
        { name: 'meta', type: 'json', optional: true, unique: false },
        { name: 'ownerId', type: 'id(User)', optional: true, unique: false },
        { name: 'slug', type: 'string', optional: true, unique: true },
      ],
      indexes: [{ name: 'by_owner', fields: ['ownerId'], unique: false }],
    },
  ],
  routes: [],
  // Open to every caller: these tests are about the API, not access (see api-policies.test.ts).
  policies: [
    { name: 'users_open', entity: 'User', allow: 'true' },
    { name: 'todos_open', entity: 'Todo', allow: 'true' },
  ],
};
