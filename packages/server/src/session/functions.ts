import type { FnCallMessage, FnCancelMessage, FnUnwatchMessage, FnWatchMessage, ServerMessage } from '@mast/protocol';
import type { AuthContext } from '../access/auth-context.js';
import type { ChangeBus } from '../changes/change-bus.js';
import { AuthorError, diffResult, QueryWatch, type FunctionRunner } from '../functions/index.js';
import type { FunctionRateLimit } from '../functions/function-rate-limit.js';
import { errorReply } from './reply.js';

/** A socket as function calls see it. */
export interface CallSocket {
  sendMessage(message: ServerMessage): void;
}

/** Watches open on every socket of a server (for metrics and tests). */
export class OpenWatches {
  count = 0;
}

/** What socket calls and watches run through. */
export interface SocketFunctions {
  readonly runner: FunctionRunner;
  /** The per-function call limit; a watch counts as one call when it starts. */
  readonly rateLimit: FunctionRateLimit;
  /** Committed changes, which re-run watched queries. */
  readonly bus: ChangeBus;
  /** Watches one socket may hold; one more is refused with TOO_MANY_SUBSCRIPTIONS. */
  readonly maxWatches: number;
  /** Counts the watches of every socket together. */
  readonly openWatches: OpenWatches;
}

/** Calls one socket may have running at once; one more is refused with RATE_LIMITED. */
export const MAX_CALLS_IN_FLIGHT = 64;

/**
 * The function calls of one socket (`fn-call`, `fn-cancel`): each runs as the socket's caller,
 * through the same runner as `POST /api/fn/<name>`, and is answered with `fn-result` or `error`
 * carrying its id, after its `fn-chunk`s. Cancelling, or the socket going away, aborts the
 * calls in flight.
 */
export class SocketCalls {
  readonly #functions: SocketFunctions;
  readonly #socket: CallSocket;
  readonly #socketId: string;
  readonly #onInternal: (err: unknown) => void;
  readonly #inFlight = new Map<string, AbortController>();

  /** `socketId` keys the call limit of an anonymous socket. */
  constructor(functions: SocketFunctions, socket: CallSocket, socketId: string, onInternal: (err: unknown) => void) {
    this.#functions = functions;
    this.#socket = socket;
    this.#socketId = socketId;
    this.#onInternal = onInternal;
  }

  /** Runs a call; never rejects (its outcome is a message). */
  async call(message: FnCallMessage, auth: AuthContext): Promise<void> {
    const { id } = message;
    if (this.#inFlight.has(id)) {
      this.#socket.sendMessage({ type: 'error', id, code: 'INVALID_MESSAGE', message: `A call with id "${id}" is already running on this socket` });
      return;
    }
    if (this.#inFlight.size >= MAX_CALLS_IN_FLIGHT) {
      this.#socket.sendMessage({ type: 'error', id, code: 'RATE_LIMITED', message: `At most ${MAX_CALLS_IN_FLIGHT} calls may run at once on one socket` });
      return;
    }
    const controller = new AbortController();
    this.#inFlight.set(id, controller);
    let index = 0;
    try {
      this.#functions.rateLimit.hit(message.name, auth, this.#socketId);
      const value = await this.#functions.runner.call(message.name, message.args, auth, {
        ...(message.opId === undefined ? {} : { opId: message.opId }),
        signal: controller.signal,
        onChunk: (data) => this.#socket.sendMessage({ type: 'fn-chunk', id, index: index++, data }),
      });
      this.#socket.sendMessage({ type: 'fn-result', id, value });
    } catch (err) {
      this.#socket.sendMessage(failure(err, id, this.#onInternal));
    } finally {
      this.#inFlight.delete(id);
    }
  }

  /** Cancels call `id`; the call itself answers `error FN_CANCELLED`. An unknown id is NOT_FOUND. */
  cancel(message: FnCancelMessage): void {
    const controller = this.#inFlight.get(message.id);
    if (controller) controller.abort();
    else this.#socket.sendMessage({ type: 'error', id: message.id, code: 'NOT_FOUND', message: `No call with id "${message.id}" is running on this socket` });
  }

  /** Aborts every call in flight (the socket closed). */
  cancelAll(): void {
    for (const controller of this.#inFlight.values()) controller.abort();
  }
}

/** The `error` message of a failed call or watch run; an author's error keeps its code. */
function failure(err: unknown, id: string, onInternal: (err: unknown) => void): ServerMessage {
  if (err instanceof AuthorError) return { type: 'error', id, code: err.code, message: err.message };
  const { message, internal } = errorReply(err, id);
  if (internal) onInternal(err);
  return message;
}

/**
 * The query-function watches of one socket (`fn-watch`, `fn-unwatch`): each runs as the
 * socket's caller through the same runner as `fn-call`, sends `fn-watch-result` with its first
 * result and then `fn-watch-diff` for each later result that differs. A run that fails answers
 * `error` with the watch's id and ends the watch; the socket going away ends them all.
 */
export class SocketWatches {
  readonly #functions: SocketFunctions;
  readonly #socket: CallSocket;
  readonly #socketId: string;
  readonly #onInternal: (err: unknown) => void;
  readonly #watches = new Map<string, QueryWatch>();

  /** `socketId` keys the call limit of an anonymous socket. */
  constructor(functions: SocketFunctions, socket: CallSocket, socketId: string, onInternal: (err: unknown) => void) {
    this.#functions = functions;
    this.#socket = socket;
    this.#socketId = socketId;
    this.#onInternal = onInternal;
  }

  /** Starts a watch; never rejects (its outcome is a message). */
  async watch(message: FnWatchMessage, auth: AuthContext): Promise<void> {
    const { id, name } = message;
    if (this.#watches.has(id)) {
      this.#socket.sendMessage({ type: 'error', id, code: 'DUPLICATE_SUBSCRIPTION', message: `A watch with id "${id}" is already open on this socket` });
      return;
    }
    if (this.#watches.size >= this.#functions.maxWatches) {
      this.#socket.sendMessage({ type: 'error', id, code: 'TOO_MANY_SUBSCRIPTIONS', message: `A socket holds at most ${this.#functions.maxWatches} watches` });
      return;
    }
    try {
      this.#functions.rateLimit.hit(name, auth, this.#socketId);
    } catch (err) {
      this.#socket.sendMessage(failure(err, id, this.#onInternal));
      return;
    }
    const watch = new QueryWatch(this.#functions.runner, this.#functions.bus, name, message.args, auth, {
      result: (value, previous) => {
        if (previous === undefined) this.#socket.sendMessage({ type: 'fn-watch-result', id, value });
        else this.#socket.sendMessage({ type: 'fn-watch-diff', id, diff: diffResult(previous, value) });
      },
      error: (err) => {
        this.#forget(id, watch);
        this.#socket.sendMessage(failure(err, id, this.#onInternal));
      },
    });
    this.#watches.set(id, watch);
    this.#functions.openWatches.count++;
    try {
      await watch.start();
    } catch (err) {
      // Unwatched (or the socket closed) while the first run was in progress: nothing to answer.
      if (!this.#forget(id, watch)) return;
      this.#socket.sendMessage(failure(err, id, this.#onInternal));
    }
  }

  /** Ends watch `id` and answers `ack`; no message of it follows. An unknown id is NOT_FOUND. */
  unwatch(message: FnUnwatchMessage): void {
    const watch = this.#watches.get(message.id);
    if (watch) {
      watch.stop();
      this.#forget(message.id, watch);
      this.#socket.sendMessage({ type: 'ack', id: message.id });
    } else this.#socket.sendMessage({ type: 'error', id: message.id, code: 'NOT_FOUND', message: `No watch with id "${message.id}" is open on this socket` });
  }

  /** Ends every watch (the socket closed). */
  stopAll(): void {
    for (const [id, watch] of [...this.#watches]) {
      watch.stop();
      this.#forget(id, watch);
    }
  }

  /** Drops `watch` from the socket's watches; false when it was no longer there. */
  #forget(id: string, watch: QueryWatch): boolean {
    if (this.#watches.get(id) !== watch) return false;
    this.#watches.delete(id);
    this.#functions.openWatches.count--;
    return true;
  }
}
