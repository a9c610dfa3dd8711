import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// Packing workspace packages with `npm pack` and installing the tarballs into a folder outside
// the repository, as a user gets them. Third-party packages come from the local npm cache
// (`--offline`; `--prefer-offline` where the cache lacks their metadata); install scripts are
// skipped.

const root = process.cwd();

/** Runs a command to its end; throws only when it could not be started or timed out. */
export function run(command: string, args: readonly string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> {
  const res = spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (res.error) throw res.error;
  return res;
}

/** The result of `run`, or an error with its output when it exited non-zero. */
export function must(res: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (res.status !== 0) throw new Error(`${what} failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
  return res;
}

/** Throws unless every named package under `packages/` has been built. */
export function requireBuilt(packages: readonly string[]): void {
  for (const name of packages) {
    if (!existsSync(join(root, 'packages', name, 'dist', 'index.js'))) throw new Error(`packages/${name}/dist is missing: run \`npm run build\` (npm test does)`);
  }
}

/** Packs the named workspace packages into `dir` (created); the tarballs' file names. */
export function packWorkspaces(packages: readonly string[], dir: string): string[] {
  mkdirSync(dir);
  must(run('npm', ['pack', '--silent', '--pack-destination', dir, ...packages.flatMap((p) => ['--workspace', `packages/${p}`])], root), 'npm pack');
  return readdirSync(dir).filter((f) => f.endsWith('.tgz'));
}

/** `npm install` of `specs` (tarball paths, registry specs) into `cwd`, from the local cache. */
export function installFromCache(cwd: string, specs: readonly string[]): void {
  const install = (mode: string) => run('npm', ['install', mode, '--ignore-scripts', '--no-audit', '--no-fund', ...specs], cwd);
  let installed = install('--offline');
  if (installed.status !== 0 && /ENOTCACHED/.test(installed.stderr)) installed = install('--prefer-offline');
  must(installed, 'npm install of the tarballs');
}
