import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '@mast/schema';

const MAST = join(process.cwd(), 'packages/cli/bin/mast.js');

/** A `mast start` in its own process, on a real port and a real SQLite file. */
export interface ChildServer {
  readonly url: string;
  readonly proc: ChildProcess;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<number | string>;
  /** Everything the process wrote, for failure messages. */
  output(): string;
}

/** Writes `manifest` into `appDir` (once) so `mast start appDir` serves it. */
export function writeApp(appDir: string, manifest: Manifest): void {
  writeFileSync(join(appDir, 'pylon.manifest.json'), JSON.stringify(manifest));
}

/**
 * Starts `mast start appDir` on port 0 and resolves once it listens. `env` adds MAST_* settings;
 * the database is the app's default file unless `MAST_DATABASE_URL` is given. The server runs
 * without its supervisor (`MAST_SUPERVISE=false`), so `proc` is the server itself: a SIGKILL
 * sent to it kills the process that writes, not a supervisor whose server would then stop
 * gracefully.
 */
export function startChildServer(appDir: string, env: Record<string, string> = {}): Promise<ChildServer> {
  const proc = spawn(process.execPath, [MAST, 'start', appDir, '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, MAST_LOG_LEVEL: 'info', MAST_SUPERVISE: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no listening line in: ${out}`));
    }, 30_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m && out.includes('Mast listening')) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${m[1]}`, proc, exited, output: () => out });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before listening: ${out}`));
    });
  });
}
