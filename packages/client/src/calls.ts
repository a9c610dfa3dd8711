import { applyResultDiff, ResultDiffMismatch, type ResultDiff } from '@mast/protocol';
import { errorFromServer, MastClientError } from './errors.js';

/** Options of a function call over the socket. */
export interface CallOptions {
  /** Receives an action's `ctx.stream.write` chunks, in order. */
  readonly onChunk?: (chunk: unknown, index: number) => void;
  /** Aborting sends `fn-cancel`: the call rejects with `FN_CANCELLED`. */
  readonly signal?: AbortSignal;
}

interface Pending {
  readonly id: string;
  readonly name: string;
  readonly args: unknown;
  readonly opId: string | undefined;
  /** Mutations are sent again (same op id) after a reconnect; other calls fail with CONNECTION_LOST. */
  readonly resend: boolean;
  readonly options: CallOptions;
  sent: boolean;
  resolve(value: unknown): void;
  reject(error: MastClientError): void;
}

/** The state of a watched query function. */
export interface WatchState<T> {
  readonly value: T | undefined;
  readonly loading: boolean;
  readonly error: MastClientError | null;
}

/** What the managers need from the client's socket. */
export interface SocketPort {
  send(message: Record<string, unknown>): boolean;
  nextId(prefix: string): string;
  isOpen(): boolean;
}

/**
 * Calls of mutations and actions (`fn-call`, `fn-chunk`, `fn-result`, `fn-cancel`) and watches
 * of query functions (`fn-watch`, `fn-watch-result`, `fn-watch-diff`). A mutation carries an op
 * id and is sent again with it after a reconnect (the server returns the first result without
 * writing twice); an action in flight when the socket drops fails with `CONNECTION_LOST`, since
 * running it twice may not be safe.
 */
export class CallManager {
  readonly #port: SocketPort;
  readonly #calls = new Map<string, Pending>();
  readonly #watches = new Map<string, Watch<unknown>>();

  constructor(port: SocketPort) {
    this.#port = port;
  }

  call(name: string, args: unknown, opId: string | undefined, resend: boolean, options: CallOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new MastClientError('FN_CANCELLED', 'The call was cancelled before it was sent'));
        return;
      }
      const pending: Pending = { id: this.#port.nextId('c'), name, args, opId, resend, options, sent: false, resolve, reject };
      this.#calls.set(pending.id, pending);
      options.signal?.addEventListener('abort', () => {
        if (!this.#calls.has(pending.id)) return;
        if (pending.sent && this.#port.send({ type: 'fn-cancel', id: pending.id })) return; // the server answers FN_CANCELLED
        this.#calls.delete(pending.id);
        reject(new MastClientError('FN_CANCELLED', 'The call was cancelled'));
      });
      this.#send(pending);
    });
  }

  watch<T>(name: string, args: unknown): Watch<T> {
    const watch = new Watch<T>(name, args, this.#port, (w) => this.#watches.delete(w.id));
    this.#watches.set(watch.id, watch as Watch<unknown>);
    if (this.#port.isOpen()) watch.start();
    return watch;
  }

  /** Handles a message addressed to a call or watch; false when it is not one. */
  handle(m: Record<string, unknown>): boolean {
    const id = typeof m.id === 'string' ? m.id : undefined;
    if (id === undefined) return false;
    const call = this.#calls.get(id);
    if (call) {
      if (m.type === 'fn-chunk') call.options.onChunk?.(m.data, typeof m.index === 'number' ? m.index : 0);
      else if (m.type === 'fn-result') {
        this.#calls.delete(id);
        call.resolve(m.value);
      } else if (m.type === 'error') {
        this.#calls.delete(id);
        call.reject(errorFromServer(m));
      }
      return true;
    }
    const watch = this.#watches.get(id);
    if (watch) {
      watch.handle(m);
      return true;
    }
    return false;
  }

  /** A new socket is open: resend mutations, watch again. */
  up(): void {
    for (const call of this.#calls.values()) if (!call.sent) this.#send(call);
    for (const watch of this.#watches.values()) watch.start();
  }

  /** The socket went away: calls that may not be resent fail, the rest wait. */
  down(): void {
    for (const call of [...this.#calls.values()]) {
      if (!call.sent) continue;
      if (call.resend) call.sent = false;
      else {
        this.#calls.delete(call.id);
        call.reject(new MastClientError('CONNECTION_LOST', `The connection was lost while ${call.name} was running; it may or may not have finished`));
      }
    }
  }

  /** Fails everything (the client closed). */
  closeAll(error: MastClientError): void {
    for (const call of this.#calls.values()) call.reject(error);
    this.#calls.clear();
    for (const watch of this.#watches.values()) watch.fail(error);
    this.#watches.clear();
  }

  #send(call: Pending): void {
    call.sent = this.#port.send({ type: 'fn-call', id: call.id, name: call.name, args: call.args ?? {}, ...(call.opId ? { opId: call.opId } : {}) });
  }
}

/**
 * A query function kept live: `value` is its latest result, rebuilt from `fn-watch-diff` with
 * `applyResultDiff`. After a reconnect it is watched again and the fresh result replaces it. A
 * diff that does not fit what the client holds watches again rather than show a wrong value.
 */
export class Watch<T> {
  readonly id: string;
  readonly name: string;
  readonly args: unknown;
  #state: WatchState<T> = { value: undefined, loading: true, error: null };
  readonly #listeners = new Set<() => void>();
  readonly #port: SocketPort;
  readonly #forget: (w: Watch<T>) => void;
  #closed = false;

  constructor(name: string, args: unknown, port: SocketPort, forget: (w: Watch<T>) => void) {
    this.id = port.nextId('w');
    this.name = name;
    this.args = args;
    this.#port = port;
    this.#forget = forget;
  }

  get state(): WatchState<T> {
    return this.#state;
  }

  get value(): T | undefined {
    return this.#state.value;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops watching. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#forget(this);
    this.#port.send({ type: 'fn-unwatch', id: this.id });
  }

  start(): void {
    if (!this.#closed) this.#port.send({ type: 'fn-watch', id: this.id, name: this.name, args: this.args ?? {} });
  }

  handle(m: Record<string, unknown>): void {
    if (m.type === 'fn-watch-result') this.#set({ value: m.value as T, loading: false, error: null });
    else if (m.type === 'fn-watch-diff') {
      try {
        this.#set({ value: applyResultDiff(this.#state.value, m.diff as ResultDiff) as T, loading: false, error: null });
      } catch (err) {
        if (!(err instanceof ResultDiffMismatch)) throw err;
        this.#port.send({ type: 'fn-unwatch', id: this.id });
        this.start();
      }
    } else if (m.type === 'error') {
      // A failed run ends the watch on the server.
      this.#closed = true;
      this.#forget(this);
      this.#set({ ...this.#state, loading: false, error: errorFromServer(m) });
    }
  }

  fail(error: MastClientError): void {
    this.#closed = true;
    this.#set({ ...this.#state, loading: false, error });
  }

  #set(state: WatchState<T>): void {
    this.#state = state;
    for (const listener of [...this.#listeners]) listener();
  }
}
