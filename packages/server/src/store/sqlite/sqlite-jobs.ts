import type { CronRecord, JobIdentity, JobOwner, JobRecord, JobStatus, NewJob } from '../store.js';
import type { Cells, SqliteConnection } from './sqlite-connection.js';

/** The job queue and cron state; created with Mast's other internal tables. */
export const JOBS_TABLES = `
CREATE TABLE IF NOT EXISTS _mast_jobs (
  id TEXT PRIMARY KEY NOT NULL,
  fn TEXT NOT NULL,
  args TEXT NOT NULL,
  identity TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  lease_until INTEGER,
  last_error TEXT,
  cron TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_jobs_due ON _mast_jobs (status, run_at);
CREATE INDEX IF NOT EXISTS _mast_jobs_lease ON _mast_jobs (status, lease_until);
CREATE INDEX IF NOT EXISTS _mast_jobs_updated ON _mast_jobs (status, updated_at);
CREATE TABLE IF NOT EXISTS _mast_cron (
  name TEXT PRIMARY KEY NOT NULL,
  schedule TEXT NOT NULL,
  next_run_at INTEGER NOT NULL
);
`;

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
export function enqueueJob(conn: SqliteConnection, job: NewJob): void {
  conn.run(
    `INSERT INTO _mast_jobs (id, fn, args, identity, status, attempts, max_attempts, run_at, lease_until, last_error, cron, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, NULL, NULL, ?, ?, ?)`,
    [job.id, job.fn, JSON.stringify(job.args ?? null), JSON.stringify(job.identity), job.maxAttempts, job.runAt, job.cron, job.createdAt, job.createdAt],
  );
}

/** Pending → cancelled, optionally only for the user who scheduled it. */
export function cancelJob(conn: SqliteConnection, id: string, owner: JobOwner, now: number): boolean {
  const job = getJob(conn, id);
  if (!job || job.status !== 'pending') return false;
  if (owner !== undefined && job.identity.userId !== owner) return false;
  return conn.run("UPDATE _mast_jobs SET status = 'cancelled', updated_at = ? WHERE id = ? AND status = 'pending'", [now, id]) > 0;
}

/** Leases due jobs (inside a write transaction, so two claims never take the same job). */
export function claimJobs(conn: SqliteConnection, now: number, leaseMs: number, limit: number): JobRecord[] {
  const ids = conn
    .all(
      `SELECT id FROM _mast_jobs WHERE (status = 'pending' AND run_at <= ?) OR (status = 'running' AND lease_until <= ?)
       ORDER BY run_at, id LIMIT ?`,
      [now, now, limit],
    )
    .map((c) => String(c['id']));
  return ids.map((id) =>
    toJob(conn.get("UPDATE _mast_jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, updated_at = ? WHERE id = ? RETURNING *", [now + leaseMs, now, id])!),
  );
}

/** Running attempt → succeeded. */
export function completeJob(conn: SqliteConnection, id: string, attempt: number, now: number): boolean {
  return conn.run("UPDATE _mast_jobs SET status = 'succeeded', lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'running' AND attempts = ?", [now, id, attempt]) > 0;
}

/** Running attempt → pending at `retryAt`, or dead. */
export function failJob(conn: SqliteConnection, id: string, attempt: number, error: string, retryAt: number | null, now: number): boolean {
  return (
    conn.run(
      "UPDATE _mast_jobs SET status = ?, run_at = COALESCE(?, run_at), lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ? AND status = 'running' AND attempts = ?",
      [retryAt === null ? 'dead' : 'pending', retryAt, error, now, id, attempt],
    ) > 0
  );
}

/** Dead or cancelled → pending now, attempts reset (the last error is kept until the next run). */
export function retryJob(conn: SqliteConnection, id: string, now: number): boolean {
  return conn.run("UPDATE _mast_jobs SET status = 'pending', attempts = 0, run_at = ?, updated_at = ? WHERE id = ? AND status IN ('dead', 'cancelled')", [now, now, id]) > 0;
}

export function getJob(conn: SqliteConnection, id: string): JobRecord | null {
  const cells = conn.get('SELECT * FROM _mast_jobs WHERE id = ?', [id]);
  return cells ? toJob(cells) : null;
}

export function listJobs(conn: SqliteConnection, status: JobStatus | undefined, limit: number): JobRecord[] {
  const rows =
    status === undefined
      ? conn.all('SELECT * FROM _mast_jobs ORDER BY created_at DESC, id DESC LIMIT ?', [limit])
      : conn.all('SELECT * FROM _mast_jobs WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT ?', [status, limit]);
  return rows.map(toJob);
}

/** Deletes finished jobs last updated before `before`. */
export function pruneJobs(conn: SqliteConnection, before: number): number {
  return conn.run("DELETE FROM _mast_jobs WHERE status IN ('succeeded', 'cancelled', 'dead') AND updated_at < ?", [before]);
}

export function listCrons(conn: SqliteConnection): CronRecord[] {
  return conn.all('SELECT * FROM _mast_cron ORDER BY name').map((c) => ({ name: String(c['name']), schedule: String(c['schedule']), nextRunAt: Number(c['next_run_at']) }));
}

export function setCron(conn: SqliteConnection, record: CronRecord): void {
  conn.run(
    'INSERT INTO _mast_cron (name, schedule, next_run_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET schedule = excluded.schedule, next_run_at = excluded.next_run_at',
    [record.name, record.schedule, record.nextRunAt],
  );
}

/** Compare-and-set of a cron's next run plus the job it fires, in the caller's transaction. */
export function fireCron(conn: SqliteConnection, name: string, expected: number, next: number, job: NewJob): boolean {
  if (conn.run('UPDATE _mast_cron SET next_run_at = ? WHERE name = ? AND next_run_at = ?', [next, name, expected]) === 0) return false;
  enqueueJob(conn, job);
  return true;
}
