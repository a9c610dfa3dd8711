import { PYLON_TARGET, type Measurement, type ResultRow, type ScenarioResult } from '../scenario.js';

/** Column headings of the results table, shared by the text and markdown renderings. */
export const COLUMNS = [
  'op',
  'c',
  'HTTP req/s',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'max ms',
  'err/non-2xx',
  'store req/s',
  'store p99 ms',
  'HTTP/store',
  'HTTP/floor',
  'other CPU %',
] as const;

const num = (value: number | undefined | null, digits = 0): string => (value === undefined || value === null ? '—' : value.toFixed(digits));
const failures = (m: Measurement | undefined): string => (m ? `${m.errors}/${m.non2xx}` : '—');

/** The highest share of the machine other processes used during any of the row's cells. */
function foreignCpu(row: ResultRow): number | null {
  const values = Object.values(row.results)
    .map((m) => m.foreignCpuPct ?? null)
    .filter((v) => v !== null);
  return values.length === 0 ? null : Math.max(...values);
}

/** Columns added when the run measured Pylon too (`--against pylon`). */
const PYLON_COLUMNS = ['Pylon req/s', 'Pylon p50 ms', 'Pylon p99 ms', 'Pylon err/non-2xx', 'Mast/Pylon req/s'] as const;

/** The Pylon side of a row: its HTTP measurement and Mast's throughput over it. */
function pylonCells(row: ResultRow): string[] {
  const pylon = row.results[PYLON_TARGET];
  return [num(pylon?.rps), num(pylon?.latencyMs.p50, 2), num(pylon?.latencyMs.p99, 2), failures(pylon), num(row.ratios['mastVsPylon'], 2)];
}

/** The columns and cells of a scenario's table: its own, or the default one (with Pylon's columns when it ran). */
export function tableOf(result: ScenarioResult): { columns: readonly string[]; rows: readonly (readonly string[])[] } {
  if (result.table) return result.table;
  const withPylon = result.rows.some((row) => row.results[PYLON_TARGET] !== undefined);
  return {
    columns: withPylon ? [...COLUMNS, ...PYLON_COLUMNS] : COLUMNS,
    rows: result.rows.map((row) => (withPylon ? [...rowCells(row), ...pylonCells(row)] : rowCells(row))),
  };
}

/** One row's cells: the HTTP side (or the floor for floor rows), the store side and the ratios. */
export function rowCells(row: ResultRow): string[] {
  const main = row.results['http'] ?? row.results['floor'];
  const store = row.results['store'];
  return [
    row.op,
    String(row.concurrency),
    num(main?.rps),
    num(main?.latencyMs.p50, 2),
    num(main?.latencyMs.p90, 2),
    num(main?.latencyMs.p99, 2),
    num(main?.latencyMs.max, 1),
    failures(main),
    num(store?.rps),
    num(store?.latencyMs.p99, 3),
    num(row.ratios['httpVsStore'], 2),
    num(row.ratios['httpVsFloor'], 2),
    num(foreignCpu(row), 0),
  ];
}

/** Aligned plain-text table of one scenario, with its failures and checks below. */
export function textTable(result: ScenarioResult): string {
  const { columns, rows: body } = tableOf(result);
  const widths = columns.map((heading, i) => Math.max(heading.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const out = [`${result.scenario}: ${result.description}`, line(columns), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
  for (const row of result.rows) if (row.failure) out.push(`FAILED ${row.op} c=${row.concurrency}: ${row.failure}`);
  for (const check of result.checks) out.push(`${check.pass ? 'pass' : 'MISS'}  ${check.name} (measured ${num(check.value, 2)})`);
  for (const note of result.notes ?? []) out.push(`note: ${note}`);
  return out.join('\n');
}
