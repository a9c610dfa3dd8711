/**
 * What a benchmark scenario is and what it reports. A scenario is one file under `scenarios/`
 * that starts its own child processes and returns rows of measurements; `main.ts` prints them.
 */

/** Latency percentiles of one measured cell, in milliseconds. */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Throughput, latency and failures of one operation at one concurrency against one target. */
export interface Measurement {
  /** Operations (or responses) completed in the measured window. */
  readonly completed: number;
  /** Length of the measured window in seconds. */
  readonly seconds: number;
  readonly rps: number;
  readonly latencyMs: LatencySummary;
  /** Connection errors, timeouts and thrown operations. */
  readonly errors: number;
  /** Responses whose status was not 2xx (always 0 for in-process targets). */
  readonly non2xx: number;
  /**
   * CPU used by processes outside the bench while the cell ran, in % of the machine (Linux only):
   * high values mean the numbers were taken on a busy machine.
   */
  readonly foreignCpuPct?: number | null;
  /** Responses by status code (HTTP targets only). */
  readonly statusCodes?: Readonly<Record<string, number>>;
}

/** One operation at one concurrency, measured against one or more targets. */
export interface ResultRow {
  readonly op: string;
  readonly concurrency: number;
  /** Measurements by target name, e.g. `http`, `store`, `floor`. */
  readonly results: Readonly<Record<string, Measurement>>;
  /** Throughput ratios between targets, e.g. `httpVsStore`; null when a side is missing. */
  readonly ratios: Readonly<Record<string, number | null>>;
  /** Why the row could not be measured (a failed status check, a crashed child), if it could not. */
  readonly failure?: string;
}

/** A stated target checked against the measurements. */
export interface Check {
  readonly name: string;
  readonly pass: boolean;
  readonly value: number | null;
  readonly limit: number;
}

/** Everything a scenario reports. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly description: string;
  /** What was set up: data sizes, request bodies, server settings that differ from defaults. */
  readonly setup: Readonly<Record<string, unknown>>;
  readonly rows: readonly ResultRow[];
  readonly checks: readonly Check[];
  /**
   * The scenario's own table, when the CRUD columns (req/s against a store and a floor) do not
   * fit what it measures; the reports print it instead of the default table.
   */
  readonly table?: { readonly columns: readonly string[]; readonly rows: readonly (readonly string[])[]; readonly notes?: readonly string[] };
  /**
   * What to know when reading the numbers, printed under the table: above all how the second
   * server (`--against pylon`) was run, what it could not do and which of its quirks show.
   */
  readonly notes?: readonly string[];
}

/** Results under this target name are the second server's; they never make a run unclean. */
export const PYLON_TARGET = 'pylon';

/** Share of the machine (%) other processes may use during a cell before it counts as noisy. */
export const NOISY_CPU_PCT = 10;

/** What the runner gives a scenario. */
export interface ScenarioContext {
  /** Measured seconds per cell. */
  readonly durationSec: number;
  /** Unmeasured seconds run before each cell (after its status check). */
  readonly warmupSec: number;
  /**
   * How many times a cell (or a store+HTTP pair) is measured again when other processes used
   * more than NOISY_CPU_PCT of the machine meanwhile; the quietest attempt is kept.
   */
  readonly noisyRetries: number;
  /** Where the server child writes a V8 CPU profile, or null for none. */
  readonly cpuProfileDir: string | null;
  /** `--full`: also run the sizes that need many sockets or minutes (e.g. 10,000 subscribers). */
  readonly full: boolean;
  /** `--quick`: only the smallest sizes, to check the harness runs. */
  readonly quick: boolean;
  /** `--sizes`: only these sizes, where a scenario has sizes (fanout). */
  readonly sizes: readonly number[] | null;
  /** `--against pylon`: run each workload on Pylon too, alternating with Mast. */
  readonly against: 'pylon' | null;
  /** Progress line for humans, on stderr. */
  log(line: string): void;
}

/** A benchmark scenario, registered by name in `scenarios/index.ts`. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** With `--against pylon`: why this scenario cannot run on Pylon (it has no equivalent), said in the output. */
  readonly withoutPylon?: string;
  run(context: ScenarioContext): Promise<ScenarioResult>;
}
