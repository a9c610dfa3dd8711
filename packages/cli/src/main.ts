import { existsSync, watch } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatPolicyDiagnostics, PolicyError, type PolicyOperation } from '@mast/policy';
import { ManifestError, loadAppSchema } from '@mast/schema';
import { MastServer, MigrationRefusedError, loadConfig, migrateStore, openStore, optionsHelp, registerTypeScript, MAST_VERSION } from '@mast/server';
import { prepareApp } from './app-typescript.js';
import { parseArgs, UsageError, type ParsedArgs } from './args.js';
import { initApp } from './init-command.js';
import { compileAppPolicies, policyCheck, type ExplainRequest } from './policy-command.js';

const HELP = `mast — a realtime backend

Usage:
  mast start [dir]              serve the app in dir (default .)
  mast dev [dir]                serve with dev mode on; reload when the schema changes
  mast init <dir> [--manifest]  create a new app: schema.ts, typed functions, a cron and a
                                package.json (--manifest: pylon.manifest.json, no functions)
  mast migrate [dir] [--dry-run] [--allow-destructive]
                                bring the database to the schema and print the plan
  mast policy check [dir]       check the policies against the schema, as start-up does
  mast policy check [dir] --explain --user <id> [--roles a,b] [--tenant <id>] [--org-role <r>] [--guest]
                    --entity <E> --id <row> [--op read|update|delete] [--json]
                                why that user may or may not do that to the row
                                (exit 0: fine or allowed, 1: problems or denied, 2: usage)
  mast --help                   this text

Options (flag, environment variable, meaning):
${optionsHelp()}
`;

async function serve(dir: string, overrides: Parameters<typeof loadConfig>[1], dev: boolean): Promise<void> {
  const appDir = resolve(dir);
  const config = loadConfig(process.env, { ...overrides, ...(dev ? { dev: true } : {}) });
  const { schema, source } = await loadAppSchema(appDir);
  // The same report as `mast policy check`, so a bad rule names its file, policy and position.
  if (compileAppPolicies(schema, source, { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) }) === null) {
    process.exit(1);
  }
  const server = await MastServer.create({ appDir, schema, config });
  // `mast start` serves all of the app or none of it; `mast dev` keeps serving (and `/health`
  // says what is missing) until the files are fixed.
  if (!config.dev && server.loadProblems.length > 0) {
    await server.close();
    const n = server.loadProblems.length;
    throw new Error(`not starting: ${n} ${n === 1 ? 'problem' : 'problems'} loading the app's functions\n${server.loadProblems.map((p) => `  ${p}`).join('\n')}\n(\`mast dev\` serves the rest and reports these on /health until they are fixed)`);
  }
  const port = await server.listen();
  server.logger.info({ app: schema.manifest.name, schema: source, port, dev: config.dev }, `Mast listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`);
  if (config.dev) watchSchema(appDir, server);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        server.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Reloads the schema when pylon.manifest.json or schema.ts changes; a bad edit keeps the old one. */
function watchSchema(appDir: string, server: MastServer): void {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(appDir, (_event, file) => {
    if (file !== 'pylon.manifest.json' && file !== 'schema.ts') return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const { schema } = await loadAppSchema(appDir, { fresh: true });
        const plan = await server.reload(schema);
        server.logger.info({ plan }, 'schema reloaded');
      } catch (err) {
        const known = err instanceof ManifestError || err instanceof MigrationRefusedError;
        const details = err instanceof PolicyError ? { message: formatPolicyDiagnostics(err.diagnostics) } : known ? { message: (err as Error).message } : { err };
        server.logger.error(details, 'schema reload failed; still serving the previous schema');
      }
    }, 100);
  });
  watcher.unref();
  watchFunctions(appDir, server);
}

/** Reloads functions when a file in `functions/` changes; open sockets and requests stay. */
function watchFunctions(appDir: string, server: MastServer): void {
  const dir = join(appDir, 'functions');
  if (!existsSync(dir)) return;
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dir, (_event, file) => {
    if (file === null || !/\.(ts|js|mts|mjs)$/.test(file)) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const set = await server.reloadFunctions();
        server.logger.info({ functions: set.functions.size }, 'functions reloaded');
      } catch (err) {
        server.logger.error({ err }, 'function reload failed; still serving the previous functions');
      }
    }, 100);
  });
  watcher.unref();
}

async function migrate(dir: string, overrides: Parameters<typeof loadConfig>[1], dryRun: boolean): Promise<void> {
  const appDir = resolve(dir);
  const config = loadConfig(process.env, overrides);
  const { schema } = await loadAppSchema(appDir);
  // Exclusive: a migration never runs under a server that holds the database.
  const store = await openStore(config.databaseUrl, appDir, { exclusive: true });
  try {
    const lines = await migrateStore(store, schema, { allowDestructive: config.allowDestructive, dryRun });
    if (lines.length === 0) console.log('The database already matches the schema.');
    else console.log(`${dryRun ? 'Plan (dry run, nothing applied)' : 'Applied'}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  } finally {
    await store.close();
  }
}

/** Flags that belong to one command only. */
const COMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  migrate: ['--dry-run'],
  init: ['--manifest'],
  policy: ['--explain', '--guest', '--json', '--user', '--roles', '--tenant', '--org-role', '--entity', '--id', '--op'],
};
const SWITCHES = ['--help', '-h', '--manifest', '--dry-run', '--explain', '--guest', '--json'];
const VALUE_FLAGS = ['--user', '--roles', '--tenant', '--org-role', '--entity', '--id', '--op'];
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
  const roles = (args.values.get('--roles') ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '');
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
  const dir = args.positionals[0] ?? '.';
  // `mast dev` may see TypeScript files appear while it runs, so it can always import them.
  if (args.command === 'dev') await registerTypeScript();
  if (args.command === 'start' || args.command === 'migrate') await prepareApp(resolve(dir));
  if (args.command === 'policy') await prepareApp(resolve(args.positionals[1] ?? '.'));
  switch (args.command) {
    case 'start':
      return serve(dir, args.overrides, false);
    case 'dev':
      return serve(dir, args.overrides, true);
    case 'migrate':
      return migrate(dir, args.overrides, args.switches.has('--dry-run'));
    case 'init': {
      if (!args.positionals[0]) throw new UsageError('mast init needs a folder: mast init my-app');
      const manifest = args.switches.has('--manifest');
      const target = initApp(args.positionals[0], { manifest, version: MAST_VERSION });
      const install = manifest ? '' : ` && npm install`;
      console.log(`Created ${target}. Start it with:\n  cd ${args.positionals[0]}${install} && npx mast dev .${manifest ? '' : '\n(npm install is not needed where @mast/cli is installed in a folder above it)'}`);
      return;
    }
    case 'policy': {
      if (args.positionals[0] !== 'check') throw new UsageError('usage: mast policy check [dir] [--explain --user <id> --entity <E> --id <row>] (see mast --help)');
      const request = explainRequest(args);
      const output = { out: (text: string) => process.stdout.write(text), err: (text: string) => process.stderr.write(text) };
      process.exitCode = await policyCheck(args.positionals[1] ?? '.', request, args.overrides, output);
      return;
    }
    default:
      throw new UsageError(`unknown command "${args.command}" (see mast --help)`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof Error) {
    console.error(`mast: ${err.message}`);
  } else {
    console.error('mast:', err);
  }
  process.exit(err instanceof UsageError ? 2 : 1);
});
