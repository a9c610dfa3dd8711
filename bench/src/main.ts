/**
 * `npm run bench -- [scenario...] [--duration s] [--json] [--write-docs] [--cpu-prof] [--full]
 * [--quick] [--against pylon]`: runs the scenarios one after another, each in its own child
 * processes, and prints a table or JSON. With `--against pylon` each scenario runs its workload on
 * the real Pylon server too; when Pylon cannot be installed or started the run says so and goes
 * on with Mast alone.
 * Exits 1 when any cell failed or saw an error or non-2xx response; missed targets are reported
 * but do not fail the run (timing is not a pass/fail matter on a shared machine).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { noisyRetriesFor, parseArgs, USAGE, warmupFor } from './cli-args.js';
import { loadAverages, machineInfo, machineLine } from './harness/machine-info.js';
import { ensurePylon, PYLON_VERSION } from './harness/pylon.js';
import { benchmarksDoc } from './report/benchmarks-doc.js';
import { isClean, type BenchReport } from './report/bench-report.js';
import { textTable } from './report/result-table.js';
import { NOISY_CPU_PCT, type ScenarioResult } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';

const DOCS_FILE = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
const PROFILE_DIR = fileURLToPath(new URL('../results/', import.meta.url));

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const unknown = args.scenarios.filter((name) => !SCENARIOS.has(name));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')} (have: ${[...SCENARIOS.keys()].join(', ')})`);
  const names = args.scenarios.length > 0 ? args.scenarios : [...SCENARIOS.keys()];
  const warmupSec = warmupFor(args.durationSec);
  const machine = machineInfo();
  const started = performance.now();
  const log = (line: string): void => void process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
  log(`bench: ${names.join(', ')}; ${args.durationSec} s per cell after ${warmupSec} s warm-up; ${machineLine(machine)}`);

  const unavailable = args.against === 'pylon' ? await ensurePylon(log) : null;
  if (unavailable) log(`bench: PYLON CANNOT RUN (${unavailable}); measuring Mast only`);
  const against = args.against === 'pylon' && !unavailable ? 'pylon' : null;
  const scenarios: ScenarioResult[] = [];
  for (const name of names) {
    const scenario = SCENARIOS.get(name)!;
    const result = await scenario.run({
      durationSec: args.durationSec,
      warmupSec,
      noisyRetries: noisyRetriesFor(args.durationSec),
      cpuProfileDir: args.cpuProf ? PROFILE_DIR : null,
      full: args.full,
      quick: args.quick,
      sizes: args.sizes,
      against,
      log,
    });
    scenarios.push(args.against && scenario.withoutPylon ? { ...result, notes: [...(result.notes ?? []), scenario.withoutPylon] } : result);
  }
  const report: BenchReport = {
    machine,
    durationSec: args.durationSec,
    warmupSec,
    noisy: { retries: noisyRetriesFor(args.durationSec), cpuPct: NOISY_CPU_PCT },
    note: `The server, the load generator and the baselines run on this one machine (${machine.cores} cores), over 127.0.0.1: the server and autocannon compete for the same cores, and no network is crossed.`,
    loadAverageAtEnd: loadAverages(),
    against: args.against === 'pylon' ? { server: 'pylon', version: PYLON_VERSION, unavailable } : null,
    scenarios,
    clean: isClean(scenarios),
  };
  const againstLine = unavailable ? [`Pylon ${PYLON_VERSION} could not be run (${unavailable}): these are Mast's numbers alone.`] : [];

  if (args.json) console.log(JSON.stringify(report, null, 2));
  else
    console.log(
      [
        `${machineLine(machine)}; ${machine.date}; load average ${machine.loadAverageAtStart.join(' / ')} before, ${report.loadAverageAtEnd.join(' / ')} after`,
        report.note,
        ...againstLine,
        '',
        ...scenarios.map(textTable),
      ].join('\n\n'),
    );
  if (args.writeDocs) {
    const flags = [
      args.full ? ' --full' : '',
      args.quick ? ' --quick' : '',
      args.sizes ? ` --sizes ${args.sizes.join(',')}` : '',
      args.against ? ` --against ${args.against}` : '',
    ].join('');
    const command = `npm run bench -- ${names.join(' ')} --duration ${args.durationSec}${flags} --write-docs`;
    const previous = existsSync(DOCS_FILE) ? readFileSync(DOCS_FILE, 'utf8') : '';
    writeFileSync(DOCS_FILE, benchmarksDoc(report, command, previous, [...SCENARIOS.keys()]));
    log(`bench: wrote ${DOCS_FILE}`);
  }
  if (args.cpuProf) log(`bench: CPU profiles in ${PROFILE_DIR}`);
  if (!report.clean) log('bench: some cells failed or saw errors / non-2xx responses (see above)');
  return report.clean ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
