import { machineLine } from '../harness/machine-info.js';
import type { ScenarioResult } from '../scenario.js';
import type { BenchReport } from './bench-report.js';
import { tableOf } from './result-table.js';

function markdownTable(result: ScenarioResult): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const { columns, rows: body } = tableOf(result);
  const align = columns.map((_, i) => (i === 0 ? '---' : '---:'));
  return [line(columns), line(align), ...body.map(line)].join('\n');
}

function scenarioSection(result: ScenarioResult, measured: string): string {
  const parts = [`## ${result.scenario}`, '', measured, '', `${result.description}.`, '', ...(result.table?.notes ?? []).flatMap((note) => [note, '']), markdownTable(result), ''];
  if (result.notes && result.notes.length > 0) parts.push(...result.notes.map((note) => `- ${note}`), '');
  const failed = result.rows.filter((row) => row.failure);
  if (failed.length > 0) parts.push(...failed.map((row) => `- **failed** ${row.op} c=${row.concurrency}: ${row.failure}`), '');
  if (result.checks.length > 0) {
    parts.push('Targets:', '');
    parts.push(...result.checks.map((c) => `- ${c.pass ? 'met' : '**missed**'}: ${c.name} (measured ${c.value ?? '—'})`), '');
  }
  parts.push('<details><summary>setup</summary>', '', '```json', JSON.stringify(result.setup, null, 2), '```', '', '</details>', '');
  return parts.join('\n');
}

/** The `## name` sections of an earlier benchmarks.md, by scenario name. */
function sectionsOf(doc: string): Map<string, string> {
  const sections = new Map<string, string>();
  for (const part of doc.split(/^(?=## )/m).slice(1)) sections.set(part.slice(3, part.indexOf('\n')).trim(), part.replace(/\n+$/, '\n'));
  return sections;
}

/**
 * The whole of `docs/benchmarks.md` for a report. Sections of scenarios this run did not measure
 * are kept from `previous` as they were (each section says when and how it was measured);
 * sections follow `order`, the registration order of the scenarios.
 */
export function benchmarksDoc(report: BenchReport, command: string, previous = '', order: readonly string[] = []): string {
  const head = [
    '# Benchmarks',
    '',
    `<!-- Written by \`${command}\`; change bench/src/report/benchmarks-doc.ts, not this file. -->`,
    '',
    `Each section says when and with which command it was measured; a run with \`--write-docs\` rewrites the sections of the scenarios it ran and keeps the others. Last written ${report.machine.date.slice(0, 10)} by \`${command}\`.`,
    '',
    `**These are loopback numbers.** ${report.note}`,
    '',
    'How to read the crud table (other scenarios explain theirs in their section):',
    '',
    '- `op`, `c`: the operation and the concurrency (connections, or async loops in-process).',
    '- `HTTP req/s` … `err/non-2xx`: Mast over HTTP measured by autocannon in its own process (for',
    '  the `floor` rows: a bare `node:http` server returning a fixed small JSON body). Latencies are',
    '  per request, unrounded, over the measured window; `err/non-2xx` counts connection errors and',
    "  timeouts, then responses that were not 2xx. Every cell first checks a few responses' status.",
    '- `store req/s`, `store p99 ms`: the same operation on the same store, in-process, in its own',
    '  child process, with no HTTP (writes append their change-log entry as the write path does).',
    '- `HTTP/store`, `HTTP/floor`: throughput ratios of the same run; the store cell runs right',
    '  before the HTTP cell of the same row so both see the same background load.',
    "- `other CPU %`: CPU that processes outside the bench used during the row's cells, as a share",
    '  of the machine (Linux). More than a few percent means the row was measured on a busy machine.',
    `  A row above ${report.noisy.cpuPct} % is measured again, up to ${report.noisy.retries} more times, and the quietest attempt kept.`,
    '',
    'Each HTTP cell opens its connections during the warm-up and starts measuring once every',
    'connection has had a response: a busy Node server accepts about one new connection per',
    'event-loop turn, so at c=64 the last connections of a fresh run wait up to a second or two',
    'for their first answer. That is connection set-up, not the steady state measured here.',
    '',
    'Run it yourself:',
    '',
    '```sh',
    'npm run bench -- crud --duration 3          # table on stdout, progress on stderr',
    'npm run bench -- crud fanout --against pylon   # the same workloads on the real Pylon 0.11.3 too',
    'npm run bench -- --quick --duration 0.3     # every scenario, smallest sizes (what CI runs)',
    "npm run -s bench -- crud --json             # JSON only (-s keeps npm's banner out)",
    'npm run bench -- crud --duration 3 --cpu-prof   # V8 profiles of the server in bench/results/',
    'npm run bench -- fanout --duration 3 --full     # live-query fan-out, with 10,000 subscribers',
    '```',
    '',
    'A new scenario is one file in `bench/src/scenarios/` plus one line in its `index.ts`.',
    '',
    '**Against Pylon.** `--against pylon` starts the real Pylon 0.11.3 (the system Mast replaces) with',
    'the anchor scripts in `shared/anchors/pylon/` (its `setup.sh` installs it under /tmp when it is',
    'missing; `serve.sh` starts it in dev mode with its rate limiters neutralised, on ports 4431 and up',
    'with its WebSocket on port + 1), serves it the same manifest, seeds the same rows through its admin',
    "`/api/batch`, runs each workload on it right after Mast's with the same load processes, and prints",
    'Mast/Pylon ratios beside the raw figures. Where Pylon has no equivalent (server-side live queries,',
    'CRDT deltas, functions without its unpublished runtime, a list under an owner rule) the scenario says',
    'so. Its quirks show in its figures and are not worked around: responses over about 1 KB on keep-alive',
    'connections wait about 44 ms for a delayed ACK, more than 32 requests in flight get 503, and each',
    'client address may open at most 64 WebSockets (the bench spreads sockets over 127.x addresses).',
    "Pylon's own errors and non-2xx answers do not fail the run; if Pylon cannot be installed or",
    'started, the run says so and measures Mast alone.',
    '',
  ];
  const measured = `Measured ${report.machine.date.slice(0, 10)} with \`${command}\` (${report.durationSec} s per cell after ${report.warmupSec} s of warm-up) on ${machineLine(report.machine)}; load average ${report.machine.loadAverageAtStart.join(' / ')} (1/5/15 min) before the run.`;
  const sections = sectionsOf(previous);
  for (const result of report.scenarios) sections.set(result.scenario, scenarioSection(result, measured));
  const rank = (name: string): number => (order.includes(name) ? order.indexOf(name) : order.length);
  const names = [...sections.keys()].sort((a, b) => rank(a) - rank(b));
  return [...head, ...names.map((name) => sections.get(name)!)].join('\n');
}
