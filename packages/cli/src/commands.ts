// The `mast` commands. The server and its dependencies are imported by the commands that use
// them, so `--help`, `init` and a supervisor load only what they need.
import type { PolicyOperation } from '@mast/policy';
import { loadConfig, optionsHelp } from '@mast/server/config';
import { parseArgs, UsageError, type ParsedArgs } from './args.js';
import { resolveUserPath, shellPath } from './invocation.js';
import type { ExplainRequest } from './policy-command.js';
import type { SupervisorSettings } from './supervisor.js';

const HELP = `mast — a realtime backend

Usage:
  mast start [dir]              serve the app in dir (default .) under a supervisor that
                                restarts it after a crash
  mast dev [dir]                serve with dev mode on; reload when the schema changes
  mast init <dir> [--manifest]  create a new app: schema.ts, typed functions, a cron and a
                                package.json (--manifest: pylon.manifest.json, no functions)
  mast migrate [dir] [--dry-run] [--allow-destructive]
                                bring the database to the schema and print the plan
  mast backup [dir] --to <file> copy the app's SQLite database, consistent, while it serves
  mast codegen [dir] [--out <file>]
                                write the app's row and function types as a .d.ts
                                (default <dir>/mast-types.d.ts) for createClient<App>()
  mast policy check [dir]       check the policies against the schema, as start-up does
  mast policy check [dir] --explain --user <id> [--roles a,b] [--tenant <id>] [--org-role <r>] [--guest]
                    --entity <E> --id <row> [--op read|update|delete] [--json]
                                why that user may or may not do that to the row
                                (exit 0: fine or allowed, 1: problems or denied, 2: usage)
  mast --help                   this text

Options (flag, environment variable, meaning):
${optionsHelp()}
`;

/** Flags that belong to one command only. */
const COMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  migrate: ['--dry-run'],
  init: ['--manifest'],
  backup: ['--to'],
  codegen: ['--out'],
  policy: ['--explain', '--guest', '--json', '--user', '--roles', '--tenant', '--org-role', '--entity', '--id', '--op'],
};
const SWITCHES = ['--help', '-h', '--manifest', '--dry-run', '--explain', '--guest', '--json'];
const VALUE_FLAGS = ['--out', '--to', '--user', '--roles', '--tenant', '--org-role', '--entity', '--id', '--op'];
const EXPLAIN_OPERATIONS: readonly string[] = ['read', 'update', 'delete'];

/** The --explain request of `mast policy check`, or null without --explain; UsageError when incomplete. */
function explainRequest(args: ParsedArgs): ExplainRequest | null {
  const given = VALUE_FLAGS.filter((f) => args.values.has(f)).concat(['--guest', '--json'].filter((f) => args.switches.has(f)));
  if (!args.switches.has('--explain')) {
    if (given.length > 0) throw new UsageError(`${given[0]} needs --explain`);
    return null;
  }
  const need = (flag: string): string => {
    const value = args.values.get(flag);
    if (value === undefined || value === '') throw new UsageError(`--explain needs ${flag}`);
    return value;
  };
  const operation = args.values.get('--op') ?? 'read';
  if (!EXPLAIN_OPERATIONS.includes(operation)) throw new UsageError(`--op must be read, update or delete, not "${operation}"`);
  const roles = (args.values.get('--roles') ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  return {
    userId: need('--user'),
    roles,
    tenantId: args.values.get('--tenant') ?? null,
    orgRole: args.values.get('--org-role') ?? null,
    isGuest: args.switches.has('--guest'),
    entity: need('--entity'),
    id: need('--id'),
    operation: operation as PolicyOperation,
    json: args.switches.has('--json'),
  };
}

async function main(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, SWITCHES, VALUE_FLAGS);
  if (args.switches.has('--help') || args.command === undefined || args.command === 'help') {
    process.stdout.write(HELP);
    return;
  }
  for (const flag of [...args.switches, ...args.values.keys()]) {
    const owner = Object.keys(COMMAND_FLAGS).find((c) => COMMAND_FLAGS[c]!.includes(flag));
    if (owner !== undefined && owner !== args.command) throw new UsageError(`${flag} is an option of mast ${owner}, not of mast ${args.command}`);
  }
  // Folders are the user's: under `npm run mast -- ...` npm runs in the package root, so they
  // are resolved against the directory the command was typed in.
  const dir = resolveUserPath(args.positionals[0] ?? '.');
  const { prepareApp } = await import('./app-typescript.js');
  // `mast dev` may see TypeScript files appear while it runs, so it can always import them.
  if (args.command === 'dev') await (await import('@mast/server')).registerTypeScript();
  if (args.command === 'start' || args.command === 'migrate' || args.command === 'codegen') await prepareApp(dir);
  if (args.command === 'policy') await prepareApp(resolveUserPath(args.positionals[1] ?? '.'));
  switch (args.command) {
    case 'start':
      return (await import('./serve-command.js')).serve(dir, args.overrides, false);
    case 'dev':
      return (await import('./serve-command.js')).serve(dir, args.overrides, true);
    case 'migrate':
      return (await import('./serve-command.js')).migrate(dir, args.overrides, args.switches.has('--dry-run'));
    case 'backup': {
      const to = args.values.get('--to');
      if (!to) throw new UsageError('mast backup needs a target file: mast backup [dir] --to backup.db');
      return (await import('./serve-command.js')).backup(dir, args.overrides, resolveUserPath(to));
    }
    case 'codegen': {
      const written = await (await import('./codegen-command.js')).codegen(dir, args.values.get('--out'));
      console.log(`Wrote ${written}`);
      return;
    }
    case 'init': {
      if (!args.positionals[0]) throw new UsageError('mast init needs a folder: mast init my-app');
      const manifest = args.switches.has('--manifest');
      const [{ initApp }, { MAST_VERSION }] = await Promise.all([import('./init-command.js'), import('@mast/server')]);
      const target = initApp(dir, { manifest, version: MAST_VERSION });
      const install = manifest ? '' : ` && npm install`;
      console.log(
        `Created ${target}. Start it with:\n  cd ${shellPath(target)}${install} && npx mast dev .${manifest ? '' : '\n(npm install is not needed where @mast/cli is installed in a folder above it)'}`,
      );
      return;
    }
    case 'policy': {
      if (args.positionals[0] !== 'check') throw new UsageError('usage: mast policy check [dir] [--explain --user <id> --entity <E> --id <row>] (see mast --help)');
      const request = explainRequest(args);
      const output = { out: (text: string) => process.stdout.write(text), err: (text: string) => process.stderr.write(text) };
      const { policyCheck } = await import('./policy-command.js');
      process.exitCode = await policyCheck(resolveUserPath(args.positionals[1] ?? '.'), request, args.overrides, output);
      return;
    }
    default:
      throw new UsageError(`unknown command "${args.command}" (see mast --help)`);
  }
}

const LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** The supervisor's log lines, in the server's JSON shape (pino's), at the configured level. */
function supervisorLog(level: string): (level: number, msg: string, extra?: Record<string, unknown>) => void {
  const min = LEVELS[level] ?? Number.POSITIVE_INFINITY;
  return (at, msg, extra = {}) => {
    if (at < min) return;
    process.stdout.write(`${JSON.stringify({ level: at, time: Date.now(), pid: process.pid, name: 'mast-supervisor', ...extra, msg })}\n`);
  };
}

/**
 * The supervisor's settings from the command line and environment. A command line the server
 * will refuse gets the defaults here: the server reports the mistake and exits before it
 * listens, which ends the supervisor with the same code.
 */
export function supervisorSettings(argv: readonly string[]): SupervisorSettings {
  try {
    const config = loadConfig(process.env, parseArgs(argv, SWITCHES, VALUE_FLAGS).overrides);
    return { limit: config.restartLimit, windowMs: config.restartWindow, log: supervisorLog(config.logLevel) };
  } catch {
    return { limit: 5, windowMs: 60_000, log: supervisorLog('info') };
  }
}

/** Runs one `mast` command line in this process; exits 2 on a usage mistake and 1 on a failure. */
export function runCommand(argv: readonly string[]): Promise<void> {
  return main(argv).catch((err: unknown) => {
    if (err instanceof Error) {
      console.error(`mast: ${err.message}`);
    } else {
      console.error('mast:', err);
    }
    process.exit(err instanceof UsageError ? 2 : 1);
  });
}
