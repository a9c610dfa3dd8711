import type { z } from 'zod';
import { argsValidator, type ArgsShape, type InferArgs } from './validators.js';

/** The three kinds of server function. */
export type FunctionKind = 'query' | 'mutation' | 'action';

/** A row as functions see it: `id` plus the entity's fields, as JSON values. */
export type Row = { id: string } & Record<string, unknown>;

/** A filter object in the language of `POST /api/query/<E>` (`$gt`, `$in`, `$order`, `$limit`, ...). */
export type Filter = Record<string, unknown>;

/** Who called the function: what policies see as `auth.*`. */
export interface FunctionAuth {
  readonly userId: string | null;
  readonly isAdmin: boolean;
  readonly isGuest: boolean;
  readonly roles: readonly string[];
  readonly tenantId: string | null;
}

/** Reads of a query or mutation: the caller's read policies apply unless the function opts out. */
export interface DbReader {
  /** The row, or null when it does not exist or the caller may not read it. */
  get(entity: string, id: string): Promise<Row | null>;
  /** Rows matching `filter` (all readable rows when absent), at most the server's page limit. */
  query(entity: string, filter?: Filter): Promise<Row[]>;
  /** Readable rows in id order, at most the server's largest page (`MAST_MAX_LIMIT`). */
  list(entity: string): Promise<Row[]>;
  /** The first readable row (by id) whose `field` equals `value`, or null. */
  lookup(entity: string, field: string, value: unknown): Promise<Row | null>;
}

/** Reads and writes of a mutation, all inside its one transaction. */
export interface DbWriter extends DbReader {
  /** Inserts a row (a given `id` is kept); returns its id. */
  insert(entity: string, data: Record<string, unknown>): Promise<string>;
  /** Applies `patch`; false when the row does not exist or the caller may not read it. */
  update(entity: string, id: string, patch: Record<string, unknown>): Promise<boolean>;
  /** Deletes the row; false when it does not exist or the caller may not read it. */
  delete(entity: string, id: string): Promise<boolean>;
}

/** What every handler receives. */
export interface BaseCtx {
  /** The caller, even when the function bypasses policies. */
  readonly auth: FunctionAuth;
  /** Aborted when the call times out or is cancelled; pass it to `fetch` and timers. */
  readonly signal: AbortSignal;
  /** An error the client receives as `{"error":{"code","message"}}`: `throw ctx.error(...)`. */
  error(code: string, message: string): FunctionError;
}

/** The context of a query handler. */
export interface QueryCtx extends BaseCtx {
  readonly db: DbReader;
}

/** The context of a mutation handler. */
export interface MutationCtx extends BaseCtx {
  readonly db: DbWriter;
}

/** The context of an action handler: no database, but other functions. */
export interface ActionCtx extends BaseCtx {
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
  readonly [ERROR_BRAND] = true;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'FunctionError';
    this.code = code;
  }
}

/** True for an error made by `ctx.error` or `new FunctionError` (even from another copy of this package). */
export function isFunctionError(err: unknown): err is FunctionError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[ERROR_BRAND] === true && typeof (err as { code?: unknown }).code === 'string';
}

/** A function as the server registers it. */
export interface FunctionDefinition<K extends FunctionKind = FunctionKind> {
  readonly [FUNCTION_BRAND]: true;
  readonly kind: K;
  readonly args: z.ZodType<Record<string, unknown>>;
  /** Validates the return value when given (it must also be JSON). */
  readonly returns: z.ZodType | undefined;
  /** Runs `ctx.db` as admin, with no policy checks. Never the default. */
  readonly unsafeBypassPolicies: boolean;
  handler(ctx: CtxOf[K], args: Record<string, unknown>): unknown;
}

/** What `query`, `mutation` and `action` take. */
export interface FunctionSpec<K extends FunctionKind, A extends ArgsShape, R> {
  readonly args?: A;
  readonly returns?: z.ZodType<Awaited<R>>;
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

function define<K extends FunctionKind, A extends ArgsShape, R>(kind: K, spec: FunctionSpec<K, A, R> & { unsafeBypassPolicies?: boolean }): FunctionDefinition<K> {
  return Object.freeze({
    [FUNCTION_BRAND]: true as const,
    kind,
    args: argsValidator(spec.args ?? ({} as A)) as unknown as z.ZodType<Record<string, unknown>>,
    returns: spec.returns,
    unsafeBypassPolicies: spec.unsafeBypassPolicies === true,
    handler: spec.handler as FunctionDefinition<K>['handler'],
  });
}

/** A read-only function: `ctx.db` reads one consistent snapshot. */
export function query<A extends ArgsShape = Record<never, never>, R = unknown>(spec: DbFunctionSpec<'query', A, R>): FunctionDefinition<'query'> {
  return define('query', spec);
}

/** A function that writes: the whole handler is one transaction, committed when it returns. */
export function mutation<A extends ArgsShape = Record<never, never>, R = unknown>(spec: DbFunctionSpec<'mutation', A, R>): FunctionDefinition<'mutation'> {
  return define('mutation', spec);
}

/** A function that may call outside services; it reaches data only through other functions. */
export function action<A extends ArgsShape = Record<never, never>, R = unknown>(spec: FunctionSpec<'action', A, R>): FunctionDefinition<'action'> {
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
