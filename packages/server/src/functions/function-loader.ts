import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isCronDefinitions, isFunctionDefinition, parseCron, type CronDefinitions } from '@mast/functions';
import { AppError } from '../errors/index.js';
import { parseArgs } from './parse-args.js';
import type { FunctionLoadError, FunctionSet, RegisteredCron, RegisteredFunction } from './function-registry.js';

/** The app folder holding function files. */
export const FUNCTIONS_DIR = 'functions';

/** The file of the app's cron schedules (`export default crons({...})`); not a function. */
export const CRONS_FILE = 'crons';

const EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Files that are not functions: helpers (`_shared.ts`), tests and declarations. */
function skipped(file: string): boolean {
  return file.startsWith('_') || file.startsWith('.') || /\.(test|spec)\.[mc]?[jt]s$/.test(file) || file.endsWith('.d.ts');
}

/** The first compiler message of a transform error (esbuild's `errors`), when there is one. */
function compilerMessage(err: unknown): { text: string; line?: unknown } | undefined {
  const first = (err as { errors?: Array<{ text?: unknown; location?: { line?: unknown } | null }> } | null)?.errors?.[0];
  return typeof first?.text === 'string' ? { text: first.text, line: first.location?.line } : undefined;
}

/** The 1-based line an import error points at in `file`, when it tells one. */
function lineOf(file: string, err: unknown): number | undefined {
  const loc = (err as { loc?: { line?: unknown } } | null)?.loc;
  if (typeof loc?.line === 'number') return loc.line;
  const compiled = compilerMessage(err)?.line;
  if (typeof compiled === 'number') return compiled;
  const text = `${(err as Error | null)?.message ?? ''}\n${(err as Error | null)?.stack ?? ''}`;
  const escaped = basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${escaped}(?:\\?[^:\\s)]*)?:(\\d+)(?::\\d+)?`).exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Imports every function file at the top of `<appDir>/functions`: the default export is the
 * function, the file name (without extension) its name. A file that fails to import, or whose
 * default export is not a `query`/`mutation`/`action`, is reported with its file (and line when
 * known) and left out; the others load. `fresh` re-imports files changed since the last load
 * (`mast dev`), so the process must be able to import TypeScript (tsx, vitest).
 */
export async function loadFunctions(appDir: string, options: { fresh?: boolean } = {}): Promise<FunctionSet> {
  const dir = join(appDir, FUNCTIONS_DIR);
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { functions: new Map(), crons: new Map(), errors: [] };
    throw err;
  }
  const functions = new Map<string, RegisteredFunction>();
  const errors: FunctionLoadError[] = [];
  let cronFile: { file: string; definitions: CronDefinitions } | undefined;
  for (const entry of entries) {
    if (!EXTENSIONS.has(extname(entry)) || skipped(entry)) continue;
    const file = join(dir, entry);
    const name = entry.slice(0, -extname(entry).length);
    if (!NAME.test(name)) {
      errors.push({ file, message: `"${name}" is not a valid function name (letters, digits and _, not starting with a digit)` });
      continue;
    }
    if (functions.has(name)) {
      errors.push({ file, message: `another file already defines function "${name}"` });
      continue;
    }
    let exported: unknown;
    let url: string;
    try {
      // `h` is the hash of the source this thread imports: a worker thread importing the file
      // later refuses other content, so it never runs code the main thread did not check.
      const hash = createHash('sha256')
        .update(await readFile(file))
        .digest('base64url');
      const version = options.fresh ? `&v=${(await stat(file)).mtimeMs}` : '';
      url = `${pathToFileURL(file).href}?h=${hash}${version}`;
      exported = ((await import(url)) as { default?: unknown }).default;
    } catch (err) {
      const line = lineOf(file, err);
      const text = String((err as Error | null)?.message ?? err);
      // tsx reports esbuild's errors as "Transform failed ...\n<file>:<line>:<col>: ERROR: <text>".
      const reason = compilerMessage(err)?.text ?? /ERROR: (.+)/.exec(text)?.[1] ?? text.split('\n')[0];
      errors.push({ file, ...(line === undefined ? {} : { line }), message: `could not be loaded: ${reason}` });
      continue;
    }
    if (name === CRONS_FILE && isCronDefinitions(exported)) {
      cronFile = { file, definitions: exported };
      continue;
    }
    if (!isFunctionDefinition(exported)) {
      errors.push({ file, message: 'has no valid default export: export default query({...}), mutation({...}) or action({...})' });
      continue;
    }
    functions.set(name, { name, file, url, definition: exported });
  }
  const crons = new Map<string, RegisteredCron>();
  for (const [name, spec] of Object.entries(cronFile?.definitions.schedules ?? {})) {
    const problem = cronProblem(functions, spec.function, spec.args);
    const expression = parseCron(spec.schedule);
    if (problem) errors.push({ file: cronFile!.file, message: `cron "${name}" ${problem}` });
    else if (expression.next(Date.now()) === null) errors.push({ file: cronFile!.file, message: `cron "${name}" ("${spec.schedule}") never fires` });
    else crons.set(name, { name, expression, fn: spec.function, args: spec.args ?? {} });
  }
  return { functions, crons, errors };
}

/** Why a cron cannot run `fn` with `args`, or undefined when it can. */
function cronProblem(functions: ReadonlyMap<string, RegisteredFunction>, fn: string, args: Record<string, unknown> | undefined): string | undefined {
  const target = functions.get(fn);
  if (!target) return `runs "${fn}", which is not a loaded function`;
  if (target.definition.kind === 'query') return `runs "${fn}", a query: crons run mutations and actions`;
  try {
    parseArgs(fn, target.definition.args, args ?? {});
  } catch (err) {
    return `gives "${fn}" invalid arguments: ${err instanceof AppError ? err.message : String(err)}`;
  }
  return undefined;
}
