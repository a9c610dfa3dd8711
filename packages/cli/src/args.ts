import { OPTIONS, parseOptionValue, type MastConfig } from '@mast/server/config';

/** A mistake in the command line itself (exit code 2), as opposed to a failure of the command. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A parsed command line: the command, positional arguments, option overrides, switches and command flags. */
export interface ParsedArgs {
  readonly command: string | undefined;
  readonly positionals: string[];
  readonly overrides: Partial<MastConfig>;
  readonly switches: Set<string>;
  /** Values of command flags (`--user alice`), by flag. */
  readonly values: Map<string, string>;
}

/**
 * Parses `mast <command> [args] [--flag value | --flag=value | --switch]`: server options come
 * from the options table, `switches` take no value and `valueFlags` take one. Throws UsageError.
 */
export function parseArgs(argv: readonly string[], switches: readonly string[], valueFlags: readonly string[] = []): ParsedArgs {
  const positionals: string[] = [];
  const overrides: Record<string, unknown> = {};
  const seen = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (switches.includes(flag)) {
      seen.add(flag);
      continue;
    }
    if (valueFlags.includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`${flag} needs a value`);
      values.set(flag, value);
      continue;
    }
    const spec = OPTIONS.find((o) => o.flag === flag);
    if (!spec) throw new UsageError(`unknown option ${flag} (see mast --help)`);
    if (spec.type === 'bool' && inline === undefined) {
      overrides[spec.key] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    try {
      overrides[spec.key] = parseOptionValue(spec, value);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
  }
  const [command, ...rest] = positionals;
  return { command, positionals: rest, overrides: overrides as Partial<MastConfig>, switches: seen, values };
}
