import { createHash } from 'node:crypto';
import { FunctionError, isFunctionError, type ActionCtx, type FunctionDefinition, type FunctionKind, type MutationCtx, type QueryCtx } from '@mast/functions';
import type { Logger } from 'pino';
import { ADMIN, type AuthContext } from '../auth/auth-context.js';
import type { FilterLimits } from '../entities/filter-parser.js';
import type { SchemaRef } from '../entities/schema-ref.js';
import type { WritePath } from '../entities/write-path.js';
import { AppError } from '../errors/index.js';
import type { Store, WriteTx } from '../store/index.js';
import { CallGuard } from './call-guard.js';
import { CallScheduler, QUERY_SCHEDULER, type JobSink, type SchedulerDeps } from './call-scheduler.js';
import { MutationDb, QueryDb } from './function-db.js';
import type { FunctionRegistry } from './function-registry.js';
import { toJsonResult } from './json-result.js';
import { parseArgs } from './parse-args.js';
import type { ReadSet } from './query-watch.js';
import type { SpinWatchdog } from './spin-watchdog.js';

/** Per-call limits, from the options table. */
export interface FunctionLimits {
  /** Queries and actions. */
  readonly timeoutMs: number;
  /** Mutations (they hold the one writer, so this is shorter). */
  readonly mutationTimeoutMs: number;
  /** How long a mutation, or a query holding its snapshot, may await something other than ctx.db. */
  readonly idleMs: number;
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
  readonly beforeCommit?: (tx: WriteTx) => Promise<void>;
}

/**
 * An error whose code the function's author chose (`ctx.error`). It is not in the catalogue;
 * the transport sends it as `{"error":{"code","message"}}` with `status`.
 */
export class AuthorError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'AuthorError';
  }
}

const ctxError = (code: string, message: string): FunctionError => new FunctionError(code, message);

/**
 * Runs server functions in process. Queries read one snapshot and run concurrently with
 * everything; mutations are one write transaction each (serialised by the store's writer);
 * actions hold no database resource and reach data through other functions. Every call has
 * its own deadline, and a failure never affects other calls.
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
  async call(name: string, rawArgs: unknown, auth: AuthContext, options: CallOptions = {}): Promise<unknown> {
    const fn = this.#deps.registry.get(name);
    if (!fn) throw new AppError('FN_NOT_FOUND', `Function "${name}" is not registered`);
    const def = fn.definition;
    if (options.expect !== undefined && def.kind !== options.expect) {
      throw new AppError('FN_TYPE_MISMATCH', `"${name}" is a ${def.kind}, not a ${options.expect}`);
    }
    const args = parseArgs(name, def.args, rawArgs);
    const { limits, watchdog } = this.#deps;
    const watched = watchdog?.enter(name, def.kind === 'mutation' ? limits.mutationTimeoutMs : limits.timeoutMs);
    try {
      switch (def.kind) {
        case 'query':
          return await this.#query(name, def as FunctionDefinition<'query'>, args, auth, options);
        case 'mutation':
          return await this.#mutation(name, def as FunctionDefinition<'mutation'>, args, auth, options);
        case 'action':
          return await this.#action(name, def as FunctionDefinition<'action'>, args, auth, options);
      }
    } catch (err) {
      throw this.#translate(name, err);
    } finally {
      watched?.leave();
    }
  }

  #translate(name: string, err: unknown): Error {
    if (err instanceof AppError || err instanceof AuthorError) return err;
    if (isFunctionError(err)) return new AuthorError(err.code, err.message, 400);
    this.#deps.logger.error({ err, function: name }, 'function handler failed');
    return new AppError('HANDLER_ERROR', 'Internal handler error', { cause: err });
  }

  #result(name: string, def: FunctionDefinition, value: unknown): unknown {
    const json = toJsonResult(name, value);
    if (def.returns) {
      const checked = def.returns.safeParse(json);
      if (!checked.success) {
        throw new AppError('FN_RESULT_INVALID', `Function "${name}" returned a value its "returns" validator rejects: ${checked.error.issues.map((i) => `${i.path.join('.') || '(result)'}: ${i.message}`).join('; ')}`);
      }
    }
    return json;
  }

  async #query(name: string, def: FunctionDefinition<'query'>, args: Record<string, unknown>, auth: AuthContext, options: CallOptions): Promise<unknown> {
    const { limits } = this.#deps;
    let db: QueryDb | undefined;
    const guard = new CallGuard(name, {
      timeoutMs: limits.timeoutMs,
      idle: {
        ms: limits.idleMs,
        holding: () => db?.holding ?? false,
        blocked: () =>
          new AppError('FN_QUERY_BLOCKED', `Query "${name}" awaited something other than ctx.db for ${limits.idleMs} ms while holding its read snapshot`, {
            hint: 'Do outside I/O before the first ctx.db call, or in an action that calls the query with ctx.runQuery',
          }),
      },
    });
    db = new QueryDb(this.#deps.store, this.#deps.schema, this.#deps.readLimits, def.unsafeBypassPolicies ? ADMIN : auth, guard, options.readSet);
    const ctx: QueryCtx & Record<string, unknown> = { auth: publicAuth(auth), signal: guard.signal, error: ctxError, db, scheduler: QUERY_SCHEDULER, ...noCalls('query') };
    try {
      return this.#result(name, def, await guard.run(async () => def.handler(ctx, args), options.signal));
    } finally {
      await db.close();
    }
  }

  async #mutation(name: string, def: FunctionDefinition<'mutation'>, args: Record<string, unknown>, auth: AuthContext, options: CallOptions): Promise<unknown> {
    const { writes, schema, readLimits, limits } = this.#deps;
    const opId = options.opId;
    let scheduled = false;
    // A bypassing mutation writes as admin but keeps the caller's id: op ids are kept per caller.
    const dbAuth: AuthContext = def.unsafeBypassPolicies ? { ...ADMIN, userId: auth.userId } : auth;
    const context = opId === undefined ? { auth: dbAuth } : { auth: dbAuth, opId };
    const fingerprint = opId === undefined ? '' : createHash('sha256').update(JSON.stringify([name, args])).digest('base64url');
    const { result } = await writes.transaction(context, fingerprint, async (session) => {
      const guard = new CallGuard(name, {
        timeoutMs: limits.mutationTimeoutMs,
        idle: {
          ms: limits.idleMs,
          holding: () => true,
          blocked: () =>
            new AppError('FN_MUTATION_BLOCKED', `Mutation "${name}" awaited something other than ctx.db for ${limits.idleMs} ms while holding the write transaction; it was rolled back`, {
              hint: 'Do outside I/O (fetch, timers) in an action, and call the mutation from it with ctx.runMutation',
            }),
        },
      });
      const db = new MutationDb(session, schema, readLimits, guard);
      // Jobs join the transaction; once the call has ended they can no longer be added to it.
      const sink: JobSink = {
        enqueue: async (job) => {
          if (guard.signal.aborted) throw new AppError('FN_TIMEOUT', `Mutation "${name}" has ended; it cannot schedule "${job.fn}"`);
          await session.tx.enqueueJob(job);
          scheduled = true;
        },
        cancel: (id, owner) => session.tx.cancelJob(id, owner),
      };
      const scheduler = new CallScheduler(this.#deps.jobs, auth, sink, guard);
      const ctx: MutationCtx & Record<string, unknown> = { auth: publicAuth(auth), signal: guard.signal, error: ctxError, db, scheduler, ...noCalls('mutation') };
      const value = await guard.run(async () => def.handler(ctx, args), options.signal);
      // Checked inside the transaction: a result the client cannot receive rolls the writes back.
      const json = this.#result(name, def, value);
      await options.beforeCommit?.(session.tx);
      return json;
    });
    if (scheduled) this.#deps.jobs.onEnqueued?.();
    return result;
  }

  async #action(name: string, def: FunctionDefinition<'action'>, args: Record<string, unknown>, auth: AuthContext, options: CallOptions): Promise<unknown> {
    const guard = new CallGuard(name, { timeoutMs: this.#deps.limits.timeoutMs });
    const ended = (what: string): AppError => new AppError('FN_TIMEOUT', `Action "${name}" has ended; it cannot ${what}`);
    let done = false;
    const nested = (kind: 'query' | 'mutation') => async <T>(target: string, targetArgs?: Record<string, unknown>): Promise<T> => {
      if (guard.signal.aborted) throw ended(`call "${target}"`);
      return (await this.call(target, targetArgs ?? {}, auth, { expect: kind })) as T;
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
      return this.#result(name, def, await guard.run(async () => def.handler(ctx, args), options.signal));
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
    throw new AppError('FN_TYPE_MISMATCH', `A ${kind} cannot call other functions: call them from an action`);
  };
  return { runQuery: fail, runMutation: fail };
}
