import type { ManifestCode } from './manifest-codes.js';

/** One problem found in a manifest; `path` locates it with names, e.g. `entities[1] Todo.fields[0] title`. */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  /** Self-contained: names the entity and field (or query, policy, route) it is about. */
  readonly message: string;
  readonly path: string;
  readonly hint?: string;
  /** Where `path` is in the manifest file (1-based), when the manifest came from a JSON file. */
  readonly location?: { readonly line: number; readonly column: number };
  /** The source line at `location` with a caret under the column (JSON syntax errors only). */
  readonly excerpt?: string;
}

/** Builds a diagnostic with a catalogued code; `hint` is left out when not given. */
export function diagnostic(code: ManifestCode, path: string, message: string, hint?: string, severity: Diagnostic['severity'] = 'error'): Diagnostic {
  return hint === undefined ? { severity, code, message, path } : { severity, code, message, path, hint };
}

/** Renders diagnostics one per block: `error[CODE] message`, then the path and the hint, indented. */
export function formatDiagnostics(diagnostics: readonly Diagnostic[]): string {
  return diagnostics
    .map((d) => {
      const lines = [`${d.severity}[${d.code}] ${d.message}`];
      const at = d.location === undefined ? '' : `line ${d.location.line}, column ${d.location.column}`;
      if (d.path !== '') lines.push(`  at ${d.path}${at === '' ? '' : ` (${at})`}`);
      else if (at !== '') lines.push(`  at ${at}`);
      if (d.excerpt !== undefined) lines.push(...d.excerpt.split('\n').map((line) => `  | ${line}`));
      if (d.hint !== undefined) lines.push(`  hint: ${d.hint}`);
      return lines.join('\n');
    })
    .join('\n');
}

/** True when any diagnostic is an error (warnings alone never stop a load). */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Thrown when a manifest cannot be loaded; carries every diagnostic found, not just the first. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  readonly diagnostics: Diagnostic[];
  /** The file (or other origin) the manifest came from, when known. */
  readonly source: string | undefined;

  constructor(diagnostics: readonly Diagnostic[], source?: string, options?: { cause?: unknown }) {
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const where = source === undefined ? 'manifest' : `manifest ${source}`;
    const head = `Invalid ${where}: ${errors} error${errors === 1 ? '' : 's'}`;
    super(`${head}\n${formatDiagnostics(diagnostics)}`, options);
    this.diagnostics = [...diagnostics];
    this.source = source;
  }
}
