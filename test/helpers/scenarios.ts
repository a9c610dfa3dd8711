import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileManifest, type Manifest } from '@mast/schema';
import { MastServer, loadConfig, type MastConfig } from '@mast/server';
import { afterAll, beforeAll, expect, it } from 'vitest';

/**
 * A server built in process with a real SQLite file and no port: requests go through Fastify's
 * `inject()`, so HTTP-only cases pay neither a listen nor a socket.
 */
export interface InProcessServer {
  readonly server: MastServer;
  readonly dir: string;
  request(
    method: string,
    url: string,
    options?: { body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; text: string; json: unknown; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Builds a server for `manifest` in a fresh temporary folder. */
export async function inProcessServer(manifest: Manifest, overrides: Partial<MastConfig> = {}): Promise<InProcessServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-inject-'));
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dir, 'test.db'), ...overrides });
  const server = await MastServer.create({ appDir: dir, schema: compileManifest(manifest), config });
  await server.http.ready();
  return {
    server,
    dir,
    async request(method, url, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      const res = await server.http.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
      let json: unknown;
      try {
        json = JSON.parse(res.body);
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, text: res.body, json, headers: res.headers };
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A change-log entry a scenario expects its request to append. */
export interface ExpectedEvent {
  readonly entity: string;
  readonly kind: 'insert' | 'update' | 'delete';
  readonly rowId?: string;
}

/** One HTTP case: a request, the answer it must get, and what it must append to the change log. */
export interface Scenario {
  readonly name: string;
  readonly method: string;
  readonly url: string;
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  readonly status: number;
  /** The error code of a non-2xx answer. */
  readonly code?: string;
  /** A subset the JSON body must match. */
  readonly json?: unknown;
  /** The change-log entries the request appends, in order; omitted means none. */
  readonly events?: readonly ExpectedEvent[];
}

/**
 * Runs a table of scenarios against one in-process server, in order (a scenario may build on the
 * rows of the ones before it). Each asserts status, code, body and exactly the change-log entries
 * the request appended.
 */
export function runScenarios(manifest: Manifest, table: readonly Scenario[], overrides: Partial<MastConfig> = {}): void {
  let t: InProcessServer;
  beforeAll(async () => {
    t = await inProcessServer(manifest, overrides);
  });
  afterAll(async () => {
    await t.close();
  });
  for (const scenario of table) {
    it(scenario.name, async () => {
      const head = (await t.server.store.changeLogBounds()).head;
      const res = await t.request(scenario.method, scenario.url, {
        ...(scenario.body === undefined ? {} : { body: scenario.body }),
        ...(scenario.rawBody === undefined ? {} : { rawBody: scenario.rawBody }),
        ...(scenario.headers === undefined ? {} : { headers: scenario.headers }),
      });
      expect(res.status, res.text).toBe(scenario.status);
      if (scenario.status >= 400) {
        expect(res.json, 'every error answers in the envelope').toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
      }
      if (scenario.code !== undefined) expect((res.json as { error: { code: string } }).error.code).toBe(scenario.code);
      if (scenario.json !== undefined) expect(res.json).toMatchObject(scenario.json as object);
      const appended = await t.server.store.changesSince(head, 1000);
      const expected = scenario.events ?? [];
      // Row ids are compared only when the table names them.
      const withIds = expected.some((e) => e.rowId !== undefined);
      const shape = (e: { entity: string; kind: string; rowId?: string | undefined }) => ({ entity: e.entity, kind: e.kind, ...(withIds ? { rowId: e.rowId } : {}) });
      expect(appended.map(shape)).toEqual(expected.map(shape));
    });
  }
}
