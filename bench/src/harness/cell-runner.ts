/**
 * Running one measured cell: noting other processes' CPU use meanwhile, turning a failure into a
 * message, and measuring again (keeping the quietest attempt) when the machine was busy.
 */
import { NOISY_CPU_PCT, type Measurement, type ScenarioContext } from '../scenario.js';
import { withForeignCpu } from './cpu-monitor.js';

/** A measured cell, or why it could not be measured. */
export type Outcome = { ok: true; value: Measurement } | { ok: false; error: string };

/** Outcomes of the cells measured together (e.g. a store cell and its HTTP cell), by target. */
export type Attempt<T extends string> = Partial<Record<T, Outcome>>;

/** The first line of an error's message. */
export function errorLine(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** Runs one cell, noting other processes' CPU use and turning a failure into a message. */
export async function attempt(label: string, context: ScenarioContext, pids: () => readonly number[], fn: () => Promise<Measurement>): Promise<Outcome> {
  try {
    const { value, foreignCpuPct } = await withForeignCpu(pids, fn);
    const other = foreignCpuPct === null ? '' : `  other CPU ${foreignCpuPct}%`;
    context.log(`  ${label.padEnd(24)} ${String(value.rps).padStart(7)} req/s  p99 ${value.latencyMs.p99.toFixed(2)} ms  errors ${value.errors + value.non2xx}${other}`);
    return { ok: true, value: { ...value, foreignCpuPct } };
  } catch (err) {
    const error = errorLine(err);
    context.log(`  ${label.padEnd(24)} FAILED: ${error}`);
    return { ok: false, error };
  }
}

/**
 * Runs `measure` (one cell, or several cells measured back to back) again while other processes
 * used more than NOISY_CPU_PCT of the machine, at most `noisyRetries` more times; keeps the
 * quietest attempt. A failed cell is not retried.
 */
export async function quietest<T extends string>(context: ScenarioContext, label: string, measure: () => Promise<Attempt<T>>): Promise<Attempt<T>> {
  let best: Attempt<T> = {};
  let bestNoise = Number.POSITIVE_INFINITY;
  for (let i = 0; i <= context.noisyRetries; i++) {
    const result = await measure();
    const outcomes = Object.values(result) as Outcome[];
    const noise = Math.max(0, ...outcomes.map((o) => (o.ok ? (o.value.foreignCpuPct ?? 0) : 0)));
    if (noise < bestNoise) [best, bestNoise] = [result, noise];
    if (noise <= NOISY_CPU_PCT || outcomes.some((o) => !o.ok)) break;
    if (i < context.noisyRetries) context.log(`  ${label}: other processes used ${noise}% of the machine; measuring again`);
  }
  return best;
}

/** Rounds to hundredths. */
export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** a ÷ b rounded to hundredths, or null when either side is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined || b === 0 ? null : round2(a / b);
}
