import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { type AppError, errors, fnErrors } from '../errors/index.js';
import { CTX_OPS, type CtxOp, type FromWorker, type OpFailure, type ToWorker, type WorkerCall, type WorkerOutcome, type WorkerStart } from './worker-protocol.js';

/**
 * The worker's entry. Built, it is `function-worker.js` itself (which registers tsx only to
 * import an app's TypeScript files); run from source (the monorepo's tests), it is
 * `function-worker.mjs`, which registers tsx and the `source` export condition first.
 */
const ENTRY = import.meta.url.endsWith('.ts') ? new URL('./function-worker.mjs', import.meta.url) : new URL('./function-worker.js', import.meta.url);

/** Options of a pool. */
export interface WorkerPoolOptions {
  /** The most workers (each runs one call at a time); they start as calls queue, not up front. */
  readonly size: number;
  /** How long a worker beyond the first may stay idle before it is ended (default 30 s). */
  readonly idleMs?: number;
  /** Calls that may wait for a worker; more fail with FN_OVERLOADED. */
  readonly maxQueued: number;
  /** How long a worker whose call was ended (deadline, cancel) may take to finish before it is terminated. */
  readonly graceMs: number;
  readonly logger: Logger;
}

/** What a call in a worker asks of the main thread. */
export interface WorkerHost {
  /** Performs a `ctx` operation with the call's real objects. */
  perform(op: CtxOp, args: readonly unknown[]): Promise<unknown>;
  /** Takes a streamed chunk, as JSON text. */
  chunk(json: string): void;
}

/** A worker held for one call, from `WorkerPool.acquire`. */
export interface WorkerLease {
  /**
   * Runs the call; resolves with its outcome. When `signal` aborts, the worker's `ctx.signal`
   * aborts too, and a worker that has not finished within the grace is terminated (the promise
   * then rejects) and replaced. A worker that crashes rejects it as well.
   */
  run(call: WorkerCall, host: WorkerHost, signal: AbortSignal): Promise<WorkerOutcome>;
  /** The error a `ctx` operation of the run failed with, by the `ref` its failure carried. */
  opError(ref: number): unknown;
  /** Milliseconds the worker's event loop has been busy so far (it grows while a handler computes). */
  busyMs(): number;
  /** Gives back a worker that was never run; a no-op once `run` was called (the run gives it back). */
  release(): void;
}

/** What a caller of `acquire` waits for. */
export interface AcquireRequest {
  /** The function, for error messages. */
  readonly name: string;
  /** The longest wait for a free worker (FN_TIMEOUT past it). */
  readonly waitMs: number;
  /** The caller went away: the wait ends with FN_CANCELLED. */
  readonly signal?: AbortSignal | undefined;
  /**
   * A call made by a call that holds a worker (an isolated action's `ctx.runQuery`): it never
   * queues behind calls that may be waiting for its parent, and may start a worker beyond `size`.
   */
  readonly urgent?: boolean;
}

type SlotState = 'starting' | 'idle' | 'leased' | 'dead';

/** A call running in a slot. */
interface Active {
  readonly id: number;
  readonly name: string;
  readonly host: WorkerHost;
  readonly signal: AbortSignal;
  readonly errors: unknown[];
  resolve(outcome: WorkerOutcome): void;
  reject(err: unknown): void;
  onAbort?: () => void;
  grace?: NodeJS.Timeout;
}

interface Slot {
  readonly worker: Worker;
  state: SlotState;
  active: Active | undefined;
  /** Ends an idle worker beyond the first. */
  idleTimer?: NodeJS.Timeout | undefined;
}

interface Waiter {
  readonly urgent: boolean;
  resolve(slot: Slot): void;
  reject(err: unknown): void;
}

/**
 * Worker threads that run isolated function calls, one call per worker at a time, so that
 * terminating a worker whose handler spins past its deadline ends that call only. Threads cost
 * what is used: `warm` starts one (so the first call does not wait for a start); another starts
 * only when a call finds every worker busy and none already starting for it, up to `size`;
 * a worker beyond the first that stays idle for `idleMs` is ended. A crashed or terminated one
 * is replaced when calls wait for it (or it was the warm one), and calls wait in a bounded queue
 * when all are busy.
 */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots = new Set<Slot>();
  readonly #idle: Slot[] = [];
  readonly #queue: Waiter[] = [];
  #starting = 0;
  #nextId = 0;
  #closed = false;
  /** Keep one worker alive (an isolated function is loaded). */
  #warm = false;
  readonly #warmWaiters: Array<() => void> = [];
  #preload: readonly string[] = [];

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /**
   * The function files (URLs) workers import before they take calls, so a call does not spend
   * its deadline importing; workers already running import them at once.
   */
  preload(urls: readonly string[]): void {
    this.#preload = [...urls];
    for (const slot of this.#slots) post(slot, { type: 'preload', urls: this.#preload });
  }

  /** Keeps one worker alive from now on, so the first call does not wait for a start. */
  warm(): void {
    this.#warm = true;
    if (!this.#closed && this.#slots.size === 0) this.#spawn();
  }

  /**
   * Resolves once the warm worker can take a call (or at once when there is none to wait for:
   * not warmed, closed, or its start failed), so a server can listen only when its first
   * isolated call will not wait for a thread to start.
   */
  whenWarm(): Promise<void> {
    if (!this.#warm || this.#closed || this.#idle.length > 0 || this.#starting === 0) return Promise.resolve();
    return new Promise((resolve) => this.#warmWaiters.push(resolve));
  }

  #settleWarm(): void {
    for (const resolve of this.#warmWaiters.splice(0)) resolve();
  }

  /** Worker threads alive or starting. */
  get workerCount(): number {
    return this.#slots.size;
  }

  /** A worker for one call: a free one, or the first to become free (see `AcquireRequest`). */
  acquire(request: AcquireRequest): Promise<WorkerLease> {
    if (this.#closed) return Promise.reject(errors.shuttingDown());
    if (request.signal?.aborted) return Promise.reject(cancelled(request.name));
    const idle = this.#idle.pop();
    if (idle) return Promise.resolve(this.#lease(idle));
    const urgent = request.urgent === true;
    // An isolated action's own calls may start workers past the pool's size (so actions waiting
    // on them cannot take every worker), but at most as many again: a fan-out of nested calls
    // waits at the front of the queue instead of starting a thread each.
    // A worker already starting will take the first waiter: start another only for a call that
    // no starting worker is coming for.
    const uncovered = this.#queue.length + 1 > this.#starting;
    if (uncovered && (this.#slots.size < this.#options.size || (urgent && this.#slots.size < 2 * this.#options.size))) this.#spawn();
    // Calls waiting for a worker that is starting do not count against the queue's bound.
    if (!urgent && this.#queue.length >= this.#starting + this.#options.maxQueued) {
      return Promise.reject(fnErrors.overloaded(request.name, this.#options.maxQueued));
    }
    return new Promise<WorkerLease>((resolve, reject) => {
      const timer = setTimeout(() => settle(fnErrors.noFreeWorker(request.name, request.waitMs)), request.waitMs);
      const onCancel = (): void => settle(cancelled(request.name));
      const settle = (err: unknown, slot?: Slot): void => {
        clearTimeout(timer);
        request.signal?.removeEventListener('abort', onCancel);
        const at = this.#queue.indexOf(waiter);
        if (at !== -1) this.#queue.splice(at, 1);
        if (slot) resolve(this.#lease(slot));
        else reject(err);
      };
      const waiter: Waiter = { urgent, resolve: (slot) => settle(undefined, slot), reject: (err) => settle(err) };
      request.signal?.addEventListener('abort', onCancel, { once: true });
      // Urgent calls go before every ordinary one, after the urgent ones already waiting.
      if (urgent) this.#queue.splice(this.#queue.filter((w) => w.urgent).length, 0, waiter);
      else this.#queue.push(waiter);
    });
  }

  /** Terminates every worker; waiting calls fail with SHUTTING_DOWN, running ones are stopped. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#settleWarm();
    for (const waiter of [...this.#queue]) waiter.reject(errors.shuttingDown());
    await Promise.all([...this.#slots].map((slot) => this.#kill(slot, errors.shuttingDown())));
  }

  #spawn(): void {
    const workerData: WorkerStart = { preload: this.#preload };
    const worker = new Worker(ENTRY, { name: 'mast-function', workerData });
    const slot: Slot = { worker, state: 'starting', active: undefined };
    this.#slots.add(slot);
    this.#starting++;
    worker.unref();
    worker.on('message', (message: FromWorker) => this.#onMessage(slot, message));
    worker.on('error', (err) => this.#onStop(slot, err));
    worker.on('exit', (code) => this.#onStop(slot, new Error(`the worker exited with code ${code}`)));
  }

  /**
   * Hands a slot that is free to the first waiter, or keeps it idle; one beyond the first (also
   * one an isolated action's own call started past the size) ends after `idleMs` idle, so a
   * burst of nested calls does not start a thread per call.
   */
  #free(slot: Slot): void {
    if (slot.state === 'dead') return;
    const waiter = this.#queue[0];
    if (waiter) {
      slot.state = 'leased';
      waiter.resolve(slot);
    } else if (this.#closed) {
      void this.#kill(slot);
    } else {
      slot.state = 'idle';
      this.#idle.push(slot);
      this.#settleWarm();
      if (this.#slots.size > 1) {
        slot.idleTimer = setTimeout(() => {
          if (slot.state === 'idle' && this.#slots.size > 1) void this.#kill(slot);
        }, this.#options.idleMs ?? 30_000);
        slot.idleTimer.unref();
      }
    }
  }

  #lease(slot: Slot): WorkerLease {
    clearTimeout(slot.idleTimer);
    slot.state = 'leased';
    let used = false;
    let errors: unknown[] = [];
    return {
      run: (call, host, signal) => {
        used = true;
        if (slot.state === 'dead') return Promise.reject(new Error(`The function worker for "${call.name}" stopped before the call`));
        return new Promise<WorkerOutcome>((resolve, reject) => {
          const id = ++this.#nextId;
          const active: Active = { id, name: call.name, host, signal, errors: [], resolve, reject };
          errors = active.errors;
          slot.active = active;
          try {
            post(slot, { type: 'call', id, call });
          } catch (err) {
            // The call never reached the worker (its arguments could not be copied): the worker is free again.
            this.#finish(slot, active);
            this.#free(slot);
            reject(err);
            return;
          }
          active.onAbort = () => {
            const reason = signal.reason as { code?: unknown; message?: unknown } | undefined;
            post(slot, { type: 'abort', id, code: String(reason?.code ?? 'FN_CANCELLED'), message: String(reason?.message ?? 'The call was cancelled') });
            active.grace = setTimeout(
              () => void this.#kill(slot, new Error(`the worker running "${call.name}" did not stop within ${this.#options.graceMs} ms of the call's end`)),
              this.#options.graceMs,
            );
          };
          if (signal.aborted) active.onAbort();
          else signal.addEventListener('abort', active.onAbort, { once: true });
        });
      },
      opError: (ref) => errors[ref],
      busyMs: () => (slot.state === 'dead' ? 0 : slot.worker.performance.eventLoopUtilization().active),
      release: () => {
        if (used) return;
        used = true;
        this.#free(slot);
      },
    };
  }

  /** Detaches a finished or failed call from its slot. */
  #finish(slot: Slot, active: Active): void {
    clearTimeout(active.grace);
    if (active.onAbort) active.signal.removeEventListener('abort', active.onAbort);
    if (slot.active === active) slot.active = undefined;
  }

  #onMessage(slot: Slot, message: FromWorker): void {
    if (slot.state === 'dead') return;
    switch (message.type) {
      case 'ready':
        if (slot.state !== 'starting') return;
        this.#starting--;
        this.#free(slot);
        return;
      case 'op': {
        const active = slot.active?.id === message.id ? slot.active : undefined;
        void this.#perform(active, message.op, message.args).then(
          (value) => reply(slot, { type: 'reply', id: message.id, seq: message.seq, ok: true, value }, active),
          (err) => reply(slot, { type: 'reply', id: message.id, seq: message.seq, ok: false, failure: failureOf(err, active) }, active),
        );
        return;
      }
      case 'chunk': {
        const active = slot.active;
        if (active?.id !== message.id || active.signal.aborted) return;
        try {
          active.host.chunk(message.json);
        } catch (err) {
          this.#options.logger.warn({ err, function: active.name }, 'a streamed chunk could not be delivered');
        }
        return;
      }
      case 'done': {
        const active = slot.active;
        if (active?.id !== message.id) return;
        this.#finish(slot, active);
        active.resolve(message.outcome);
        this.#free(slot);
        return;
      }
    }
  }

  async #perform(active: Active | undefined, op: CtxOp, args: readonly unknown[]): Promise<unknown> {
    if (!active) throw new Error('This call has ended; ctx can no longer be used');
    // Once the call has failed (deadline, cancel), its handler reaches nothing more.
    if (active.signal.aborted) throw active.signal.reason;
    if (!CTX_OPS.includes(op) || !Array.isArray(args)) throw new Error(`Unknown ctx operation ${String(op)}`);
    return active.host.perform(op, args);
  }

  /** A worker stopped on its own (crash, exit): its call fails, a new worker takes its place. */
  #onStop(slot: Slot, err: Error): void {
    if (slot.state === 'dead') return;
    const started = slot.state !== 'starting';
    this.#remove(slot);
    const active = slot.active;
    if (active) {
      this.#finish(slot, active);
      active.reject(new Error(`The function worker running "${active.name}" stopped: ${err.message}`, { cause: err }));
    } else {
      this.#options.logger.error({ err }, started ? 'function worker stopped' : 'function worker could not start');
    }
    if (!started && this.#starting === 0) this.#settleWarm();
    if (started) this.#replace();
    else if (!this.#slots.size) for (const waiter of [...this.#queue]) waiter.reject(fnErrors.workersDidNotStart(err));
  }

  /** Terminates a worker (its call, if any, fails with `reason`); a new one takes its place. */
  async #kill(slot: Slot, reason?: unknown): Promise<void> {
    if (slot.state === 'dead') return;
    this.#remove(slot);
    const active = slot.active;
    if (active) {
      this.#finish(slot, active);
      active.reject(reason);
    }
    this.#replace();
    await slot.worker.terminate();
  }

  #remove(slot: Slot): void {
    clearTimeout(slot.idleTimer);
    if (slot.state === 'starting') this.#starting--;
    slot.state = 'dead';
    this.#slots.delete(slot);
    const at = this.#idle.indexOf(slot);
    if (at !== -1) this.#idle.splice(at, 1);
  }

  /** After a worker went away: starts one for calls no starting worker is coming for, or to keep the warm one. */
  #replace(): void {
    if (this.#closed || this.#slots.size >= this.#options.size) return;
    if (this.#queue.length > this.#starting || (this.#warm && this.#slots.size === 0)) this.#spawn();
  }
}

function post(slot: Slot, message: ToWorker): void {
  slot.worker.postMessage(message);
}

/** Answers an op; a value that cannot be cloned answers as the op's failure instead. */
function reply(slot: Slot, message: ToWorker & { type: 'reply' }, active: Active | undefined): void {
  if (slot.state === 'dead') return;
  try {
    post(slot, message);
  } catch (err) {
    post(slot, { type: 'reply', id: message.id, seq: message.seq, ok: false, failure: failureOf(err, active) });
  }
}

/** A failed op as the worker receives it; the original error stays here, under its `ref`. */
function failureOf(err: unknown, active: Active | undefined): OpFailure {
  const ref = active ? active.errors.push(err) - 1 : -1;
  if (!(err instanceof Error)) return { ref, name: 'Error', message: String(err) };
  const { code, status, fields, hint } = err as Partial<Record<'code' | 'hint', unknown>> & { status?: unknown; fields?: unknown };
  return {
    ref,
    name: err.name,
    message: err.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof status === 'number' ? { status } : {}),
    ...(Array.isArray(fields) ? { fields: fields.map(String) } : {}),
    ...(typeof hint === 'string' ? { hint } : {}),
  };
}

function cancelled(name: string): AppError {
  return errors.fnCancelled(name);
}
