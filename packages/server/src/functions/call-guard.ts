import { type AppError, errors, fnErrors } from '../errors/index.js';
import type { DbActivity } from './function-db.js';

/** Limits of one call. */
export interface GuardLimits {
  /** The whole call fails with FN_TIMEOUT past this. */
  readonly timeoutMs: number;
  /**
   * The call fails with `blocked` when its handler, with the event loop free and while
   * `holding()` is true, made no `ctx.db` call for this long: it is awaiting something else
   * while it holds a database resource (the one writer, a reader's snapshot).
   */
  readonly idle?: {
    readonly ms: number;
    readonly holding: () => boolean;
    readonly blocked: () => AppError;
    /**
     * Milliseconds (a growing total) the handler's thread spent busy, when the handler runs in
     * a worker: time the worker computed is not idle, as a late tick is for one in process.
     */
    readonly busyMs?: () => number;
  };
}

/**
 * Deadline and watchdog of one function call. `run` settles with the handler's outcome or with
 * the first limit hit; in the second case `signal` is aborted and the handler's later outcome is
 * dropped. JavaScript cannot stop a handler running in process: one that ignores `signal` keeps
 * running, but its `ctx.db` is closed, so it can no longer read or write (a worker running an
 * isolated handler is terminated instead).
 */
export class CallGuard implements DbActivity {
  readonly #controller = new AbortController();
  readonly #name: string;
  readonly #limits: GuardLimits;
  #pending = 0;
  #active = false;

  constructor(name: string, limits: GuardLimits) {
    this.#name = name;
    this.#limits = limits;
  }

  /** Aborted when the call fails on a limit. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  begin(): void {
    this.#pending++;
    this.#active = true;
  }

  end(): void {
    this.#pending--;
    this.#active = true;
  }

  /** Runs `fn` under the limits; `cancel` (the caller went away) ends it like a limit, with FN_CANCELLED. */
  run<T>(fn: () => Promise<T>, cancel?: AbortSignal): Promise<T> {
    const timers: NodeJS.Timeout[] = [];
    let onCancel: (() => void) | undefined;
    const limit = new Promise<never>((_resolve, reject) => {
      const fail = (err: AppError): void => {
        this.#controller.abort(err);
        reject(err);
      };
      if (cancel) {
        onCancel = () => fail(errors.fnCancelled(this.#name));
        if (cancel.aborted) onCancel();
        else cancel.addEventListener('abort', onCancel, { once: true });
      }
      timers.push(setTimeout(() => fail(fnErrors.timedOut(this.#name, this.#limits.timeoutMs)), this.#limits.timeoutMs));
      const idleLimit = this.#limits.idle;
      if (idleLimit !== undefined) {
        const idleMs = idleLimit.ms;
        const period = Math.max(5, Math.floor(idleMs / 5));
        let last = performance.now();
        let lastBusy = idleLimit.busyMs?.() ?? 0;
        let idle = 0;
        timers.push(
          setInterval(() => {
            const now = performance.now();
            const elapsed = now - last;
            last = now;
            const busy = idleLimit.busyMs?.() ?? 0;
            const worked = busy - lastBusy;
            lastBusy = busy;
            if (this.#active || this.#pending > 0 || !idleLimit.holding()) {
              this.#active = false;
              idle = 0;
              return;
            }
            // A tick that comes late means the loop was busy with synchronous work of this or
            // another request, not awaiting: that time is not counted as idle.
            idle += Math.max(0, (elapsed > 2 * period ? period : elapsed) - worked);
            if (idle >= idleMs) fail(idleLimit.blocked());
          }, period),
        );
      }
    });
    // A call cancelled before it started never runs its handler.
    const work = cancel?.aborted ? limit : fn();
    // The handler may settle after a limit hit; that outcome is dropped, not left unhandled.
    work.catch(() => undefined);
    return Promise.race([work, limit]).finally(() => {
      for (const timer of timers) clearTimeout(timer);
      if (onCancel) cancel?.removeEventListener('abort', onCancel);
    });
  }
}
