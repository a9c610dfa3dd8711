import type { MachineInfo } from '../harness/machine-info.js';
import { PYLON_TARGET, type ScenarioResult } from '../scenario.js';

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
  /** `--against pylon`: whether Pylon ran, or why not. */
  readonly against: { readonly server: 'pylon'; readonly version: string; readonly unavailable: string | null } | null;
  /** True when no cell failed and no Mast request errored or answered non-2xx. */
  readonly clean: boolean;
}

/**
 * True when no row of the report failed, errored or answered non-2xx. Pylon's answers do not
 * count: its 503s past 32 requests in flight are its behaviour, reported in the tables.
 */
export function isClean(scenarios: readonly ScenarioResult[]): boolean {
  return scenarios.every((s) =>
    s.rows.every((row) => row.failure === undefined && Object.entries(row.results).every(([target, m]) => target === PYLON_TARGET || (m.errors === 0 && m.non2xx === 0))),
  );
}
