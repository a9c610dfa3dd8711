import type { z } from 'zod';
import { parseCron } from './cron.js';
import { argsValidator, type ArgsShape, type InferArgs } from './validators.js';
import type { DbReader, DbWriter } from './db-types.js';

/** The three kinds of server function. */
export type FunctionKind = 'query' | 'mutation' | 'action';

/** Who called the function: what policies see as `auth.*`. */
export interface FunctionAuth {
  readonly userId: string | null;
  readonly isAdmin: boolean;
  readonly isGuest: boolean;
  readonly roles: readonly string[];
  readonly tenantId: string | null;
}

/** What every handler receives. */
export interface BaseCtx {
  /** The caller, even when the function bypasses policies. */
  readonly auth: FunctionAuth;
  /** Aborted when the call times out or is cancelled; pass it to `fetch` and timers. */
  readonly signal: AbortSignal;
  /**
   * An error the client receives as `{"error":{"code","message"}}`: `throw ctx.error(...)`. A job
   * that fails is retried (up to its attempts, with backoff) by default; `{ permanent: true }`
   * says retrying cannot help, and the job is dead at once.
   */
  error(code: string, message: string, options?: FunctionErrorOptions): FunctionError;
}

/** The context of a query handler. */
export interface QueryCtx extends BaseCtx {
  readonly db: DbReader;
}

/**
 * Runs mutations and actions later, as durable jobs. In a mutation the job is written in the
 * mutation's transaction: it exists if and only if the mutation commits. The target must be a
 * mutation or an action, and its arguments are validated now (FN_NOT_FOUND, FN_TYPE_MISMATCH,
 * INVALID_ARGS). A job runs as the caller that scheduled it.
 */
export interface Scheduler {
  /** Runs `fn` with `args` after `delayMs` milliseconds; returns the job's id. */
  runAfter(delayMs: number, fn: string, args?: Record<string, unknown>): Promise<string>;
  /** Runs `fn` with `args` at `at` (a Date or ms since the epoch); returns the job's id. */
  runAt(at: Date | number, fn: string, args?: Record<string, unknown>): Promise<string>;
  /** Cancels a job this caller scheduled that has not started; false when it is not pending. */
  cancel(jobId: string): Promise<boolean>;
}

/** Chunks of an action's streamed result. */
export interface ResultStream {
  /**
   * Sends a chunk (any JSON value) to a caller that asked for a stream; dropped for one that did
   * not. Chunks go out as they are written, before the result.
   */
  write(chunk: unknown): void;
}

/** The context of a mutation handler. */
export interface MutationCtx extends BaseCtx {
  readonly db: DbWriter;
  readonly scheduler: Scheduler;
}

/** The context of an action handler: no database, but other functions. */
export interface ActionCtx extends BaseCtx {
  readonly scheduler: Scheduler;
  readonly stream: ResultStream;
  /** Runs a query function as the same caller. */
  runQuery<T = unknown>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** Runs a mutation function as the same caller, in its own transaction. */
  runMutation<T = unknown>(name: string, args?: Record<string, unknown>): Promise<T>;
}

/** The context type of each kind. */
export interface CtxOf {
  query: QueryCtx;
  mutation: MutationCtx;
  action: ActionCtx;
}

const FUNCTION_BRAND = Symbol.for('mast.function');
const ERROR_BRAND = Symbol.for('mast.functionError');

/**
 * An error a handler means the client to see, with its own code. Only errors made by
 * `ctx.error` (or this class) pass their code and message through; any other throw becomes
 * HANDLER_ERROR and its message stays in the server log.
 */
export class FunctionError extends Error {
  readonly code: string;
  /** True when retrying cannot help: a job failing with it is dead at once instead of retried. */
  readonly permanent: boolean;
  readonly [ERROR_BRAND] = true;

  constructor(code: string, message: string, options: FunctionErrorOptions = {}) {
    super(message);
    this.name = 'FunctionError';
    this.code = code;
    this.permanent = options.permanent === true;
  }
}

/** Options of `ctx.error` and `new FunctionError`. */
export interface FunctionErrorOptions {
  /** Retrying cannot help (bad input, a rule the data breaks): a job is dead at once. Default false. */
  readonly permanent?: boolean;
}

/** True for an error made by `ctx.error` or `new FunctionError` (even from another copy of this package). */
export function isFunctionError(err: unknown): err is FunctionError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[ERROR_BRAND] === true && typeof (err as { code?: unknown }).code === 'string';
}

/**
 * Key of the type-only record of a definition's argument and result types; nothing sets it at
 * run time. `@mast/client` reads it to type calls without a code generation step.
 */
export declare const functionTypes: unique symbol;

/** A function as the server registers it; `Args` and `Result` exist for clients' types only. */
export interface FunctionDefinition<K extends FunctionKind = FunctionKind, Args = Record<string, unknown>, Result = unknown> {
  readonly [FUNCTION_BRAND]: true;
  readonly [functionTypes]?: { readonly args: Args; readonly result: Result };
  readonly kind: K;
  readonly args: z.ZodType<Record<string, unknown>>;
  /** Validates the return value when given (it must also be JSON). */
  readonly returns: z.ZodType | undefined;
  /** Runs `ctx.db` as admin, with no policy checks. Never the default. */
  readonly unsafeBypassPolicies: boolean;
  /** Calls one caller may make per window (HTTP and socket); undefined: the server's default. */
  readonly rateLimit: RateLimit | undefined;
  /** Runs in one of the server's function worker threads instead of the main thread. */
  readonly isolated: boolean;
  handler(ctx: CtxOf[K], args: Record<string, unknown>): unknown;
}

/** A per-caller call limit: at most `max` calls per `windowMs` (`max` 0: no limit). */
export interface RateLimit {
  readonly max: number;
  readonly windowMs: number;
}

/** What `query`, `mutation` and `action` take. */
export interface FunctionSpec<K extends FunctionKind, A extends ArgsShape, R> {
  readonly args?: A;
  /** Overrides the server's per-function call limit (`MAST_FN_RATE_LIMIT` per minute) for this function. */
  readonly rateLimit?: RateLimit;
  readonly returns?: z.ZodType<Awaited<NoInfer<R>>>;
  /**
   * Runs the handler in a worker thread of the server's pool (`MAST_FN_WORKERS`), one call per
   * worker at a time: a handler that spins past its deadline is stopped with FN_TIMEOUT instead
   * of blocking the server. `ctx` works the same, each `ctx.db` call crossing to the main thread.
   */
  readonly isolated?: boolean;
  readonly handler: (ctx: CtxOf[K], args: InferArgs<A>) => R;
}

/** What `query` and `mutation` take: they may opt out of policies, explicitly. */
export interface DbFunctionSpec<K extends 'query' | 'mutation', A extends ArgsShape, R> extends FunctionSpec<K, A, R> {
  /**
   * `ctx.db` runs as admin: every policy is skipped. The handler must check `ctx.auth` itself.
   * `ctx.auth` still describes the real caller.
   */
  readonly unsafeBypassPolicies?: boolean;
}

function checkRateLimit(limit: RateLimit | undefined): RateLimit | undefined {
  if (limit === undefined) return undefined;
  if (!Number.isSafeInteger(limit.max) || limit.max < 0 || !Number.isSafeInteger(limit.windowMs) || limit.windowMs < 1) {
    throw new Error('rateLimit needs a whole max >= 0 and a whole windowMs >= 1');
  }
  return Object.freeze({ max: limit.max, windowMs: limit.windowMs });
}

function checkIsolated(isolated: unknown): boolean {
  if (isolated !== undefined && typeof isolated !== 'boolean') throw new Error('isolated must be true or false');
  return isolated === true;
}

function define<K extends FunctionKind, A extends ArgsShape, R>(
  kind: K,
  spec: FunctionSpec<K, A, R> & { unsafeBypassPolicies?: boolean },
): FunctionDefinition<K, InferArgs<A>, Awaited<R>> {
  return Object.freeze({
    [FUNCTION_BRAND]: true as const,
    kind,
    args: argsValidator(spec.args ?? ({} as A)) as unknown as z.ZodType<Record<string, unknown>>,
    returns: spec.returns,
    unsafeBypassPolicies: spec.unsafeBypassPolicies === true,
    rateLimit: checkRateLimit(spec.rateLimit),
    isolated: checkIsolated(spec.isolated),
    handler: spec.handler as FunctionDefinition<K>['handler'],
  });
}

/** A read-only function: `ctx.db` reads one consistent snapshot. */
export function query<A extends ArgsShape = Record<never, never>, R = unknown>(spec: DbFunctionSpec<'query', A, R>): FunctionDefinition<'query', InferArgs<A>, Awaited<R>> {
  return define('query', spec);
}

/** A function that writes: the whole handler is one transaction, committed when it returns. */
export function mutation<A extends ArgsShape = Record<never, never>, R = unknown>(
  spec: DbFunctionSpec<'mutation', A, R>,
): FunctionDefinition<'mutation', InferArgs<A>, Awaited<R>> {
  return define('mutation', spec);
}

/** A function that may call outside services; it reaches data only through other functions. */
export function action<A extends ArgsShape = Record<never, never>, R = unknown>(spec: FunctionSpec<'action', A, R>): FunctionDefinition<'action', InferArgs<A>, Awaited<R>> {
  return define('action', spec);
}

/** True for what `query`, `mutation` or `action` returned (even from another copy of this package). */
export function isFunctionDefinition(value: unknown): value is FunctionDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const def = value as Partial<Record<keyof FunctionDefinition | typeof FUNCTION_BRAND, unknown>>;
  return (
    def[FUNCTION_BRAND] === true &&
    (def.kind === 'query' || def.kind === 'mutation' || def.kind === 'action') &&
    typeof def.handler === 'function' &&
    typeof (def.args as { safeParse?: unknown } | undefined)?.safeParse === 'function'
  );
}

const CRONS_BRAND = Symbol.for('mast.crons');

/** One cron schedule: run `function` (a mutation or action) with `args` at each match of `schedule`. */
export interface CronSpec {
  /** A 5-field cron expression, in UTC (see `parseCron`). */
  readonly schedule: string;
  readonly function: string;
  readonly args?: Record<string, unknown>;
}

/** The app's cron schedules, by name: the default export of `functions/crons.ts`. */
export interface CronDefinitions {
  readonly [CRONS_BRAND]: true;
  readonly schedules: Readonly<Record<string, CronSpec>>;
}

/**
 * Declares the app's cron schedules (`export default crons({...})` in `functions/crons.ts`).
 * Each expression is checked here, so a bad one fails the file's load with its message.
 */
export function crons(schedules: Record<string, CronSpec>): CronDefinitions {
  for (const [name, spec] of Object.entries(schedules)) {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`Cron "${name}": a name is letters, digits, _ . and -`);
    try {
      parseCron(spec.schedule);
    } catch (err) {
      throw new Error(`Cron "${name}": ${(err as Error).message}`);
    }
    if (typeof spec.function !== 'string' || spec.function === '') throw new Error(`Cron "${name}" names no function`);
  }
  return Object.freeze({ [CRONS_BRAND]: true as const, schedules: Object.freeze({ ...schedules }) });
}

/** True for what `crons` returned (even from another copy of this package). */
export function isCronDefinitions(value: unknown): value is CronDefinitions {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CRONS_BRAND] === true;
}
