/** Parsed command line of `npm run bench`. */
export interface BenchArgs {
  readonly scenarios: readonly string[];
  readonly durationSec: number;
  readonly json: boolean;
  readonly writeDocs: boolean;
  readonly cpuProf: boolean;
  readonly full: boolean;
  /** `--quick`: the smallest sizes only (a smoke run that checks the harness still works). */
  readonly quick: boolean;
  /** `--against pylon`: also run each workload on the real Pylon server. */
  readonly against: 'pylon' | null;
  /** `--sizes n,n`: only these sizes (fanout: subscriber counts; crud and others ignore it). */
  readonly sizes: readonly number[] | null;
  readonly help: boolean;
}

/** The longest measured window per cell we accept, so a typo cannot start an hour-long run. */
export const MAX_DURATION_SEC = 60;
const DEFAULT_DURATION_SEC = 5;

/** Usage text. */
export const USAGE = `usage: npm run bench -- [scenario...] [--duration s] [--json] [--write-docs] [--cpu-prof] [--full] [--quick] [--sizes n,n] [--against pylon]

  scenario       which scenarios to run (default: all)
  --duration s   measured seconds per cell, fractions allowed (default ${DEFAULT_DURATION_SEC}, at most ${MAX_DURATION_SEC})
  --json         print the report as JSON instead of a table
  --write-docs   also write the tables to docs/benchmarks.md
  --cpu-prof     write a V8 CPU profile of each server child to bench/results/
  --full         also run the large sizes (fanout: 10,000 subscribers)
  --quick        only the smallest sizes (a smoke run; fanout: 100 subscribers)
  --sizes n,n    only these sizes (fanout: subscriber counts, e.g. --sizes 10000)
  --against pylon  also run every workload on Pylon 0.11.3 (installed under /tmp by the
                 anchor's setup.sh when missing) and print Mast/Pylon ratios`;

/** Parses argv (without node and the script); throws a message on bad input. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  const scenarios: string[] = [];
  let durationSec = DEFAULT_DURATION_SEC;
  let json = false;
  let writeDocs = false;
  let cpuProf = false;
  let full = false;
  let quick = false;
  let against: 'pylon' | null = null;
  let help = false;
  let sizes: number[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') json = true;
    else if (arg === '--write-docs') writeDocs = true;
    else if (arg === '--cpu-prof') cpuProf = true;
    else if (arg === '--full') full = true;
    else if (arg === '--quick') quick = true;
    else if (arg === '--against' || arg.startsWith('--against=')) {
      const text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (text !== 'pylon') throw new Error(`--against takes pylon, got ${JSON.stringify(text ?? '')}`);
      against = 'pylon';
    } else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--sizes' || arg.startsWith('--sizes=')) {
      const text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      const values = (text ?? '').split(',').map((v) => Number(v.trim()));
      if (text === undefined || values.some((v) => !Number.isInteger(v) || v <= 0 || v > 100_000)) {
        throw new Error(`--sizes needs positive integers up to 100000, comma separated, got ${JSON.stringify(text ?? '')}`);
      }
      sizes = values;
    } else if (arg === '--duration' || arg.startsWith('--duration=')) {
      const text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      const value = Number(text);
      if (text === undefined || text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > MAX_DURATION_SEC) {
        throw new Error(`--duration needs seconds in (0, ${MAX_DURATION_SEC}], got ${JSON.stringify(text ?? '')}`);
      }
      durationSec = value;
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else scenarios.push(arg);
  }
  if (full && quick) throw new Error('--full and --quick contradict each other');
  if (sizes && (full || quick)) throw new Error('--sizes replaces --full and --quick');
  return { scenarios, durationSec, json, writeDocs, cpuProf, full, quick, against, sizes, help };
}

/** Unmeasured warm-up per cell: a fifth of the measured window, between 0.1 and 1 second. */
export function warmupFor(durationSec: number): number {
  return Math.min(1, Math.max(0.1, durationSec / 5));
}

/** Re-measure noisy cells in real runs (two more tries), not in sub-second smoke runs. */
export function noisyRetriesFor(durationSec: number): number {
  return durationSec >= 1 ? 2 : 0;
}
