import type { MachineInfo } from '../harness/machine-info.js';
import type { ScenarioResult } from '../scenario.js';

/** The whole output of one `npm run bench`: what `--json` prints. */
export interface BenchReport {
  readonly machine: MachineInfo;
  readonly durationSec: number;
  readonly warmupSec: number;
  /** Re-measurements allowed per noisy cell, and the share of the machine (%) that makes one noisy. */
  readonly noisy: { readonly retries: number; readonly cpuPct: number };
  /** Loopback: the server and the load generator share this machine's cores. */
  readonly note: string;
  /** Load averages when the run ended (they include the bench's own processes). */
  readonly loadAverageAtEnd: readonly number[];
  readonly scenarios: readonly ScenarioResult[];
  /** True when no cell failed and no request errored or answered non-2xx. */
  readonly clean: boolean;
}

/** True when no row of the report failed, errored or answered non-2xx. */
export function isClean(scenarios: readonly ScenarioResult[]): boolean {
  return scenarios.every((s) =>
    s.rows.every((row) => row.failure === undefined && Object.values(row.results).every((m) => m.errors === 0 && m.non2xx === 0)),
  );
}
