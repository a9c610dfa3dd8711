import type { CronRecord, JobIdentity, JobOwner, JobRecord, JobStatus, NewJob } from '../store.js';
import type { Cells, PgConnection } from './pg-connection.js';

/** The job queue and cron state on PostgreSQL (tables in `pg-tables.ts`). */

function toJob(cells: Cells): JobRecord {
  return {
    id: String(cells['id']),
    fn: String(cells['fn']),
    args: JSON.parse(String(cells['args'])) as unknown,
    identity: JSON.parse(String(cells['identity'])) as JobIdentity,
    status: String(cells['status']) as JobStatus,
    attempts: Number(cells['attempts']),
    maxAttempts: Number(cells['max_attempts']),
    runAt: Number(cells['run_at']),
    leaseUntil: cells['lease_until'] === null ? null : Number(cells['lease_until']),
    lastError: typeof cells['last_error'] === 'string' ? cells['last_error'] : null,
    cron: typeof cells['cron'] === 'string' ? cells['cron'] : null,
    createdAt: Number(cells['created_at']),
    updatedAt: Number(cells['updated_at']),
  };
}

/** Inserts a pending job (inside a write transaction). */
export async function enqueueJob(conn: PgConnection, job: NewJob): Promise<void> {
  await conn.run(
    `INSERT INTO _mast_jobs (id, fn, args, identity, status, attempts, max_attempts, run_at, lease_until, last_error, cron, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, NULL, NULL, ?, ?, ?)`,
    [job.id, job.fn, JSON.stringify(job.args ?? null), JSON.stringify(job.identity), job.maxAttempts, job.runAt, job.cron, job.createdAt, job.createdAt],
  );
}

/** Pending → cancelled, optionally only for the user who scheduled it. */
export async function cancelJob(conn: PgConnection, id: string, owner: JobOwner, now: number): Promise<boolean> {
  const job = await getJob(conn, id);
  if (job?.status !== 'pending') return false;
  if (owner !== undefined && job.identity.userId !== owner) return false;
  return (await conn.run("UPDATE _mast_jobs SET status = 'cancelled', updated_at = ? WHERE id = ? AND status = 'pending'", [now, id])) > 0;
}

/**
 * Leases due jobs in one statement. `FOR UPDATE SKIP LOCKED` lets several nodes claim at once
 * without waiting on each other or taking the same job: a row another claim has locked is
 * skipped, and a row it has already leased is no longer due once that claim commits.
 */
export async function claimJobs(conn: PgConnection, now: number, leaseMs: number, limit: number): Promise<JobRecord[]> {
  const rows = await conn.all(
    `WITH due AS (
       SELECT id FROM _mast_jobs WHERE (status = 'pending' AND run_at <= ?) OR (status = 'running' AND lease_until <= ?)
       ORDER BY run_at, id LIMIT ? FOR UPDATE SKIP LOCKED
     )
     UPDATE _mast_jobs AS j SET status = 'running', attempts = j.attempts + 1, lease_until = ?, updated_at = ?
     FROM due WHERE j.id = due.id RETURNING j.*`,
    [now, now, limit, now + leaseMs, now],
  );
  return rows.map(toJob).sort((a, b) => a.runAt - b.runAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Running attempt → succeeded. */
export async function completeJob(conn: PgConnection, id: string, attempt: number, now: number): Promise<boolean> {
  return (
    (await conn.run("UPDATE _mast_jobs SET status = 'succeeded', lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'running' AND attempts = ?", [now, id, attempt])) > 0
  );
}

/** Running attempt → pending at `retryAt`, or dead. */
export async function failJob(conn: PgConnection, id: string, attempt: number, error: string, retryAt: number | null, now: number): Promise<boolean> {
  return (
    (await conn.run(
      "UPDATE _mast_jobs SET status = ?, run_at = COALESCE(?, run_at), lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ? AND status = 'running' AND attempts = ?",
      [retryAt === null ? 'dead' : 'pending', retryAt, error, now, id, attempt],
    )) > 0
  );
}

/** Dead or cancelled → pending now, attempts reset (the last error is kept until the next run). */
export async function retryJob(conn: PgConnection, id: string, now: number): Promise<boolean> {
  return (
    (await conn.run("UPDATE _mast_jobs SET status = 'pending', attempts = 0, run_at = ?, updated_at = ? WHERE id = ? AND status IN ('dead', 'cancelled')", [now, now, id])) > 0
  );
}

export async function getJob(conn: PgConnection, id: string): Promise<JobRecord | null> {
  const cells = await conn.get('SELECT * FROM _mast_jobs WHERE id = ?', [id]);
  return cells ? toJob(cells) : null;
}

export async function listJobs(conn: PgConnection, status: JobStatus | undefined, limit: number): Promise<JobRecord[]> {
  const rows =
    status === undefined
      ? await conn.all('SELECT * FROM _mast_jobs ORDER BY created_at DESC, id DESC LIMIT ?', [limit])
      : await conn.all('SELECT * FROM _mast_jobs WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT ?', [status, limit]);
  return rows.map(toJob);
}

/** Deletes finished jobs last updated before `before`. */
export async function pruneJobs(conn: PgConnection, before: number): Promise<number> {
  return await conn.run("DELETE FROM _mast_jobs WHERE status IN ('succeeded', 'cancelled', 'dead') AND updated_at < ?", [before]);
}

export async function listCrons(conn: PgConnection): Promise<CronRecord[]> {
  return (await conn.all('SELECT * FROM _mast_cron ORDER BY name')).map((c) => ({ name: String(c['name']), schedule: String(c['schedule']), nextRunAt: Number(c['next_run_at']) }));
}

export async function setCron(conn: PgConnection, record: CronRecord): Promise<void> {
  await conn.run(
    'INSERT INTO _mast_cron (name, schedule, next_run_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET schedule = excluded.schedule, next_run_at = excluded.next_run_at',
    [record.name, record.schedule, record.nextRunAt],
  );
}

/** Compare-and-set of a cron's next run plus the job it fires, in the caller's transaction. */
export async function fireCron(conn: PgConnection, name: string, expected: number, next: number, job: NewJob): Promise<boolean> {
  if ((await conn.run('UPDATE _mast_cron SET next_run_at = ? WHERE name = ? AND next_run_at = ?', [next, name, expected])) === 0) return false;
  await enqueueJob(conn, job);
  return true;
}
