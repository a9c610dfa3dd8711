import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { AppSchema } from './app-schema.js';
import { compileManifest } from './compile-manifest.js';
import { caretAt, locationOf, pathKey, scanJson } from './json-positions.js';
import { diagnostic, ManifestError, type Diagnostic } from './manifest-error.js';

/** The manifest file an app directory may hold (Pylon's name, so Pylon apps load unchanged). */
export const MANIFEST_FILE = 'pylon.manifest.json';
/** The TypeScript schema module an app directory may hold instead. */
export const SCHEMA_MODULE = 'schema.ts';

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Reads, parses and compiles a manifest JSON file; I/O and JSON problems become ManifestError diagnostics. */
export async function loadManifestFile(path: string): Promise<AppSchema> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ManifestError([diagnostic('MANIFEST_READ_FAILED', '', `Could not read manifest ${path}: ${reason(error)}`, 'check the path and its permissions')], path, {
      cause: error,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ManifestError([syntaxDiagnostic(text, error)], path, { cause: error });
  }
  try {
    return compileManifest(raw, path);
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    const scan = scanJson(text);
    if (!scan.ok) throw error;
    const located = error.diagnostics.map((d) => locate(d, text, scan.offsets));
    throw new ManifestError(located, path, { cause: error.cause });
  }
}

/** A JSON syntax error as a diagnostic with the line, column and the line itself under a caret. */
function syntaxDiagnostic(text: string, error: unknown): Diagnostic {
  const scan = scanJson(text);
  // V8 names a character position in some messages ("at position 1330") and none in others;
  // the scanner finds the same place either way, and says what it expected there.
  const v8 = reason(error).replace(/ in JSON at position \d+.*$/s, '');
  const base = diagnostic('MANIFEST_PARSE_ERROR', '', `Invalid manifest JSON: ${v8}`, 'the file must be a single JSON object');
  if (scan.ok) return base;
  const location = locationOf(text, scan.offset);
  return {
    ...base,
    message: `Invalid manifest JSON at line ${location.line}, column ${location.column}: expected ${scan.expected}`,
    location,
    excerpt: caretAt(text, scan.offset),
  };
}

/**
 * Segments of a diagnostic path, `entities[1] Todo.fields[0] title.type` → entities/1/fields/0/type;
 * names after an index are labels only (they may hold dots: route paths), so they are skipped.
 */
function pathSegments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const token = /([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\](?: [^[]*?(?=\.[A-Za-z_][A-Za-z0-9_]*(?:\[|\.|$)|$))?|\./y;
  let match: RegExpExecArray | null;
  while (token.lastIndex < path.length && (match = token.exec(path)) !== null) {
    if (match[1] !== undefined) out.push(match[1]);
    else if (match[2] !== undefined) out.push(Number(match[2]));
  }
  return out;
}

/** Adds the line and column of the deepest part of the diagnostic's path that exists in the file. */
function locate(d: Diagnostic, text: string, offsets: ReadonlyMap<string, number>): Diagnostic {
  if (d.path === '' || d.location !== undefined) return d;
  const segments = pathSegments(d.path);
  for (let n = segments.length; n >= 1; n--) {
    const offset = offsets.get(pathKey(segments.slice(0, n)));
    if (offset !== undefined) return { ...d, location: locationOf(text, offset) };
  }
  return d;
}

/** A schema module's default export may be a Manifest object or what defineSchema returned. */
function manifestOf(exported: unknown): unknown {
  if (typeof exported === 'object' && exported !== null && !('manifest_version' in exported) && 'manifest' in exported) {
    return exported.manifest;
  }
  return exported;
}

async function loadSchemaModule(path: string, fresh: boolean): Promise<AppSchema> {
  let module: { default?: unknown };
  try {
    // `fresh` adds a query string that changes with the file's mtime, so `mast dev` imports an
    // edited schema anew instead of the cached module (the files it imports stay cached).
    // A schema.ts outside a "type": "module" package loads as CommonJS, whose cache ignores the
    // query string, so its cache entry is dropped too.
    if (fresh) delete createRequire(import.meta.url).cache[path];
    const url = pathToFileURL(path).href + (fresh ? `?v=${(await stat(path)).mtimeMs}` : '');
    module = (await import(url)) as { default?: unknown };
  } catch (error) {
    throw new ManifestError([diagnostic('MANIFEST_READ_FAILED', '', `Could not import schema module ${path}: ${reason(error)}`)], path, { cause: error });
  }
  // A schema.ts outside a "type": "module" package is compiled to CommonJS, whose exports
  // arrive as the default export: its own default export is one level down.
  const nested = module.default as { __esModule?: unknown; default?: unknown } | null | undefined;
  if (typeof nested === 'object' && nested !== null && nested.__esModule === true && nested.default !== undefined) module = nested;
  if (module.default === undefined) {
    throw new ManifestError(
      [diagnostic('MANIFEST_PARSE_ERROR', '', `Invalid manifest JSON: schema module ${path} has no default export`, 'export default defineSchema({...}) or a manifest object')],
      path,
    );
  }
  return compileManifest(manifestOf(module.default), path);
}

/**
 * Loads an app's schema from `<dir>/pylon.manifest.json` or from the default export of
 * `<dir>/schema.ts` (imported, so the process must be able to import TypeScript: the CLI
 * registers tsx for it); `source` is the absolute path of the file used. Both files at once is
 * an error (MANIFEST_AMBIGUOUS) naming both, never a silent choice.
 */
export async function loadAppSchema(dir: string, options: { fresh?: boolean } = {}): Promise<{ schema: AppSchema; source: string }> {
  const manifestPath = resolve(join(dir, MANIFEST_FILE));
  const modulePath = resolve(join(dir, SCHEMA_MODULE));
  const [hasManifest, hasModule] = await Promise.all([isFile(manifestPath), isFile(modulePath)]);
  if (hasManifest && hasModule) {
    throw new ManifestError(
      [
        diagnostic(
          'MANIFEST_AMBIGUOUS',
          '',
          `${resolve(dir)} holds two schemas, ${manifestPath} and ${modulePath}; Mast will not choose one`,
          `keep one: delete ${MANIFEST_FILE} to use ${SCHEMA_MODULE}, or delete ${SCHEMA_MODULE} to use ${MANIFEST_FILE}`,
        ),
      ],
      resolve(dir),
    );
  }
  if (hasManifest) return { schema: await loadManifestFile(manifestPath), source: manifestPath };
  if (hasModule) return { schema: await loadSchemaModule(modulePath, options.fresh ?? false), source: modulePath };
  throw new ManifestError(
    [
      diagnostic(
        'MANIFEST_NOT_FOUND',
        '',
        `No schema in ${resolve(dir)}: neither ${MANIFEST_FILE} nor ${SCHEMA_MODULE} exists`,
        `create ${SCHEMA_MODULE} with export default defineSchema({...}), or copy a Pylon ${MANIFEST_FILE} there`,
      ),
    ],
    resolve(dir),
  );
}
