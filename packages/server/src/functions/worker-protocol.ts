/**
 * Messages between the main thread and a function worker. A worker runs one call at a time;
 * every `ctx` operation of its handler is an `op` the main thread performs with the call's real
 * objects and answers with a `reply`. Values cross as structured clones, results as JSON text.
 */
import type { FunctionAuth, FunctionKind } from '@mast/functions';

/** The `ctx` operations a handler in a worker can ask for, as `<object>.<method>` or `<method>`. */
export const CTX_OPS = [
  'db.get',
  'db.query',
  'db.list',
  'db.lookup',
  'db.insert',
  'db.update',
  'db.delete',
  'scheduler.runAfter',
  'scheduler.runAt',
  'scheduler.cancel',
  'runQuery',
  'runMutation',
] as const;

/** One of `CTX_OPS`. */
export type CtxOp = (typeof CTX_OPS)[number];

/** What the worker needs to run one call. */
export interface WorkerCall {
  /** The URL the main thread imported the function's file from (with its reload version). */
  readonly url: string;
  readonly name: string;
  readonly kind: FunctionKind;
  readonly args: Record<string, unknown>;
  readonly auth: FunctionAuth;
  /** Whether the caller takes `ctx.stream` chunks (without it they are dropped, unchecked). */
  readonly streams: boolean;
}

/** A failed `ctx` operation as the worker sees it; `ref` names the original error in the main thread. */
export interface OpFailure {
  readonly ref: number;
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly status?: number;
  readonly fields?: readonly string[];
  readonly hint?: string;
}

/** Why a handler in a worker failed. */
export type WorkerFailure =
  /** It threw `ctx.error(code, message)` or a FunctionError. */
  | { readonly kind: 'author'; readonly code: string; readonly message: string; readonly permanent: boolean }
  /** It threw (again) the error a `ctx` operation failed with. */
  | { readonly kind: 'op'; readonly ref: number }
  /** Its result, or a streamed chunk, is not JSON (`message`: why; null: it has no JSON text). */
  | { readonly kind: 'not-json'; readonly message: string | null }
  /** It threw anything else. */
  | { readonly kind: 'thrown'; readonly name: string; readonly message: string; readonly stack?: string }
  /** The function's file could not be loaded in the worker. */
  | { readonly kind: 'load'; readonly message: string };

/** How a call ended in the worker: the result as JSON text, or why it failed. */
export type WorkerOutcome = { readonly ok: true; readonly json: string } | { readonly ok: false; readonly failure: WorkerFailure };

/** Main thread → worker. */
export type ToWorker =
  | { readonly type: 'call'; readonly id: number; readonly call: WorkerCall }
  | { readonly type: 'reply'; readonly id: number; readonly seq: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'reply'; readonly id: number; readonly seq: number; readonly ok: false; readonly failure: OpFailure }
  /** The call passed its deadline or was cancelled: `ctx.signal` aborts with this error. */
  | { readonly type: 'abort'; readonly id: number; readonly code: string; readonly message: string }
  /** Function files to import now, so that calls do not wait for it (after a reload). */
  | { readonly type: 'preload'; readonly urls: readonly string[] };

/** What a worker starts with (`workerData`): it imports `preload` before it says it is ready. */
export interface WorkerStart {
  readonly preload: readonly string[];
}

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'op'; readonly id: number; readonly seq: number; readonly op: CtxOp; readonly args: readonly unknown[] }
  | { readonly type: 'chunk'; readonly id: number; readonly json: string }
  | { readonly type: 'done'; readonly id: number; readonly outcome: WorkerOutcome };
