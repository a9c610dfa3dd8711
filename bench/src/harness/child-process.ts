import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RpcReply } from './child-rpc.js';

/** The repository root: children run from it so `--import tsx` and workspaces resolve. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

/** A child process of the bench, driven by request/reply messages over its IPC channel. */
export interface BenchChild {
  readonly pid: number;
  readonly label: string;
  /** Calls a handler the child registered; rejects on its error, its exit or the timeout. */
  call<R>(method: string, params: unknown, timeoutMs: number): Promise<R>;
  /** Asks the child to clean up and exit; kills it (by pid) if it does not within 15 s. */
  stop(): Promise<void>;
}

/**
 * Forks `entry` (a TypeScript file run through tsx) with its stdout and stderr on our stderr, so
 * a child can never write into the JSON report, and waits for it to say it is ready.
 */
export async function startChild(entry: URL, label: string, nodeArgs: readonly string[] = []): Promise<BenchChild> {
  const child = fork(fileURLToPath(entry), [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', ...nodeArgs],
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  child.on('message', (raw) => {
    const reply = raw as RpcReply;
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(`${label}: ${reply.error}`));
  });
  child.once('exit', (code, signal) => {
    exited = true;
    for (const waiter of pending.values()) waiter.reject(new Error(`${label} exited (code ${code}, signal ${signal})`));
    pending.clear();
  });

  const call = <R>(method: string, params: unknown, timeoutMs: number): Promise<R> => {
    if (exited) return Promise.reject(new Error(`${label} is not running`));
    const id = nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${label}: ${method} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as R);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      child.send({ id, method, params });
    });
  };

  const kill = (proc: ChildProcess): void => {
    if (!exited && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
  };

  try {
    await call('ready', null, READY_TIMEOUT_MS);
  } catch (err) {
    kill(child);
    throw err;
  }

  return {
    pid: child.pid ?? -1,
    label,
    call,
    async stop() {
      if (exited) return;
      try {
        await call('stop', null, STOP_TIMEOUT_MS);
      } catch {
        kill(child);
      }
      const timer = setTimeout(() => kill(child), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
    },
  };
}
