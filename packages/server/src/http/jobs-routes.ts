import type { FastifyInstance } from 'fastify';
import { fnErrors, httpErrors } from '../errors/index.js';
import type { FunctionRegistry } from '../functions/index.js';
import type { JobRecord, JobStatus, Store } from '../store/index.js';
import { queryParam } from './request-context.js';

/** What the job routes use. */
export interface JobRouteDeps {
  readonly store: Store;
  readonly registry: FunctionRegistry;
  readonly now: () => number;
  /** Told when a job became due (retry), so the worker runs it without waiting for a poll. */
  readonly onEnqueued: () => void;
}

const STATUSES: ReadonlySet<string> = new Set<JobStatus>(['pending', 'running', 'succeeded', 'dead', 'cancelled']);
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A job as the API shows it. */
function jobToWire(job: JobRecord): Record<string, unknown> {
  return {
    id: job.id,
    function: job.fn,
    args: job.args,
    status: job.status,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    run_at: iso(job.runAt),
    lease_until: iso(job.leaseUntil),
    last_error: job.lastError,
    cron: job.cron,
    user_id: job.identity.userId,
    created_at: iso(job.createdAt),
    updated_at: iso(job.updatedAt),
  };
}

function limitOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw httpErrors.invalidJobLimit();
  if (Number(text) > MAX_LIMIT) throw httpErrors.jobLimitTooLarge(MAX_LIMIT);
  return Number(text);
}

async function existing(store: Store, id: string): Promise<JobRecord> {
  const job = await store.jobs.get(id);
  if (!job) throw fnErrors.jobNotFound(id);
  return job;
}

/**
 * Routes of the job queue, mounted in the admin group: `GET /api/jobs?status=&limit=` (newest first), `GET
 * /api/jobs/<id>`, `POST /api/jobs/<id>/retry` (a dead or cancelled job runs again, attempts
 * reset), `POST /api/jobs/<id>/cancel` (a pending job never runs), `GET /api/crons` (each
 * declared schedule with its stored next run).
 */
export function registerJobRoutes(app: FastifyInstance, deps: JobRouteDeps): void {
  app.get('/api/jobs', async (request) => {
    const status = queryParam(request, 'status');
    if (status !== undefined && !STATUSES.has(status)) throw httpErrors.invalidJobStatus([...STATUSES]);
    const jobs = await deps.store.jobs.list({ ...(status === undefined ? {} : { status: status as JobStatus }), limit: limitOf(queryParam(request, 'limit')) });
    return { jobs: jobs.map(jobToWire) };
  });

  app.get('/api/jobs/:id', async (request) => {
    return jobToWire(await existing(deps.store, (request.params as { id: string }).id));
  });

  app.post('/api/jobs/:id/retry', async (request) => {
    const { id } = request.params as { id: string };
    const job = await existing(deps.store, id);
    if (!(await deps.store.jobs.retry(id, deps.now()))) throw fnErrors.jobNotRetryable(id, job.status);
    deps.onEnqueued();
    return jobToWire(await existing(deps.store, id));
  });

  app.post('/api/jobs/:id/cancel', async (request) => {
    const { id } = request.params as { id: string };
    const job = await existing(deps.store, id);
    if (!(await deps.store.jobs.cancel(id, undefined, deps.now()))) throw fnErrors.jobNotCancellable(id, job.status);
    return jobToWire(await existing(deps.store, id));
  });

  app.get('/api/crons', async (request) => {
    const stored = new Map((await deps.store.jobs.crons()).map((c) => [c.name, c]));
    return {
      crons: [...deps.registry.current.crons.values()].map((c) => {
        const state = stored.get(c.name);
        return { name: c.name, schedule: c.expression.source, function: c.fn, next_run_at: state && state.schedule === c.expression.source ? iso(state.nextRunAt) : null };
      }),
    };
  });
}
