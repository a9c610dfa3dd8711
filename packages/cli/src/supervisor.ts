import { fork, type ChildProcess } from 'node:child_process';

/** Set in the environment of the server process a supervisor starts. */
export const SUPERVISED_ENV = 'MAST_SUPERVISED';

/** What a supervised server sends its supervisor once it listens. */
export interface ReadyMessage {
  readonly type: 'mast-ready';
  readonly port: number;
}

/** What the supervisor reads from the options; it may arrive after the server was started. */
export interface SupervisorSettings {
  /** Crashes within `windowMs` after which the supervisor gives up. */
  readonly limit: number;
  readonly windowMs: number;
  /** Writes one log line (pino's levels: 30 info, 40 warn, 50 error). */
  readonly log: (level: number, msg: string, extra?: Record<string, unknown>) => void;
}

/** Options of `supervise`. */
export interface SupervisorOptions {
  /** The script the server process runs (this CLI) and its arguments. */
  readonly entry: string;
  readonly args: readonly string[];
  /**
   * The settings, loaded while the server starts: the supervisor forks first, so parsing the
   * options here costs the start nothing.
   */
  readonly settings: Promise<SupervisorSettings>;
  /** The first restart's delay; each further crash within the window doubles it, up to `maxDelayMs`. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * Runs the server in a child process and keeps it running; resolves with the exit code this
 * process should end with.
 *
 * - A server that exits before it ever listened on its first start (a bad schema, a function
 *   file that does not load, a database another server holds) is not restarted: its code is
 *   returned, as if there were no supervisor.
 * - A server that crashes (any exit the supervisor did not ask for, other than code 0; a
 *   watchdog's SIGKILL included) is restarted after a backoff, with a log line. `limit` crashes
 *   within `windowMs` are a crash loop: the supervisor gives up and returns 1.
 * - SIGTERM, SIGINT and SIGHUP are passed on to the server, which drains; its exit code is
 *   returned. A server that exits 0 on its own was stopped on purpose: so is the supervisor.
 * - The server watches the IPC channel: should the supervisor die (kill -9), the server stops
 *   too instead of running unsupervised and holding the database.
 */
export function supervise(options: SupervisorOptions): Promise<number> {
  const baseDelay = options.baseDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 10_000;
  const crashes: number[] = [];
  let child: ChildProcess | null = null;
  let restartTimer: NodeJS.Timeout | undefined;
  let stopping: NodeJS.Signals | null = null;
  let starts = 0;
  return new Promise<number>((resolve) => {
    const finish = (code: number): void => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      resolve(code);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      stopping = signal;
      clearTimeout(restartTimer);
      if (child) child.kill(signal);
      else finish(0);
    };
    for (const signal of SIGNALS) process.on(signal, onSignal);

    const start = (): void => {
      starts++;
      let ready = false;
      const proc = fork(options.entry, [...options.args], { env: { ...process.env, [SUPERVISED_ENV]: '1' }, stdio: 'inherit' });
      child = proc;
      proc.on('message', (message: Partial<ReadyMessage> | null) => {
        if (message?.type === 'mast-ready') ready = true;
      });
      proc.on('exit', (code, signal) => void options.settings.then((settings) => onExit(settings, code, signal)));
      const onExit = (settings: SupervisorSettings, code: number | null, signal: NodeJS.Signals | null): void => {
        child = null;
        if (stopping) return finish(code ?? 0);
        if (code === 0) {
          settings.log(30, 'the server stopped; the supervisor exits too');
          return finish(0);
        }
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        if (!ready && starts === 1 && signal === null) return finish(code ?? 1);
        const now = Date.now();
        crashes.push(now);
        while (crashes.length > 0 && crashes[0]! <= now - settings.windowMs) crashes.shift();
        if (crashes.length >= settings.limit) {
          settings.log(50, `the server ${how}: ${crashes.length} crashes within ${Math.round(settings.windowMs / 1000)} s, a crash loop; the supervisor gives up`, {
            crashes: crashes.length,
            code,
            signal,
          });
          return finish(1);
        }
        const delay = Math.min(maxDelay, baseDelay * 2 ** (crashes.length - 1));
        settings.log(40, `the server ${how}; restarting it in ${delay} ms`, { code, signal, restart: starts, crashesInWindow: crashes.length, delayMs: delay });
        restartTimer = setTimeout(start, delay);
      };
    };
    start();
  });
}

/**
 * Whether a command line is `mast start` to run under a supervisor, decided from its text alone
 * (`--supervise=<bool>` or `MAST_SUPERVISE`), so the supervisor can fork the server before it
 * loads anything else.
 */
export function supervisedStart(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  if (argv[0] !== 'start' || env[SUPERVISED_ENV] === '1' || argv.includes('--help') || argv.includes('-h')) return false;
  const flag = argv.find((a) => a === '--supervise' || a.startsWith('--supervise='));
  const text = flag === undefined ? env['MAST_SUPERVISE'] : flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : 'true';
  return text === undefined || !/^(0|false|no|off|)$/i.test(text.trim());
}

/** In a supervised server: tells the supervisor it listens, and stops the server when the supervisor is gone. */
export function reportToSupervisor(port: number, stop: (reason: string) => void): void {
  if (process.env[SUPERVISED_ENV] !== '1' || !process.send) return;
  if (!process.connected) return stop('supervisor gone');
  process.on('disconnect', () => stop('supervisor gone'));
  const ready: ReadyMessage = { type: 'mast-ready', port };
  process.send(ready, undefined, {}, (err) => {
    if (err) stop('supervisor gone');
  });
}
