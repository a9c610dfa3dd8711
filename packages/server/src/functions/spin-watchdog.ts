import { Worker } from 'node:worker_threads';

/** Calls the watchdog can follow at once; past this, further calls are not followed. */
const SLOTS = 1024;
/** How often the event loop marks itself alive, and how often the watchdog looks. */
const BEAT_MS = 100;

/**
 * The watchdog thread. It cannot use the main thread's event loop (that is what it watches), so
 * it reads shared memory only: a heartbeat counter the main thread bumps, and a table of the
 * function calls in flight with their deadlines. When the heartbeat has not moved for `blockMs`
 * and a call in flight is past its deadline, a handler is spinning synchronously (`while
 * (true) {}`): nothing in the process can run again, so it writes one fatal log line naming
 * those calls and kills the process, which a supervisor restarts. A blocked loop with no call
 * past its deadline is only reported, once per stall. Plain JavaScript, so it starts without the
 * TypeScript loader.
 */
const WATCHDOG_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { beat, ids, times, blockMs, beatMs, pid } = workerData;
const names = new Map();
parentPort.on('message', (m) => names.set(m.id, m.name));
let seen = Atomics.load(beat, 0);
let movedAt = Date.now();
let reported = false;
function log(level, msg, extra) {
  try { writeSync(1, JSON.stringify({ level, time: Date.now(), pid, msg, ...extra }) + '\\n'); } catch {}
}
setInterval(() => {
  const now = Date.now();
  const current = Atomics.load(beat, 0);
  if (current !== seen) { seen = current; movedAt = now; reported = false; return; }
  const blocked = now - movedAt;
  if (blocked < blockMs) return;
  const late = [];
  for (let i = 0; i < ids.length; i++) {
    const id = Atomics.load(ids, i);
    if (id === 0) continue;
    const started = times[2 * i], deadline = times[2 * i + 1];
    if (deadline < now) late.push({ function: names.get(id) || '?', runningMs: Math.round(now - started), deadlineMs: Math.round(deadline - started) });
  }
  if (late.length > 0) {
    log(60, 'event loop blocked: a function handler runs synchronously past its deadline and cannot be stopped in process; exiting so the process can be restarted', { blockedMs: blocked, calls: late, hint: 'Find the loop in the function named here, or set isolated: true on it' });
    process.kill(pid, 'SIGKILL');
    return;
  }
  if (!reported) {
    reported = true;
    log(40, 'event loop blocked', { blockedMs: blocked });
  }
}, beatMs);
`;

/** A call the watchdog follows; `leave` when it ends. */
export interface WatchedCall {
  leave(): void;
}

const UNWATCHED: WatchedCall = { leave: () => undefined };

/**
 * Notices a function handler that keeps the event loop blocked past its deadline. JavaScript
 * cannot interrupt such a handler in process (stopping the main thread's execution from outside
 * loses every other pending continuation of the process), so the watchdog turns a process that
 * would hang forever into a logged exit. One per process: the event loop is the process's.
 */
export class SpinWatchdog {
  static #instance: SpinWatchdog | undefined;

  readonly #beat = new Int32Array(new SharedArrayBuffer(4));
  readonly #ids = new Int32Array(new SharedArrayBuffer(4 * SLOTS));
  readonly #times = new Float64Array(new SharedArrayBuffer(8 * 2 * SLOTS));
  readonly #nameIds = new Map<string, number>();
  readonly #free: number[] = [];
  readonly #blockMs: number;
  #worker: Worker | undefined;

  private constructor(blockMs: number) {
    this.#blockMs = blockMs;
    for (let i = SLOTS - 1; i >= 0; i--) this.#free.push(i);
  }

  /**
   * Starts the thread and the heartbeat, once; until then nothing runs, so a process serving no
   * function pays nothing. Call it when functions are loaded, well before one runs: a thread
   * started while the main thread is already blocked may never come up.
   */
  start(): void {
    this.#worker ??= this.#spawn();
  }

  #spawn(): Worker {
    const worker = new Worker(WATCHDOG_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { beat: this.#beat, ids: this.#ids, times: this.#times, blockMs: this.#blockMs, beatMs: BEAT_MS, pid: process.pid },
    });
    worker.unref();
    setInterval(() => Atomics.add(this.#beat, 0, 1), BEAT_MS).unref();
    return worker;
  }

  /** The process's watchdog, started on first use; `blockMs` is how long a stall must last. */
  static forProcess(blockMs: number): SpinWatchdog {
    SpinWatchdog.#instance ??= new SpinWatchdog(blockMs);
    return SpinWatchdog.#instance;
  }

  /** Follows a call of `name` that must end by `deadlineMs` from now. */
  enter(name: string, deadlineMs: number): WatchedCall {
    const slot = this.#free.pop();
    if (slot === undefined) return UNWATCHED;
    let id = this.#nameIds.get(name);
    if (id === undefined) {
      id = this.#nameIds.size + 1;
      this.#nameIds.set(name, id);
      this.start();
      this.#worker!.postMessage({ id, name });
    }
    const now = Date.now();
    this.#times[2 * slot] = now;
    this.#times[2 * slot + 1] = now + deadlineMs;
    Atomics.store(this.#ids, slot, id);
    let left = false;
    return {
      leave: () => {
        if (left) return;
        left = true;
        Atomics.store(this.#ids, slot, 0);
        this.#free.push(slot);
      },
    };
  }
}
