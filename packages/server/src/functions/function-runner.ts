import { createHash } from 'node:crypto';
import {
  FunctionError,
  isFunctionError,
  type FunctionErrorOptions,
  type ActionCtx,
  type FunctionDefinition,
  type FunctionKind,
  type MutationCtx,
  type QueryCtx,
} from '@mast/functions';
import type { Logger } from 'pino';
import { ADMIN, type AuthContext } from '../access/auth-context.js';
import type { FilterLimits } from '../entities/filter-parser.js';
import type { SchemaRef } from '../access/schema-ref.js';
import type { SystemWrites, WritePath } from '../entities/write-path.js';
import { AppError, fnErrors } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { AuthorError } from './author-error.js';
import { CallGuard } from './call-guard.js';
import { CallScheduler, QUERY_SCHEDULER, type JobSink, type SchedulerDeps } from './call-scheduler.js';
import { MutationDb, QueryDb } from './function-db.js';
import type { FunctionRegistry, RegisteredFunction } from './function-registry.js';
import { runIsolated } from './isolated-call.js';
import { toJsonResult } from './json-result.js';
import { parseArgs } from './parse-args.js';
import type { ReadSet } from './read-set.js';
import type { SpinWatchdog } from './spin-watchdog.js';
import type { WorkerLease, WorkerPool } from './worker-pool.js';
import type { WorkerCall } from './worker-protocol.js';

/** Per-call limits, from the options table. */
export interface FunctionLimits {
  /** Queries and actions. */
  readonly timeoutMs: number;
  /** Mutations (they hold the one writer, so this is shorter). */
  readonly mutationTimeoutMs: number;
  /** How long a mutation, or a query holding its snapshot, may await something other than ctx.db. */
  readonly idleMs: number;
}

/** Which calls run in worker threads, and the pool they run in. */
export interface FunctionIsolation {
  readonly pool: WorkerPool;
  /** Every function runs in a worker, not only those defined with `isolated: true`. */
  readonly all: boolean;
}

/** What the runner needs from the server. */
export interface FunctionRunnerDeps {
  readonly store: Store;
  readonly schema: SchemaRef;
  readonly writes: WritePath;
  readonly registry: FunctionRegistry;
  readonly readLimits: FilterLimits;
  readonly limits: FunctionLimits;
  readonly logger: Logger;
  /** How `ctx.scheduler` enqueues jobs. */
  readonly jobs: SchedulerDeps;
  /** Follows calls so a handler that blocks the event loop past its deadline is reported. */
  readonly watchdog?: SpinWatchdog;
  /** Without it every call runs in the main thread, `isolated: true` or not. */
  readonly isolation?: FunctionIsolation;
  /**
   * Dev mode: a handler's own error (message and stack) reaches the caller in HANDLER_ERROR.
   * Off in production, where only the log has it.
   */
  readonly exposeHandlerErrors?: boolean;
}

/** Options of one call. */
export interface CallOptions {
  /** A mutation's op id (`Idempotency-Key`): a replay returns the first result. */
  readonly opId?: string;
  /** Only this kind may be called (`ctx.runQuery` / `ctx.runMutation`). */
  readonly expect?: FunctionKind;
  /** A query records what it reads here. */
  readonly readSet?: ReadSet;
  /** Aborted when the caller goes away: the call ends with FN_CANCELLED and `ctx.signal` aborts. */
  readonly signal?: AbortSignal;
  /** Receives an action's `ctx.stream.write` chunks (as JSON values); without it they are dropped. */
  readonly onChunk?: (chunk: unknown) => void;
  /** A mutation runs this in its transaction after the handler returned; a throw rolls it back. */
  readonly beforeCommit?: (system: SystemWrites) => Promise<void>;
}

const ctxError = (code: string, message: string, options?: FunctionErrorOptions): FunctionError => new FunctionError(code, message, options);

/**
 * Runs server functions, in process or (isolated ones) in a worker thread whose `ctx`
 * operations come back here. Queries read one snapshot and run concurrently with everything;
 * mutations are one write transaction each (serialised by the store's writer); actions hold no
 * database resource and reach data through other functions. Every call has its own deadline,
 * and a failure never affects other calls.
 */
export class FunctionRunner {
  readonly #deps: FunctionRunnerDeps;

  constructor(deps: FunctionRunnerDeps) {
    this.#deps = deps;
  }

  /**
   * Calls `name` as `auth` with raw (unvalidated) args; resolves with the JSON result. Throws
   * AppError (catalogue codes) or AuthorError (the author's codes).
   */
  call(name: string, rawArgs: unknown, auth: AuthContext, options: CallOptions = {}): Promise<unknown> {
    return this.#call(name, rawArgs, auth, options, false);
  }

  /** `fromWorker`: the caller is an isolated action, holding a worker while it waits for this call. */
  async #call(name: string, rawArgs: unknown, auth: AuthContext, options: CallOptions, fromWorker: boolean): Promise<unknown> {
    const fn = this.#deps.registry.get(name);
    if (!fn) throw fnErrors.notRegistered(name);
    const def = fn.definition;
    if (options.expect !== undefined && def.kind !== options.expect) {
      throw fnErrors.wrongKind(name, def.kind, options.expect);
    }
    const args = parseArgs(name, def.args, rawArgs, this.#deps.readLimits.jsonLimits);
    const isolation = this.#deps.isolation;
    let lease: WorkerLease | undefined;
    try {
      if (isolation !== undefined && (isolation.all || def.isolated === true)) {
        // Taken before a mutation opens its transaction: waiting for a worker holds no writer.
        const { timeoutMs, mutationTimeoutMs } = this.#deps.limits;
        lease = await isolation.pool.acquire({ name, waitMs: def.kind === 'mutation' ? mutationTimeoutMs : timeoutMs, signal: options.signal, urgent: fromWorker });
      }
      switch (def.kind) {
        case 'query':
          return await this.#query(fn, def as FunctionDefinition<'query'>, args, auth, options, lease);
        case 'mutation':
          return await this.#mutation(fn, def as FunctionDefinition<'mutation'>, args, auth, options, lease);
        case 'action':
          return await this.#action(fn, def as FunctionDefinition<'action'>, args, auth, options, lease);
      }
    } catch (err) {
      throw this.#translate(name, err);
    } finally {
      lease?.release();
    }
  }

  /** The call as a function worker receives it. */
  #workerCall(fn: RegisteredFunction, args: Record<string, unknown>, auth: AuthContext, streams: boolean): WorkerCall {
    return { url: fn.url, name: fn.name, kind: fn.definition.kind, args, auth: publicAuth(auth), streams };
  }

  /**
   * A main-thread handler as `CallGuard.run` starts it, followed by the spin watchdog from its
   * start (so a mutation's wait for the writer is not counted) until its own promise settles
   * (so a handler that outlives its deadline and then blocks the loop is still named).
   */
  #inProcess<T>(name: string, deadlineMs: number, handler: () => T | Promise<T>): () => Promise<T> {
    return async () => {
      const watched = this.#deps.watchdog?.enter(name, deadlineMs);
      try {
        return await handler();
      } finally {
        watched?.leave();
      }
    };
  }

  #translate(name: string, err: unknown): Error {
    if (err instanceof AppError || err instanceof AuthorError) return err;
    if (isFunctionError(err)) return new AuthorError(err.code, err.message, 400, err.permanent === true);
    this.#deps.logger.error({ err, function: name }, 'function handler failed');
    if (this.#deps.exposeHandlerErrors !== true) return fnErrors.handlerError(err);
    return fnErrors.handlerErrorExposed(err);
  }

  #result(name: string, def: FunctionDefinition, value: unknown): unknown {
    const json = toJsonResult(name, value);
    if (def.returns) {
      const checked = def.returns.safeParse(json);
      if (!checked.success) {
        throw fnErrors.resultRejected(name, checked.error.issues.map((i) => `${i.path.join('.') || '(result)'}: ${i.message}`).join('; '));
      }
    }
    return json;
  }

  async #query(
    fn: RegisteredFunction,
    def: FunctionDefinition<'query'>,
    args: Record<string, unknown>,
    auth: AuthContext,
    options: CallOptions,
    lease: WorkerLease | undefined,
  ): Promise<unknown> {
    const { name } = fn;
    const { limits } = this.#deps;
    let db: QueryDb | undefined;
    const guard = new CallGuard(name, {
      timeoutMs: limits.timeoutMs,
      idle: {
        ms: limits.idleMs,
        holding: () => db?.holding ?? false,
        ...(lease ? { busyMs: () => lease.busyMs() } : {}),
        blocked: () => fnErrors.queryBlocked(name, limits.idleMs),
      },
    });
    db = new QueryDb(this.#deps.store, this.#deps.schema, this.#deps.readLimits, def.unsafeBypassPolicies ? ADMIN : auth, guard, options.readSet);
    const ctx: QueryCtx & Record<string, unknown> = { auth: publicAuth(auth), signal: guard.signal, error: ctxError, db, scheduler: QUERY_SCHEDULER, ...noCalls('query') };
    try {
      const run = lease
        ? () => runIsolated(lease, this.#workerCall(fn, args, auth, false), ctx, guard.signal)
        : this.#inProcess(name, this.#deps.limits.timeoutMs, () => def.handler(ctx, args));
      return this.#result(name, def, await guard.run(run, options.signal));
    } finally {
      await db.close();
    }
  }

  async #mutation(
    fn: RegisteredFunction,
    def: FunctionDefinition<'mutation'>,
    args: Record<string, unknown>,
    auth: AuthContext,
    options: CallOptions,
    lease: WorkerLease | undefined,
  ): Promise<unknown> {
    const { name } = fn;
    const { writes, schema, readLimits, limits } = this.#deps;
    const opId = options.opId;
    let scheduled = false;
    // A bypassing mutation writes as admin but keeps the caller's id: op ids are kept per caller.
    const dbAuth: AuthContext = def.unsafeBypassPolicies ? { ...ADMIN, userId: auth.userId } : auth;
    const context = opId === undefined ? { auth: dbAuth } : { auth: dbAuth, opId };
    const fingerprint =
      opId === undefined
        ? ''
        : createHash('sha256')
            .update(JSON.stringify([name, args]))
            .digest('base64url');
    const { result } = await writes.transaction(context, fingerprint, async (session) => {
      const guard = new CallGuard(name, {
        timeoutMs: limits.mutationTimeoutMs,
        idle: {
          ms: limits.idleMs,
          holding: () => true,
          ...(lease ? { busyMs: () => lease.busyMs() } : {}),
          blocked: () => fnErrors.mutationBlocked(name, limits.idleMs),
        },
      });
      const db = new MutationDb(session, schema, readLimits, guard, this.#deps.store.capabilities.blockingCalls);
      // Jobs join the transaction; once the call has ended they can no longer be added to it.
      const sink: JobSink = {
        enqueue: async (job) => {
          if (guard.signal.aborted) throw fnErrors.mutationEnded(name, job.fn);
          await session.system.enqueueJob(job);
          scheduled = true;
        },
        cancel: (id, owner) => session.system.cancelJob(id, owner),
      };
      const scheduler = new CallScheduler(this.#deps.jobs, auth, sink, guard);
      const ctx: MutationCtx & Record<string, unknown> = { auth: publicAuth(auth), signal: guard.signal, error: ctxError, db, scheduler, ...noCalls('mutation') };
      const run = lease
        ? () => runIsolated(lease, this.#workerCall(fn, args, auth, false), ctx, guard.signal)
        : this.#inProcess(name, this.#deps.limits.mutationTimeoutMs, () => def.handler(ctx, args));
      const value = await guard.run(run, options.signal);
      // Checked inside the transaction: a result the client cannot receive rolls the writes back.
      const json = this.#result(name, def, value);
      await options.beforeCommit?.(session.system);
      return json;
    });
    if (scheduled) this.#deps.jobs.onEnqueued?.();
    return result;
  }

  async #action(
    fn: RegisteredFunction,
    def: FunctionDefinition<'action'>,
    args: Record<string, unknown>,
    auth: AuthContext,
    options: CallOptions,
    lease: WorkerLease | undefined,
  ): Promise<unknown> {
    const { name } = fn;
    const guard = new CallGuard(name, { timeoutMs: this.#deps.limits.timeoutMs });
    const ended = (what: string): AppError => fnErrors.actionEnded(name, what);
    let done = false;
    const nested =
      (kind: 'query' | 'mutation') =>
      async <T>(target: string, targetArgs?: Record<string, unknown>): Promise<T> => {
        if (guard.signal.aborted) throw ended(`call "${target}"`);
        return (await this.#call(target, targetArgs ?? {}, auth, { expect: kind }, lease !== undefined)) as T;
      };
    const { store, jobs } = this.#deps;
    const sink: JobSink = {
      enqueue: async (job) => {
        if (guard.signal.aborted) throw ended(`schedule "${job.fn}"`);
        await store.jobs.enqueue(job);
        jobs.onEnqueued?.();
      },
      cancel: (id, owner) => store.jobs.cancel(id, owner, jobs.now()),
    };
    const onChunk = options.onChunk;
    const stream = {
      write: (chunk: unknown): void => {
        if (done || guard.signal.aborted || !onChunk) return;
        onChunk(toJsonResult(name, chunk));
      },
    };
    const ctx: ActionCtx = {
      auth: publicAuth(auth),
      signal: guard.signal,
      error: ctxError,
      runQuery: nested('query'),
      runMutation: nested('mutation'),
      scheduler: new CallScheduler(jobs, auth, sink, guard),
      stream,
    };
    try {
      const run = lease
        ? () => runIsolated(lease, this.#workerCall(fn, args, auth, onChunk !== undefined), ctx, guard.signal)
        : this.#inProcess(name, this.#deps.limits.timeoutMs, () => def.handler(ctx, args));
      return this.#result(name, def, await guard.run(run, options.signal));
    } finally {
      done = true;
    }
  }
}

/** What a handler sees of the caller (no session internals). */
function publicAuth(auth: AuthContext): QueryCtx['auth'] {
  return Object.freeze({ userId: auth.userId, isAdmin: auth.isAdmin, isGuest: auth.isGuest, roles: auth.roles, tenantId: auth.tenantId });
}

/** `runQuery`/`runMutation` exist only on actions; elsewhere they explain why they fail. */
function noCalls(kind: 'query' | 'mutation'): Record<'runQuery' | 'runMutation', () => Promise<never>> {
  const fail = async (): Promise<never> => {
    throw fnErrors.cannotCallFunctions(kind);
  };
  return { runQuery: fail, runMutation: fail };
}
