import { fnErrors } from '../errors/index.js';
import { AuthorError } from './author-error.js';
import type { WorkerLease } from './worker-pool.js';
import type { CtxOp, WorkerCall, WorkerFailure } from './worker-protocol.js';

type Method = (...args: unknown[]) => unknown;

/** Performs `op` (`db.get`, `scheduler.runAfter`, `runQuery`, ...) on the call's real `ctx`. */
async function perform(ctx: object, op: CtxOp, args: readonly unknown[]): Promise<unknown> {
  const dot = op.indexOf('.');
  const target = (dot === -1 ? ctx : (ctx as Record<string, unknown>)[op.slice(0, dot)]) as Record<string, unknown> | undefined;
  const method = target?.[op.slice(dot + 1)];
  if (typeof method !== 'function') throw new TypeError(`ctx.${op} is not a function`);
  return (method as Method).apply(target, args as unknown[]);
}

/** The error the in-process path would have thrown for what failed in the worker. */
function failureError(failure: WorkerFailure, lease: WorkerLease): unknown {
  switch (failure.kind) {
    case 'author':
      return new AuthorError(failure.code, failure.message, 400, failure.permanent);
    case 'op':
      return lease.opError(failure.ref);
    case 'not-json':
      return fnErrors.resultNotJson(failure.message ?? undefined);
    case 'load':
      return new Error(failure.message);
    case 'thrown': {
      const err = new Error(failure.message);
      err.name = failure.name;
      err.stack = failure.stack ?? `${failure.name}: ${failure.message}`;
      return err;
    }
  }
}

/**
 * Runs one call in a worker with `ctx` (the one the in-process path would give the handler) as
 * the performer of its operations. Resolves with the handler's value as parsed JSON; rejects with
 * the error the handler's failure stands for: an AuthorError for `ctx.error`, the very error a
 * `ctx` operation failed with when the handler let it through, an Error with the handler's name,
 * message and stack for anything else thrown.
 */
export async function runIsolated(lease: WorkerLease, call: WorkerCall, ctx: object, signal: AbortSignal): Promise<unknown> {
  const outcome = await lease.run(
    call,
    {
      perform: (op, args) => perform(ctx, op, args),
      chunk: (json) => (ctx as { stream?: { write(chunk: unknown): void } }).stream?.write(JSON.parse(json)),
    },
    signal,
  );
  if (outcome.ok) return JSON.parse(outcome.json) as unknown;
  throw failureError(outcome.failure, lease);
}
