import type { ChangeBus } from '../changes/change-bus.js';
import type { AuthContext } from '../access/auth-context.js';
import type { ChangeRecord } from '../store/index.js';
import { ReadSet } from './read-set.js';
import type { FunctionRunner } from './function-runner.js';

/** Where a watch delivers. */
export interface WatchHandlers {
  /**
   * A result different from the last one delivered (the first result always). `previous` is
   * the last result delivered, undefined for the first (a result is never undefined: a
   * handler's undefined arrives as null).
   */
  result(value: unknown, previous: unknown): void;
  /** A re-run failed; the watch has stopped. */
  error(err: Error): void;
}

/**
 * A live query function: runs it, then re-runs it whenever a committed change touches what the
 * last run read, and delivers each result that differs from the previous one. Re-runs are
 * coalesced: changes committed during a run cause one more run after it. Each run is a normal
 * call (same caller, policies, deadline and snapshot rules).
 */
export class QueryWatch {
  readonly #runner: FunctionRunner;
  readonly #bus: ChangeBus;
  readonly #name: string;
  readonly #args: unknown;
  readonly #auth: AuthContext;
  readonly #handlers: WatchHandlers;
  #unsubscribe: (() => void) | undefined;
  #readSet: ReadSet | undefined;
  #running = false;
  #dirty = false;
  #last: { readonly text: string; readonly value: unknown } | undefined;
  #stopped = false;

  constructor(runner: FunctionRunner, bus: ChangeBus, name: string, args: unknown, auth: AuthContext, handlers: WatchHandlers) {
    this.#runner = runner;
    this.#bus = bus;
    this.#name = name;
    this.#args = args;
    this.#auth = auth;
    this.#handlers = handlers;
  }

  /** Subscribes to changes, then delivers the first result; throws (and stops) when the first run fails. */
  async start(): Promise<void> {
    // Subscribed before the first snapshot is taken, so no change can fall between the two.
    this.#unsubscribe = this.#bus.subscribe((changes) => this.#onChanges(changes));
    try {
      await this.#run();
    } catch (err) {
      this.stop();
      throw err;
    }
    this.#afterRun();
  }

  /** Stops watching; a run in progress is dropped. */
  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
  }

  #onChanges(changes: readonly ChangeRecord[]): void {
    if (this.#stopped) return;
    // While a run is in progress its read set is not known yet: any change means one more run.
    if (this.#running) this.#dirty = true;
    else if (this.#readSet?.touchedBy(changes)) void this.#rerun();
  }

  async #run(): Promise<void> {
    this.#running = true;
    this.#dirty = false;
    const readSet = new ReadSet();
    try {
      const value = await this.#runner.call(this.#name, this.#args, this.#auth, { expect: 'query', readSet });
      if (this.#stopped) return;
      this.#readSet = readSet;
      const text = JSON.stringify(value);
      const last = this.#last;
      if (text !== last?.text) {
        this.#last = { text, value };
        this.#handlers.result(value, last?.value);
      }
    } finally {
      this.#running = false;
    }
  }

  #afterRun(): void {
    if (this.#dirty && !this.#stopped) void this.#rerun();
  }

  async #rerun(): Promise<void> {
    try {
      await this.#run();
    } catch (err) {
      if (this.#stopped) return;
      this.stop();
      this.#handlers.error(err as Error);
      return;
    }
    this.#afterRun();
  }
}
