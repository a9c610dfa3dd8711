import { existsSync, watch } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatPolicyDiagnostics, PolicyError } from '@mast/policy';
import { ManifestError, describePlan, diffSchemas, loadAppSchema } from '@mast/schema';
import { MastServer, MigrationRefusedError, backupDatabase, loadConfig, migrateStore, openStore, sqlitePathOf } from '@mast/server';
import { createInterface } from 'node:readline/promises';
import { mastCommand, shellPath } from './invocation.js';
import { compileAppPolicies } from './policy-command.js';
import { reportToSupervisor } from './supervisor.js';

/** `mast start` and `mast dev` in this process: load, check, migrate, listen; SIGTERM drains. */
export async function serve(dir: string, overrides: Parameters<typeof loadConfig>[1], dev: boolean): Promise<void> {
  const appDir = resolve(dir);
  const config = loadConfig(process.env, { ...overrides, ...(dev ? { dev: true } : {}) });
  const { schema, source } = await loadAppSchema(appDir);
  // The same report as `mast policy check`, so a bad rule names its file, policy and position.
  if (compileAppPolicies(schema, source, { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) }) === null) {
    process.exit(1);
  }
  const server = await createServer(appDir, schema, config);
  // `mast start` serves all of the app or none of it; `mast dev` keeps serving (and `/health`
  // says what is missing) until the files are fixed.
  if (!config.dev && server.loadProblems.length > 0) {
    await server.close();
    const n = server.loadProblems.length;
    throw new Error(
      `not starting: ${n} ${n === 1 ? 'problem' : 'problems'} loading the app's functions\n${server.loadProblems.map((p) => `  ${p}`).join('\n')}\n(\`mast dev\` serves the rest and reports these on /health until they are fixed)`,
    );
  }
  const port = await server.listen();
  server.logger.info(
    { app: schema.manifest.name, schema: source, port, dev: config.dev },
    `Mast listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`,
  );
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
  reportToSupervisor(port, stop);
}

/**
 * What to do about a refused destructive migration, as commands that work as printed (this
 * app's folder, and `mast` the way the user runs it) and how to keep the data instead.
 */
export function refusedMigrationHelp(err: MigrationRefusedError, appDir: string): string {
  const mast = mastCommand();
  const app = shellPath(appDir);
  return [
    `The schema change would lose data; nothing was changed. Plan:`,
    ...err.plan.map((line) => `  ${line}`),
    `To keep the data, either:`,
    `  - undo that change in the schema (the database still holds every column), or`,
    `  - for a renamed field, name its old name: field.string().renamedFrom('old') in schema.ts,`,
    `    "renamedFrom": "old" in pylon.manifest.json; the column is renamed and keeps its values.`,
    `To apply it and lose that data (a backup first is cheap):`,
    `  ${mast} backup ${app} --to backup.db`,
    `  ${mast} migrate ${app} --allow-destructive`,
  ].join('\n');
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/**
 * Builds the server. A destructive migration is refused with the commands that apply it or keep
 * the data; `mast dev` on a terminal asks whether to apply it there and then (dev only: `mast
 * start` never asks, since nobody may be there to answer).
 */
async function createServer(appDir: string, schema: Awaited<ReturnType<typeof loadAppSchema>>['schema'], config: ReturnType<typeof loadConfig>): Promise<MastServer> {
  try {
    return await MastServer.create({ appDir, schema, config });
  } catch (err) {
    if (!(err instanceof MigrationRefusedError)) throw err;
    const help = refusedMigrationHelp(err, appDir);
    if (!config.dev || process.stdin.isTTY !== true) throw new Error(help, { cause: err });
    process.stderr.write(`${help}\n`);
    if (!(await confirm('Apply the destructive change now and lose that data? [y/N] '))) throw new Error('not starting: the destructive change was not applied', { cause: err });
    return MastServer.create({ appDir, schema, config: { ...config, allowDestructive: true } });
  }
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
        // Diagnostics go in the message itself, so readable logs keep their lines and caret.
        const text =
          err instanceof PolicyError
            ? formatPolicyDiagnostics(err.diagnostics)
            : err instanceof MigrationRefusedError
              ? refusedMigrationHelp(err, appDir)
              : err instanceof ManifestError
                ? err.message
                : undefined;
        if (text === undefined) server.logger.error({ err }, 'schema reload failed; still serving the previous schema');
        else server.logger.error(`schema reload failed; still serving the previous schema\n${text}`);
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

/** `mast backup [dir] --to <file>`: a consistent copy of the app's SQLite database, also while a server runs. */
export async function backup(dir: string, overrides: Parameters<typeof loadConfig>[1], to: string): Promise<void> {
  const appDir = resolve(dir);
  const config = loadConfig(process.env, overrides);
  const source = sqlitePathOf(config.databaseUrl, appDir);
  if (source === null) throw new Error("mast backup copies a SQLite file; this app's database is not one");
  const target = resolve(to);
  backupDatabase(source, target);
  console.log(`Backed up ${source} to ${target}`);
}

/**
 * `mast migrate`: brings the database to the schema (or prints the plan), holding it
 * exclusively. A dry run writes nothing: with no database file yet it plans against an empty
 * database without creating one (nor its folder).
 */
export async function migrate(dir: string, overrides: Parameters<typeof loadConfig>[1], dryRun: boolean): Promise<void> {
  const appDir = resolve(dir);
  const config = loadConfig(process.env, overrides);
  const { schema } = await loadAppSchema(appDir);
  const file = sqlitePathOf(config.databaseUrl, appDir);
  if (dryRun && file !== null && !existsSync(file)) {
    const lines = describePlan(diffSchemas(null, schema));
    console.log(`Plan (dry run, nothing applied; ${file} does not exist yet and was not created):\n${lines.map((l) => `  ${l}`).join('\n')}`);
    return;
  }
  // Exclusive: a migration never runs under a server that holds the database.
  const store = await openStore(config.databaseUrl, appDir, { exclusive: true });
  try {
    const lines = await migrateStore(store, schema, { allowDestructive: config.allowDestructive, dryRun }).catch((err: unknown) => {
      throw err instanceof MigrationRefusedError ? new Error(refusedMigrationHelp(err, appDir), { cause: err }) : err;
    });
    if (lines.length === 0) console.log('The database already matches the schema.');
    else console.log(`${dryRun ? 'Plan (dry run, nothing applied)' : 'Applied'}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  } finally {
    await store.close();
  }
}
