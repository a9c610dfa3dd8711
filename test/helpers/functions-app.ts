import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Manifest } from '@mast/schema';
import type { FunctionSet } from '@mast/server';
import type { TestServer } from './test-server.js';

const OWNER = 'auth.userId == data.ownerId';

/** An app with one entity, `Todo {title, ownerId}`, that only its owner may read or write. */
export function ownedTodoManifest(name: string): Manifest {
  return {
    manifest_version: 1,
    name,
    version: '1',
    routes: [],
    entities: [
      {
        name: 'Todo',
        fields: [
          { name: 'title', type: 'string', optional: false, unique: false },
          { name: 'ownerId', type: 'string', optional: false, unique: false },
        ],
        indexes: [],
      },
    ],
    policies: [{ name: 'own', entity: 'Todo', allowRead: OWNER, allowInsert: OWNER, allowUpdate: OWNER, allowDelete: OWNER }],
  };
}

/** The definition API's entry, imported by absolute URL: test apps live outside the repository. */
export const FUNCTIONS_API = pathToFileURL(resolve('packages/functions/src/index.ts')).href;

/**
 * Writes `functions/<name>.ts` into the test server's app folder; `body` is the module's code
 * after `import { query, mutation, action, v } from '@mast/functions'`.
 */
export function writeFunction(t: TestServer, name: string, body: string): void {
  mkdirSync(join(t.dir, 'functions'), { recursive: true });
  writeFileSync(join(t.dir, 'functions', `${name}.ts`), `import { query, mutation, action, v } from ${JSON.stringify(FUNCTIONS_API)};\n${body}\n`);
}

/** Writes several function files, then reloads; returns what the load reported. */
export async function deployFunctions(t: TestServer, files: Record<string, string>): Promise<FunctionSet> {
  for (const [name, body] of Object.entries(files)) writeFunction(t, name, body);
  return t.server.reloadFunctions();
}

/** `POST /api/fn/<name>` with `args` as the body. */
export function callFn(t: TestServer, name: string, args?: unknown, headers: Record<string, string> = {}): ReturnType<TestServer['request']> {
  return t.request('POST', `/api/fn/${name}`, { ...(args === undefined ? {} : { body: args }), headers });
}
