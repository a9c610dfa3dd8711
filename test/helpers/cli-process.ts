import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The built `mast` command (`npm test` builds first). */
export const MAST = join(process.cwd(), 'packages/cli/bin/mast.js');

/** Runs `mast <args>` to its end. */
export function mastSync(args: readonly string[], env: Record<string, string> = {}, timeout = 30_000) {
  return spawnSync(process.execPath, [MAST, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout });
}

/** A `mast start` or `mast dev` process and everything it printed so far. */
export interface MastProcess {
  readonly proc: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  readonly exited: Promise<number | string | null>;
  /** Waits until the output matches `pattern` (or fails after `ms`); returns the match. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
}

/** Spawns `mast <args>` without waiting for anything. */
export function spawnMast(args: readonly string[], env: Record<string, string> = {}): MastProcess {
  const proc = spawn(process.execPath, [MAST, ...args], { env: { ...process.env, ...env } });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const listener of listeners) listener();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
  const waitFor = (pattern: RegExp, ms = 20_000): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = pattern.exec(out);
        if (!m) return false;
        listeners.delete(onChange);
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      const onChange = (): void => void check();
      const timer = setTimeout(() => {
        listeners.delete(onChange);
        reject(new Error(`no ${pattern} within ${ms} ms in:\n${out}`));
      }, ms);
      listeners.add(onChange);
      check();
      void exited.then((code) => {
        if (listeners.delete(onChange) && !check()) {
          clearTimeout(timer);
          reject(new Error(`exited (${code}) before ${pattern}:\n${out}`));
        }
      });
    });
  return { proc, output: () => out, exited, waitFor };
}

/** Starts `mast <command> <appDir>` on a free port; resolves once it listens, with the port and the server's pid. */
export async function startMast(
  command: 'start' | 'dev',
  appDir: string,
  env: Record<string, string> = {},
  extra: readonly string[] = [],
): Promise<MastProcess & { port: number; serverPid: number }> {
  const p = spawnMast([command, appDir, '--port', '0', '--host', '127.0.0.1', ...extra], { MAST_ADMIN_TOKEN: 'cli-admin-token', ...env });
  const m = await p.waitFor(/"pid":(\d+)[^\n]*"port":(\d+)[^\n]*Mast listening/);
  return { ...p, serverPid: Number(m[1]), port: Number(m[2]) };
}

/** Sends SIGTERM (once) and waits for the exit; SIGKILL after `ms`. */
export async function stopMast(p: MastProcess, ms = 10_000): Promise<number | string | null> {
  if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGTERM');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), ms);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}
