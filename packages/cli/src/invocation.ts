// How the user ran `mast`, so that every command the CLI prints works as printed: through
// `npm run mast --` (npm runs scripts in the package root, so folders are relative to where the
// user typed the command, INIT_CWD), through `npx mast` (installed locally, not on PATH), or as a
// plain `mast` found on PATH.
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join, relative, resolve } from 'node:path';

/** True when `mast` runs as the `mast` script of a package.json (`npm run mast -- ...`). */
export function viaNpmScript(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['npm_lifecycle_event'] === 'mast';
}

/** The directory the user typed the command in: INIT_CWD under `npm run`, else the process's. */
export function userCwd(env: NodeJS.ProcessEnv = process.env): string {
  const init = env['INIT_CWD'];
  return viaNpmScript(env) && init !== undefined && init !== '' ? init : process.cwd();
}

/** A folder argument resolved against the directory the user ran the command from. */
export function resolveUserPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(userCwd(env), path);
}

function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

/** The words that run `mast` the way the user can: `npm run mast --`, `mast` or `npx mast`. */
export function mastCommand(env: NodeJS.ProcessEnv = process.env): string {
  if (viaNpmScript(env)) return 'npm run mast --';
  // npm puts node_modules/.bin on PATH for npx and scripts; a shell finds `mast` only if it is
  // installed globally or that folder is on PATH.
  const path = (env['PATH'] ?? '').split(delimiter).filter((dir) => !dir.split(/[\\/]/).includes('node_modules'));
  return onPath('mast', { ...env, PATH: path.join(delimiter) }) ? 'mast' : 'npx mast';
}

/** A folder as the user should type it next: relative to where they ran the command, quoted when needed. */
export function shellPath(absolute: string, env: NodeJS.ProcessEnv = process.env): string {
  const rel = relative(userCwd(env), absolute);
  const shown = rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? absolute : rel;
  return /^[\w./@%+=:,-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
}
