import { OPTIONS, parseOptionValue, type MastConfig } from '@mast/server';

/** A parsed command line: the command, positional arguments, option overrides, switches. */
export interface ParsedArgs {
  readonly command: string | undefined;
  readonly positionals: string[];
  readonly overrides: Partial<MastConfig>;
  readonly switches: Set<string>;
}

/** Parses `mast <command> [args] [--flag value | --flag=value | --switch]` against the options table. */
export function parseArgs(argv: readonly string[], switches: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const overrides: Record<string, unknown> = {};
  const seen = new Set<string>();
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
    const spec = OPTIONS.find((o) => o.flag === flag);
    if (!spec) throw new Error(`unknown option ${flag} (see mast --help)`);
    if (spec.type === 'bool' && inline === undefined) {
      overrides[spec.key] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    overrides[spec.key] = parseOptionValue(spec, value);
  }
  const [command, ...rest] = positionals;
  return { command, positionals: rest, overrides: overrides as Partial<MastConfig>, switches: seen };
}
