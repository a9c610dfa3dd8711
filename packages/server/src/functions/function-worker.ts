/**
 * The code of a function worker thread (built, the thread's entry; from source, started through
 * `function-worker.mjs`). It imports function files itself and runs one call at a time; `ctx` is a
 * proxy whose operations the main thread performs with the call's real objects.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { FunctionError, isFunctionDefinition, isFunctionError, type FunctionAuth, type FunctionDefinition } from '@mast/functions';
import { jsonText, notJsonMessage } from './json-text.js';
import { isTypeScriptFile, registerTypeScript } from './typescript-loader.js';
import type { CtxOp, FromWorker, OpFailure, ToWorker, WorkerCall, WorkerFailure, WorkerOutcome, WorkerStart } from './worker-protocol.js';

if (!parentPort) throw new Error('function-worker runs only in a worker thread');
const port = parentPort;

/** Marks an error made here from a failed `ctx` operation: its number in the main thread. */
const OP_REF = Symbol('opRef');
/** Marks the FN_RESULT_INVALID error of a streamed chunk. */
const NOT_JSON = Symbol('notJson');

/** One call in progress. */
interface Running {
  readonly call: WorkerCall;
  readonly controller: AbortController;
  readonly pending: Map<number, { resolve(value: unknown): void; reject(err: unknown): void }>;
  seq: number;
  ended: boolean;
}

const running = new Map<number, Running>();
const modules = new Map<string, Promise<FunctionDefinition>>();

function post(message: FromWorker): void {
  port.postMessage(message);
}

/** An error of the catalogue (code, message) as handlers see the main thread's AppError. */
function catalogueError(code: string, message: string, extra: Partial<Omit<OpFailure, 'ref' | 'name' | 'message'>> = {}): Error {
  const err = new Error(message);
  err.name = 'AppError';
  return Object.assign(err, { code, status: 400, ...extra });
}

/** The error a failed `ctx` operation rejects with: the main thread's, as far as a copy can be. */
function opError(failure: OpFailure): Error {
  const { ref, name, message, ...rest } = failure;
  const err = new Error(message);
  err.name = name;
  return Object.assign(err, rest, { [OP_REF]: ref });
}

/** Imports a function file once; a file compiled as CommonJS (no "type": "module") nests its default export. */
function load(url: string): Promise<FunctionDefinition> {
  let def = modules.get(url);
  if (!def) {
    def = checkSource(url)
      .then(() => (isTypeScriptFile(new URL(url).pathname) ? registerTypeScript() : undefined))
      .then(() => import(url))
      .then((ns: { default?: unknown }) => {
        const exported = ns.default;
        if (isFunctionDefinition(exported)) return exported;
        const nested = (exported as { default?: unknown } | null | undefined)?.default;
        if (isFunctionDefinition(nested)) return nested;
        throw new Error('has no valid default export');
      });
    modules.set(url, def);
    def.catch(() => modules.delete(url));
  }
  return def;
}

class LoadError extends Error {}

/**
 * Refuses a file whose content is not the one the main thread imported and checked (the `h`
 * hash in its URL): the file was changed on disk since, and the main thread's validators,
 * policies bypass and kind describe other code.
 */
async function checkSource(url: string): Promise<void> {
  const parsed = new URL(url);
  const expected = parsed.searchParams.get('h');
  if (expected === null) return;
  parsed.search = '';
  const actual = createHash('sha256')
    .update(await readFile(fileURLToPath(parsed)))
    .digest('base64url');
  if (actual !== expected) throw new Error('the file changed on disk since the server loaded it; reload the functions (mast dev does) or restart the server');
}

function request(id: number, run: Running, op: CtxOp, args: unknown[]): Promise<unknown> {
  if (run.ended) return Promise.reject(new Error(`The call of "${run.call.name}" has ended; ctx can no longer be used`));
  const seq = ++run.seq;
  return new Promise((resolve, reject) => {
    run.pending.set(seq, { resolve, reject });
    try {
      post({ type: 'op', id, seq, op, args });
    } catch (err) {
      // A value that cannot be cloned (a function, a symbol) in the arguments.
      run.pending.delete(seq);
      reject(err);
    }
  });
}

function buildCtx(id: number, run: Running): Record<string, unknown> {
  const { call } = run;
  const op =
    (name: CtxOp) =>
    (...args: unknown[]): Promise<unknown> =>
      request(id, run, name, args);
  const auth: FunctionAuth = Object.freeze({ ...call.auth, roles: Object.freeze([...call.auth.roles]) });
  const base = {
    auth,
    signal: run.controller.signal,
    error: (code: string, message: string, options?: { permanent?: boolean }) => new FunctionError(code, message, options),
    scheduler: { runAfter: op('scheduler.runAfter'), runAt: op('scheduler.runAt'), cancel: op('scheduler.cancel') },
    runQuery: op('runQuery'),
    runMutation: op('runMutation'),
  };
  if (call.kind === 'action') {
    const write = (chunk: unknown): void => {
      if (run.ended || run.controller.signal.aborted || !call.streams) return;
      let text: string | undefined;
      try {
        text = chunk === undefined ? 'null' : jsonText(chunk);
      } catch (err) {
        throw Object.assign(catalogueError('FN_RESULT_INVALID', notJsonMessage(call.name, err)), { [NOT_JSON]: true });
      }
      if (text === undefined) throw Object.assign(catalogueError('FN_RESULT_INVALID', notJsonMessage(call.name)), { [NOT_JSON]: true });
      post({ type: 'chunk', id, json: text });
    };
    return { ...base, stream: { write } };
  }
  const db = {
    get: op('db.get'),
    query: op('db.query'),
    list: op('db.list'),
    lookup: op('db.lookup'),
    insert: op('db.insert'),
    update: op('db.update'),
    delete: op('db.delete'),
  };
  return { ...base, db };
}

function failureOf(err: unknown): WorkerFailure {
  if (err instanceof LoadError) return { kind: 'load', message: err.message };
  if (typeof err === 'object' && err !== null) {
    const marked = err as { [OP_REF]?: unknown; [NOT_JSON]?: unknown };
    if (typeof marked[OP_REF] === 'number') return { kind: 'op', ref: marked[OP_REF] };
    if (marked[NOT_JSON] === true) return { kind: 'not-json', message: (err as Error).message };
  }
  if (isFunctionError(err)) return { kind: 'author', code: err.code, message: err.message, permanent: err.permanent === true };
  if (err instanceof Error) return { kind: 'thrown', name: err.name, message: err.message, ...(err.stack === undefined ? {} : { stack: err.stack }) };
  return { kind: 'thrown', name: typeof err, message: String(err) };
}

function resultOf(name: string, value: unknown): WorkerOutcome {
  if (value === undefined) return { ok: true, json: 'null' };
  let text: string | undefined;
  try {
    text = jsonText(value);
  } catch (err) {
    return { ok: false, failure: { kind: 'not-json', message: notJsonMessage(name, err) } };
  }
  return text === undefined ? { ok: false, failure: { kind: 'not-json', message: notJsonMessage(name) } } : { ok: true, json: text };
}

async function runCall(id: number, call: WorkerCall): Promise<void> {
  const run: Running = { call, controller: new AbortController(), pending: new Map(), seq: 0, ended: false };
  running.set(id, run);
  let outcome: WorkerOutcome;
  try {
    let def: FunctionDefinition;
    try {
      def = await load(call.url);
    } catch (err) {
      throw new LoadError(`The function file of "${call.name}" could not be loaded in a worker: ${String((err as Error | null)?.message ?? err).split('\n')[0]}`);
    }
    if (def.kind !== call.kind) throw new LoadError(`The function file of "${call.name}" now defines a ${def.kind}, not a ${call.kind}; reload the functions`);
    outcome = resultOf(call.name, await def.handler(buildCtx(id, run) as never, call.args));
  } catch (err) {
    outcome = { ok: false, failure: failureOf(err) };
  }
  run.ended = true;
  running.delete(id);
  post({ type: 'done', id, outcome });
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'call':
      void runCall(message.id, message.call);
      return;
    case 'reply': {
      const run = running.get(message.id);
      const waiter = run?.pending.get(message.seq);
      if (!run || !waiter) return;
      run.pending.delete(message.seq);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(opError(message.failure));
      return;
    }
    case 'abort':
      running.get(message.id)?.controller.abort(catalogueError(message.code, message.message));
      return;
    case 'preload':
      // A file that fails here fails again, with its message, in the call that needs it.
      for (const url of message.urls) load(url).catch(() => undefined);
      return;
  }
});

await Promise.allSettled((workerData as WorkerStart).preload.map(load));
post({ type: 'ready' });
