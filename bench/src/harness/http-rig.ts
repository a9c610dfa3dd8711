/**
 * A Mast server and an autocannon load generator, each in its own child process, for scenarios
 * that compare HTTP workloads on one server (functions against REST, lists with and without a rule).
 */
import { mkdirSync } from 'node:fs';
import type { MastConfig } from '@mast/server';
import type { Measurement, ScenarioContext } from '../scenario.js';
import { attempt, type Outcome } from './cell-runner.js';
import { startChild, type BenchChild } from './child-process.js';
import type { LoadParams } from './load-process.js';
import type { RequestTemplate } from './request-template.js';
import type { ServerParams } from './server-process.js';
import { waitForHealth } from './wait-for-health.js';

/** A running server with its load generator. */
export interface HttpRig {
  readonly origin: string;
  /** Measures one template at one concurrency (ids feed `{id}` placeholders). */
  measure(label: string, template: RequestTemplate, connections: number, ids?: readonly string[]): Promise<Outcome>;
  stop(): Promise<void>;
}

/** Starts the server on `appDir` (its functions folder included) with `config`, and the load generator. */
export async function startHttpRig(context: ScenarioContext, appDir: string, manifest: unknown, config: Partial<MastConfig>): Promise<HttpRig> {
  const children: BenchChild[] = [];
  const stop = async (): Promise<void> => {
    for (const child of children.reverse()) await child.stop().catch(() => undefined);
  };
  try {
    const profile = context.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${context.cpuProfileDir}`] : [];
    if (context.cpuProfileDir) mkdirSync(context.cpuProfileDir, { recursive: true });
    const server = await startChild(new URL('./server-process.ts', import.meta.url), 'mast server', profile);
    children.push(server);
    const params: ServerParams = { appDir, manifest, config };
    const origin = `http://127.0.0.1:${(await server.call<{ port: number }>('start', params, 60_000)).port}`;
    await waitForHealth(origin);
    const loader = await startChild(new URL('./load-process.ts', import.meta.url), 'load generator');
    children.push(loader);
    const timeout = (context.warmupSec + context.durationSec) * 1000 + 30_000;
    const pids = (): number[] => [process.pid, ...children.map((child) => child.pid)];
    return {
      origin,
      measure: (label, template, connections, ids = []) => {
        const load: LoadParams = { origin, template, ids, connections, durationSec: context.durationSec, warmupSec: context.warmupSec };
        return attempt(label, context, pids, () => loader.call<Measurement>('run', load, timeout));
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
