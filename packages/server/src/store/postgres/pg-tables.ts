import type { PgConnection } from './pg-connection.js';

/** The version of Mast's own tables this build writes; a database marked newer is refused. */
export const STORE_VERSION = 1;

/** The advisory-lock key (in the `classid, objid` form) that serialises DDL between nodes. */
export const DDL_LOCK = [0x6d617374, 1] as const;

const T = 'TEXT COLLATE "C"';
const MS = 'BIGINT';

/**
 * Mast's own tables on PostgreSQL, the same rows as on SQLite. Milliseconds are BIGINT (parsed
 * back to numbers, all below 2^53); JSON kept by Mast itself is text it parses. `_mast_log_head`
 * is the change log's counter: one row whose update numbers each entry (see `pg-changes.ts`).
 */
const TABLES = `
CREATE TABLE IF NOT EXISTS _mast_meta (key ${T} PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS _mast_log_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
INSERT INTO _mast_log_head (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS _mast_changes (
  seq BIGINT PRIMARY KEY,
  entity ${T} NOT NULL,
  row_id ${T} NOT NULL,
  kind ${T} NOT NULL,
  data TEXT,
  before TEXT,
  op_id ${T},
  at ${MS} NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_changes_at ON _mast_changes (at);
CREATE TABLE IF NOT EXISTS _mast_ops (op_id ${T} PRIMARY KEY, fingerprint TEXT NOT NULL, result TEXT, at ${MS} NOT NULL);
CREATE INDEX IF NOT EXISTS _mast_ops_at ON _mast_ops (at);
CREATE TABLE IF NOT EXISTS _mast_sessions (
  token_hash ${T} PRIMARY KEY,
  user_id ${T} NOT NULL,
  is_guest SMALLINT NOT NULL,
  roles TEXT NOT NULL,
  tenant_id ${T},
  created_at ${MS} NOT NULL,
  expires_at ${MS} NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_sessions_user ON _mast_sessions (user_id);
CREATE INDEX IF NOT EXISTS _mast_sessions_expires ON _mast_sessions (expires_at);
CREATE TABLE IF NOT EXISTS _mast_accounts (
  id ${T} PRIMARY KEY,
  email ${T} NOT NULL UNIQUE,
  email_verified_at ${MS},
  password_hash TEXT,
  created_at ${MS} NOT NULL
);
CREATE TABLE IF NOT EXISTS _mast_identities (
  provider ${T} NOT NULL,
  subject ${T} NOT NULL,
  user_id ${T} NOT NULL,
  created_at ${MS} NOT NULL,
  PRIMARY KEY (provider, subject)
);
CREATE INDEX IF NOT EXISTS _mast_identities_user ON _mast_identities (user_id);
CREATE TABLE IF NOT EXISTS _mast_codes (
  purpose ${T} NOT NULL,
  subject ${T} NOT NULL,
  code_hash ${T} NOT NULL,
  attempts INTEGER NOT NULL,
  created_at ${MS} NOT NULL,
  expires_at ${MS} NOT NULL,
  PRIMARY KEY (purpose, subject)
);
CREATE INDEX IF NOT EXISTS _mast_codes_hash ON _mast_codes (purpose, code_hash);
CREATE INDEX IF NOT EXISTS _mast_codes_expires ON _mast_codes (expires_at);
CREATE TABLE IF NOT EXISTS _mast_rate_limits (key ${T} PRIMARY KEY, count INTEGER NOT NULL, reset_at ${MS} NOT NULL);
CREATE INDEX IF NOT EXISTS _mast_rate_limits_reset ON _mast_rate_limits (reset_at);
CREATE TABLE IF NOT EXISTS _mast_api_keys (
  id ${T} PRIMARY KEY,
  user_id ${T} NOT NULL,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  scopes TEXT NOT NULL,
  expires_at ${MS},
  created_at ${MS} NOT NULL,
  last_used_at ${MS}
);
CREATE INDEX IF NOT EXISTS _mast_api_keys_user ON _mast_api_keys (user_id);
CREATE TABLE IF NOT EXISTS _mast_orgs (id ${T} PRIMARY KEY, name TEXT NOT NULL, created_by ${T} NOT NULL, created_at ${MS} NOT NULL);
CREATE TABLE IF NOT EXISTS _mast_org_members (
  org_id ${T} NOT NULL,
  user_id ${T} NOT NULL,
  role ${T} NOT NULL,
  created_at ${MS} NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX IF NOT EXISTS _mast_org_members_user ON _mast_org_members (user_id);
CREATE TABLE IF NOT EXISTS _mast_org_invites (
  id ${T} PRIMARY KEY,
  org_id ${T} NOT NULL,
  token_hash ${T} NOT NULL UNIQUE,
  email ${T},
  role ${T} NOT NULL,
  created_by ${T} NOT NULL,
  created_at ${MS} NOT NULL,
  expires_at ${MS} NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_org_invites_org ON _mast_org_invites (org_id);
CREATE TABLE IF NOT EXISTS _mast_oauth_states (
  state_hash ${T} PRIMARY KEY,
  provider ${T} NOT NULL,
  browser_hash TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  nonce TEXT NOT NULL,
  callback_url TEXT NOT NULL,
  error_callback_url TEXT,
  expires_at ${MS} NOT NULL
);
CREATE TABLE IF NOT EXISTS _mast_jobs (
  id ${T} PRIMARY KEY,
  fn ${T} NOT NULL,
  args TEXT NOT NULL,
  identity TEXT NOT NULL,
  status ${T} NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  run_at ${MS} NOT NULL,
  lease_until ${MS},
  last_error TEXT,
  cron ${T},
  created_at ${MS} NOT NULL,
  updated_at ${MS} NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_jobs_due ON _mast_jobs (status, run_at);
CREATE INDEX IF NOT EXISTS _mast_jobs_lease ON _mast_jobs (status, lease_until);
CREATE INDEX IF NOT EXISTS _mast_jobs_updated ON _mast_jobs (status, updated_at);
CREATE TABLE IF NOT EXISTS _mast_cron (name ${T} PRIMARY KEY, schedule TEXT NOT NULL, next_run_at ${MS} NOT NULL);
CREATE TABLE IF NOT EXISTS _mast_crdt (
  entity ${T} NOT NULL,
  row_id ${T} NOT NULL,
  snapshot BYTEA NOT NULL,
  version BYTEA NOT NULL,
  updated_at ${MS} NOT NULL,
  PRIMARY KEY (entity, row_id)
);
`;

/**
 * Creates Mast's tables when missing, in one transaction under the DDL advisory lock (so nodes
 * starting together do not race on CREATE), and refuses a database whose tables a newer build
 * of Mast wrote.
 */
export async function ensureTables(conn: PgConnection): Promise<void> {
  // The common case, a database already at this version, takes one read and no lock.
  const marked = await conn.get("SELECT to_regclass('_mast_meta') IS NOT NULL AS e");
  if (marked?.['e'] === true) {
    const found = await conn.get("SELECT value FROM _mast_meta WHERE key = 'store_version'");
    if (found && Number(found['value']) === STORE_VERSION) return;
  }
  await conn.exec('BEGIN');
  try {
    await conn.exec('SELECT pg_advisory_xact_lock($1, $2)', [...DDL_LOCK]);
    await conn.exec(TABLES);
    const found = await conn.get("SELECT value FROM _mast_meta WHERE key = 'store_version'");
    const version = found ? Number(found['value']) : 0;
    if (version > STORE_VERSION) {
      throw new Error(`This database was migrated by a newer Mast (store version ${version}; this build knows ${STORE_VERSION}); upgrade Mast`);
    }
    if (version < STORE_VERSION) {
      await conn.run("INSERT INTO _mast_meta (key, value) VALUES ('store_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [String(STORE_VERSION)]);
    }
    await conn.exec('COMMIT');
  } catch (err) {
    await conn.exec('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
