import type { FnCallMessage, FnCancelMessage, ServerMessage } from '@mast/protocol';
import type { AuthContext } from '../auth/auth-context.js';
import { AuthorError, type FunctionRunner } from '../functions/index.js';
import type { FunctionRateLimit } from '../http/function-rate-limit.js';
import { errorReply } from './ws-reply.js';

/** A socket as function calls see it. */
export interface CallSocket {
  sendMessage(message: ServerMessage): void;
}

/** What socket calls run through: the function runner and the per-function call limit. */
export interface SocketFunctions {
  readonly runner: FunctionRunner;
  readonly rateLimit: FunctionRateLimit;
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
      if (err instanceof AuthorError) {
        this.#socket.sendMessage({ type: 'error', id, code: err.code, message: err.message });
        return;
      }
      const { message: reply, internal } = errorReply(err, id);
      if (internal) this.#onInternal(err);
      this.#socket.sendMessage(reply);
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
