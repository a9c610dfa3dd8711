import { AppError } from './app-error.js';

/** The errors of server functions and the job queue. Each message is written here once. */
export const fnErrors = {
  timedOut: (name: string, ms: number): AppError => new AppError('FN_TIMEOUT', `Function "${name}" did not finish within ${ms} ms`),
  scheduleUnknown: (fn: string): AppError => new AppError('FN_NOT_FOUND', `Cannot schedule "${fn}": no function has this name`),
  scheduleQuery: (fn: string): AppError => new AppError('FN_TYPE_MISMATCH', `Cannot schedule "${fn}": it is a query; jobs run mutations and actions`),
  jobArgsNotJson: (fn: string, cause: unknown): AppError => new AppError('INVALID_ARGS', `The arguments of job "${fn}" are not JSON`, { cause }),
  invalidDelay: (delayMs: unknown): AppError => new AppError('INVALID_ARGS', `runAfter: the delay must be a non-negative number of milliseconds, not ${String(delayMs)}`),
  invalidRunAt: (): AppError => new AppError('INVALID_ARGS', 'runAt: the time must be a valid Date or a number of milliseconds since the epoch'),
  queryCannotSchedule: (): AppError => new AppError('FN_TYPE_MISMATCH', 'A query cannot schedule jobs: use a mutation or an action'),
  queryCannotCancel: (): AppError => new AppError('FN_TYPE_MISMATCH', 'A query cannot cancel jobs: use a mutation or an action'),
  queryCannotWrite: (): AppError => new AppError('FN_TYPE_MISMATCH', 'A query cannot write: use a mutation (or call one from an action)'),
  notRegistered: (name: string): AppError => new AppError('FN_NOT_FOUND', `Function "${name}" is not registered`),
  wrongKind: (name: string, kind: string, expected: string): AppError => new AppError('FN_TYPE_MISMATCH', `"${name}" is a ${kind}, not a ${expected}`),
  handlerError: (cause: unknown): AppError => new AppError('HANDLER_ERROR', 'Internal handler error', { cause }),
  /** In dev mode only: the handler's own message and stack, which production keeps in the log. */
  handlerErrorExposed: (cause: unknown): AppError => {
    const thrown = cause instanceof Error ? cause : new Error(String(cause));
    return new AppError('HANDLER_ERROR', `Internal handler error: ${thrown.message}`, {
      cause,
      hint: 'shown in dev mode only; in production the message and stack go to the server log alone',
      extra: { stack: thrown.stack ?? `${thrown.name}: ${thrown.message}` },
    });
  },
  resultRejected: (name: string, problems: string): AppError =>
    new AppError('FN_RESULT_INVALID', `Function "${name}" returned a value its "returns" validator rejects: ${problems}`),
  queryBlocked: (name: string, idleMs: number): AppError =>
    new AppError('FN_QUERY_BLOCKED', `Query "${name}" awaited something other than ctx.db for ${idleMs} ms while holding its read snapshot`, {
      hint: 'Do outside I/O before the first ctx.db call, or in an action that calls the query with ctx.runQuery',
    }),
  mutationBlocked: (name: string, idleMs: number): AppError =>
    new AppError('FN_MUTATION_BLOCKED', `Mutation "${name}" awaited something other than ctx.db for ${idleMs} ms while holding the write transaction; it was rolled back`, {
      hint: 'Do outside I/O (fetch, timers) in an action, and call the mutation from it with ctx.runMutation',
    }),
  mutationEnded: (name: string, job: string): AppError => new AppError('FN_TIMEOUT', `Mutation "${name}" has ended; it cannot schedule "${job}"`),
  actionEnded: (name: string, what: string): AppError => new AppError('FN_TIMEOUT', `Action "${name}" has ended; it cannot ${what}`),
  cannotCallFunctions: (kind: string): AppError => new AppError('FN_TYPE_MISMATCH', `A ${kind} cannot call other functions: call them from an action`),
  /** FN_RESULT_INVALID for a result JSON cannot carry; `reason` says what (see `notJsonMessage`). */
  resultNotJson: (reason: string | undefined, cause?: unknown): AppError => new AppError('FN_RESULT_INVALID', reason, cause === undefined ? {} : { cause }),
  jobNotHeld: (id: string): AppError => new AppError('JOB_STATE_CONFLICT', `Job "${id}" is no longer held by this attempt`),
  argsNotObject: (name: string): AppError => new AppError('INVALID_ARGS', `Function "${name}" takes a JSON object of arguments`),
  /** INVALID_ARGS; `reason` lists the validator's complaints. */
  invalidArgs: (reason: string, fields: string[]): AppError => new AppError('INVALID_ARGS', reason, fields.length > 0 ? { fields } : {}),
  overloaded: (name: string, maxQueued: number): AppError =>
    new AppError('FN_OVERLOADED', `Every function worker is busy and ${maxQueued} calls are waiting; "${name}" was not queued`),
  noFreeWorker: (name: string, waitMs: number): AppError => new AppError('FN_TIMEOUT', `Function "${name}" waited ${waitMs} ms for a free function worker`),
  workersDidNotStart: (cause: unknown): AppError => new AppError('INTERNAL', 'No function worker could be started', { cause }),
  noFunctions: (): AppError => new AppError('FN_NOT_FOUND', 'This server serves no functions'),
  jobNotFound: (id: string): AppError => new AppError('NOT_FOUND', `No job with id "${id}"`),
  jobNotRetryable: (id: string, status: string): AppError => new AppError('JOB_STATE_CONFLICT', `Job "${id}" is ${status}; only dead or cancelled jobs can be retried`),
  jobNotCancellable: (id: string, status: string): AppError => new AppError('JOB_STATE_CONFLICT', `Job "${id}" is ${status}; only pending jobs can be cancelled`),
} as const;
