/**
 * The one table of Mast's options. It feeds environment parsing, CLI flags and `mast --help`;
 * `docs/configuration.md` is checked against it by a test.
 */

/** How an option's text is turned into a value. */
export type OptionType = 'string' | 'int' | 'bool' | 'bytes' | 'duration';

/** One configurable option. */
export interface OptionSpec {
  readonly key: string;
  readonly env: string;
  readonly flag: string;
  readonly type: OptionType;
  readonly default: string | number | boolean | null;
  readonly description: string;
  /** The only values a string option accepts. */
  readonly choices?: readonly string[];
}

/** Every option, in `--help` order. */
export const OPTIONS = [
  { key: 'port', env: 'MAST_PORT', flag: '--port', type: 'int', default: 4321, description: 'HTTP port (0 picks a free one)' },
  { key: 'host', env: 'MAST_HOST', flag: '--host', type: 'string', default: '0.0.0.0', description: 'address to listen on' },
  { key: 'databaseUrl', env: 'MAST_DATABASE_URL', flag: '--database-url', type: 'string', default: null, description: "database: a SQLite file path or file: URL (default <app>/.mast/mast.db)" },
  { key: 'adminToken', env: 'MAST_ADMIN_TOKEN', flag: '--admin-token', type: 'string', default: null, description: 'bearer token that grants admin access (never logged)' },
  { key: 'dev', env: 'MAST_DEV', flag: '--dev', type: 'bool', default: false, description: 'dev mode: reload on change, open metrics' },
  { key: 'bodyLimit', env: 'MAST_BODY_LIMIT', flag: '--body-limit', type: 'bytes', default: 1_048_576, description: 'largest request body accepted, in bytes (413 above)' },
  { key: 'jsonMaxDepth', env: 'MAST_JSON_MAX_DEPTH', flag: '--json-max-depth', type: 'int', default: 64, description: 'deepest nesting of arrays and objects accepted in any JSON input: bodies, socket frames, json fields, presence, filters, function arguments (JSON_TOO_DEEP above)' },
  { key: 'jsonMaxNodes', env: 'MAST_JSON_MAX_NODES', flag: '--json-max-nodes', type: 'int', default: 100_000, description: 'most values (scalars, arrays, objects and keys) accepted in one JSON input (JSON_TOO_DEEP above)' },
  { key: 'filterMaxTerms', env: 'MAST_FILTER_MAX_TERMS', flag: '--filter-max-terms', type: 'int', default: 256, description: 'most conditions and $and/$or/$not operators in one filter (INVALID_QUERY above; SQLite refuses expressions nested past 1000)' },
  { key: 'maxLimit', env: 'MAST_MAX_LIMIT', flag: '--max-limit', type: 'int', default: 1000, description: 'largest page size a list or query may ask for' },
  { key: 'defaultLimit', env: 'MAST_DEFAULT_LIMIT', flag: '--default-limit', type: 'int', default: 100, description: 'page size of a list or query that gives no limit' },
  { key: 'batchMaxOps', env: 'MAST_BATCH_MAX_OPS', flag: '--batch-max-ops', type: 'int', default: 500, description: 'most operations in one batch, transact or sync push' },
  { key: 'changeRetention', env: 'MAST_CHANGE_RETENTION', flag: '--change-retention', type: 'duration', default: 7 * 24 * 3600 * 1000, description: 'how long change-log entries are kept (e.g. 7d, 12h)' },
  { key: 'changeMaxEntries', env: 'MAST_CHANGE_MAX_ENTRIES', flag: '--change-max-entries', type: 'int', default: 1_000_000, description: 'most change-log entries kept' },
  { key: 'shutdownGrace', env: 'MAST_SHUTDOWN_GRACE', flag: '--shutdown-grace', type: 'duration', default: 10_000, description: 'how long SIGTERM waits for requests in flight' },
  { key: 'supervise', env: 'MAST_SUPERVISE', flag: '--supervise', type: 'bool', default: true, description: 'mast start runs the server in a child process and restarts it after a crash or a watchdog kill, with backoff (false: one process, for a supervisor of your own)' },
  { key: 'restartLimit', env: 'MAST_RESTART_LIMIT', flag: '--restart-limit', type: 'int', default: 5, description: 'crashes within the restart window after which the supervisor gives up and exits with code 1' },
  { key: 'restartWindow', env: 'MAST_RESTART_WINDOW', flag: '--restart-window', type: 'duration', default: 60_000, description: 'the window in which restartLimit crashes count as a crash loop' },
  { key: 'allowDestructive', env: 'MAST_ALLOW_DESTRUCTIVE', flag: '--allow-destructive', type: 'bool', default: false, description: 'let migrations drop columns/tables or change types' },
  { key: 'rateLimit', env: 'MAST_RATE_LIMIT', flag: '--rate-limit', type: 'int', default: 12_000, description: 'requests per minute per client address (0 turns it off)' },
  { key: 'maxConnections', env: 'MAST_MAX_CONNECTIONS', flag: '--max-connections', type: 'int', default: 10_000, description: 'open HTTP connections accepted at once' },
  { key: 'trustProxy', env: 'MAST_TRUST_PROXY', flag: '--trust-proxy', type: 'int', default: 0, description: 'proxy hops to trust in X-Forwarded-For for the client address' },
  { key: 'sessionLifetime', env: 'MAST_SESSION_LIFETIME', flag: '--session-lifetime', type: 'duration', default: 30 * 86_400_000, description: 'how long a session token stays valid (e.g. 30d)' },
  { key: 'cookieName', env: 'MAST_COOKIE_NAME', flag: '--cookie-name', type: 'string', default: 'mast_session', description: 'name of the HttpOnly session cookie' },
  { key: 'trustedOrigins', env: 'MAST_TRUSTED_ORIGINS', flag: '--trusted-origins', type: 'string', default: null, description: 'comma-separated origins allowed to make cookie-authenticated writes (besides the server itself)' },
  { key: 'authRateLimit', env: 'MAST_AUTH_RATE_LIMIT', flag: '--auth-rate-limit', type: 'int', default: 60, description: 'requests per minute per client address to the API-key, org and OAuth endpoints, counted in the database (0 turns it off)' },
  { key: 'jwtJwksUrl', env: 'MAST_JWT_JWKS_URL', flag: '--jwt-jwks-url', type: 'string', default: null, description: 'accept bearer JWTs signed by a key of this JWKS (https; http only on loopback)' },
  { key: 'jwtPublicKey', env: 'MAST_JWT_PUBLIC_KEY', flag: '--jwt-public-key', type: 'string', default: null, description: 'accept bearer JWTs signed by this PEM public key (instead of a JWKS)' },
  { key: 'jwtSecret', env: 'MAST_JWT_SECRET', flag: '--jwt-secret', type: 'string', default: null, description: 'accept bearer JWTs signed (HS256/384/512) with this shared secret, at least 32 bytes (never logged)' },
  { key: 'jwtIssuer', env: 'MAST_JWT_ISSUER', flag: '--jwt-issuer', type: 'string', default: null, description: 'required iss of accepted JWTs (required when a JWT key is set)' },
  { key: 'jwtAudience', env: 'MAST_JWT_AUDIENCE', flag: '--jwt-audience', type: 'string', default: null, description: 'required aud of accepted JWTs (unchecked when unset)' },
  { key: 'jwtAlgorithms', env: 'MAST_JWT_ALGORITHMS', flag: '--jwt-algorithms', type: 'string', default: null, description: 'comma-separated JWT algorithms accepted (default: HS256/384/512 for a secret, RS/PS/ES/EdDSA for keys; never none)' },
  { key: 'jwtClockSkew', env: 'MAST_JWT_CLOCK_SKEW', flag: '--jwt-clock-skew', type: 'duration', default: 30_000, description: 'clock skew tolerated on JWT exp and nbf' },
  { key: 'jwtClaims', env: 'MAST_JWT_CLAIMS', flag: '--jwt-claims', type: 'string', default: 'userId=sub,roles=roles,tenantId=tenant_id,orgRole=org_role', description: 'which JWT claims become auth.userId, roles, tenantId and orgRole' },
  { key: 'oauthProviders', env: 'MAST_OAUTH_PROVIDERS', flag: '--oauth-providers', type: 'string', default: null, description: 'comma-separated OAuth providers (google, github, or any name with MAST_OAUTH_<NAME>_ISSUER); each reads MAST_OAUTH_<NAME>_CLIENT_ID and _CLIENT_SECRET' },
  { key: 'wsCompatPort', env: 'MAST_WS_COMPAT_PORT', flag: '--ws-compat-port', type: 'bool', default: false, description: "also serve the WebSocket on HTTP port + 1, any path (Pylon's clients)" },
  { key: 'wsMaxFrame', env: 'MAST_WS_MAX_FRAME', flag: '--ws-max-frame', type: 'bytes', default: 1_048_576, description: 'largest WebSocket frame a client may send, in bytes (close 1009 above)' },
  { key: 'wsMessageRate', env: 'MAST_WS_MESSAGE_RATE', flag: '--ws-message-rate', type: 'int', default: 100, description: 'messages per second one socket may send (close 4008 above)' },
  { key: 'wsMaxSocketsPerIp', env: 'MAST_WS_MAX_SOCKETS_PER_IP', flag: '--ws-max-sockets-per-ip', type: 'int', default: 256, description: 'open WebSockets per client address (close 4009 above)' },
  { key: 'wsMaxSocketsPerUser', env: 'MAST_WS_MAX_SOCKETS_PER_USER', flag: '--ws-max-sockets-per-user', type: 'int', default: 64, description: 'open WebSockets per signed-in user, admin excepted (close 4011 above)' },
  { key: 'wsMaxBuffered', env: 'MAST_WS_MAX_BUFFERED', flag: '--ws-max-buffered', type: 'bytes', default: 8_388_608, description: 'unsent bytes a socket or SSE stream may hold before it is closed as a slow consumer (4010)' },
  { key: 'wsPingInterval', env: 'MAST_WS_PING_INTERVAL', flag: '--ws-ping-interval', type: 'duration', default: 30_000, description: 'WebSocket ping and SSE keepalive period; a socket silent for two periods is dropped' },
  { key: 'liveMaxSubscriptions', env: 'MAST_LIVE_MAX_SUBSCRIPTIONS', flag: '--live-max-subscriptions', type: 'int', default: 200, description: 'live subscriptions one socket may hold' },
  { key: 'crdtCacheDocs', env: 'MAST_CRDT_CACHE_DOCS', flag: '--crdt-cache-docs', type: 'int', default: 10_000, description: 'most CRDT row documents kept in memory (least recently used go first; 0 keeps none)' },
  { key: 'crdtCacheBytes', env: 'MAST_CRDT_CACHE_BYTES', flag: '--crdt-cache-bytes', type: 'bytes', default: 268_435_456, description: 'most memory the cached CRDT documents may take, in bytes, estimated at 24 KB plus eight times each snapshot' },
  { key: 'roomMaxPerSocket', env: 'MAST_ROOM_MAX_PER_SOCKET', flag: '--room-max-per-socket', type: 'int', default: 32, description: 'rooms one socket may be a member of (TOO_MANY_ROOMS above)' },
  { key: 'roomMaxMembers', env: 'MAST_ROOM_MAX_MEMBERS', flag: '--room-max-members', type: 'int', default: 1000, description: 'members one room may hold (ROOM_FULL above)' },
  { key: 'roomMaxPresence', env: 'MAST_ROOM_MAX_PRESENCE', flag: '--room-max-presence', type: 'bytes', default: 4096, description: "largest presence state, as JSON bytes (PAYLOAD_TOO_LARGE above)" },
  { key: 'roomMaxMessage', env: 'MAST_ROOM_MAX_MESSAGE', flag: '--room-max-message', type: 'bytes', default: 65_536, description: 'largest broadcast data, as JSON bytes (PAYLOAD_TOO_LARGE above)' },
  { key: 'roomPresenceTtl', env: 'MAST_ROOM_PRESENCE_TTL', flag: '--room-presence-ttl', type: 'duration', default: 60_000, description: 'a member that sends no presence or heartbeat for this long leaves its room (0: never)' },
  { key: 'roomAllowGuests', env: 'MAST_ROOM_ALLOW_GUESTS', flag: '--room-allow-guests', type: 'bool', default: true, description: 'let guest sessions join rooms (anonymous sockets never may)' },
  { key: 'fnTimeout', env: 'MAST_FN_TIMEOUT', flag: '--fn-timeout', type: 'duration', default: 10_000, description: 'how long a query or action function may run before FN_TIMEOUT' },
  { key: 'fnMutationTimeout', env: 'MAST_FN_MUTATION_TIMEOUT', flag: '--fn-mutation-timeout', type: 'duration', default: 5_000, description: 'how long a mutation function may hold the write transaction before FN_TIMEOUT' },
  { key: 'fnIdle', env: 'MAST_FN_IDLE', flag: '--fn-idle', type: 'duration', default: 1_000, description: 'how long a mutation, or a query holding its read snapshot, may await something other than ctx.db (FN_MUTATION_BLOCKED, FN_QUERY_BLOCKED)' },
  { key: 'fnSpinExit', env: 'MAST_FN_SPIN_EXIT', flag: '--fn-spin-exit', type: 'duration', default: 5_000, description: 'how long the event loop may stay blocked while a function call is past its deadline (a handler spinning synchronously) before the process logs that call and exits (0: never)' },
  { key: 'fnIsolation', env: 'MAST_FN_ISOLATION', flag: '--fn-isolation', type: 'string', choices: ['off', 'all'], default: 'off', description: 'which functions run in worker threads: off (only those defined with isolated: true) or all' },
  { key: 'fnWorkers', env: 'MAST_FN_WORKERS', flag: '--fn-workers', type: 'int', default: 4, description: 'the most worker threads of isolated functions, each running one call at a time (at least 1): one starts once a loaded function runs isolated, more only while calls wait, and an extra one idle for 30 s ends' },
  { key: 'fnQueue', env: 'MAST_FN_QUEUE', flag: '--fn-queue', type: 'int', default: 256, description: 'isolated calls that may wait for a free worker, each at most its deadline; more answer FN_OVERLOADED' },
  { key: 'fnRateLimit', env: 'MAST_FN_RATE_LIMIT', flag: '--fn-rate-limit', type: 'int', default: 600, description: 'calls per minute one caller may make to one function over HTTP or the socket (0 turns it off; a function may set its own)' },
  { key: 'fnMaxWatches', env: 'MAST_FN_MAX_WATCHES', flag: '--fn-max-watches', type: 'int', default: 64, description: 'query-function watches (fn-watch) one socket may hold (TOO_MANY_SUBSCRIPTIONS above)' },
  { key: 'jobPoll', env: 'MAST_JOB_POLL', flag: '--job-poll', type: 'duration', default: 1_000, description: 'how often the job worker looks for due jobs and cron runs' },
  { key: 'jobConcurrency', env: 'MAST_JOB_CONCURRENCY', flag: '--job-concurrency', type: 'int', default: 4, description: 'jobs one server runs at once (0 turns the worker off)' },
  { key: 'jobMaxAttempts', env: 'MAST_JOB_MAX_ATTEMPTS', flag: '--job-max-attempts', type: 'int', default: 5, description: 'runs of a failing job before it is dead' },
  { key: 'jobBackoff', env: 'MAST_JOB_BACKOFF', flag: '--job-backoff', type: 'duration', default: 1_000, description: 'delay before the first retry of a failed job; doubles with each attempt, at most 1 h' },
  { key: 'jobLease', env: 'MAST_JOB_LEASE', flag: '--job-lease', type: 'duration', default: 60_000, description: 'how long a claimed job stays leased before another worker may run it again (at least the function deadlines plus 1 s)' },
  { key: 'jobRetention', env: 'MAST_JOB_RETENTION', flag: '--job-retention', type: 'duration', default: 7 * 24 * 3600 * 1000, description: 'how long finished jobs (succeeded, cancelled, dead) are kept for /api/jobs' },
  { key: 'logLevel', env: 'MAST_LOG_LEVEL', flag: '--log-level', type: 'string', default: 'info', description: 'pino log level (fatal..trace, silent)' },
  { key: 'smtpUrl', env: 'MAST_SMTP_URL', flag: '--smtp-url', type: 'string', default: null, description: 'SMTP server for auth emails, e.g. smtps://user:pass@host:465 (never logged); without it dev mode keeps mail in an outbox' },
  { key: 'mailFrom', env: 'MAST_MAIL_FROM', flag: '--mail-from', type: 'string', default: 'Mast <no-reply@localhost>', description: 'From address of auth emails' },
  { key: 'publicUrl', env: 'MAST_PUBLIC_URL', flag: '--public-url', type: 'string', default: null, description: 'public base URL of the app: links in emails (password reset: <url>/reset-password?token=...) and OAuth redirect URIs (default for those: the request\'s own origin)' },
  { key: 'passwordMinLength', env: 'MAST_PASSWORD_MIN_LENGTH', flag: '--password-min-length', type: 'int', default: 8, description: 'fewest characters a password may have (at most 256 bytes always)' },
  { key: 'passwordHashCost', env: 'MAST_PASSWORD_HASH_COST', flag: '--password-hash-cost', type: 'int', default: 15, description: 'scrypt cost of new password hashes, as log2 of N (15: N=32768, r=8, p=1, 32 MiB)' },
  { key: 'magicCodeTtl', env: 'MAST_MAGIC_CODE_TTL', flag: '--magic-code-ttl', type: 'duration', default: 600_000, description: 'how long an emailed sign-in or verification code stays valid' },
  { key: 'codeMaxAttempts', env: 'MAST_CODE_MAX_ATTEMPTS', flag: '--code-max-attempts', type: 'int', default: 5, description: 'wrong guesses that burn an emailed code' },
  { key: 'resetTokenTtl', env: 'MAST_RESET_TOKEN_TTL', flag: '--reset-token-ttl', type: 'duration', default: 1_800_000, description: 'how long a password-reset token stays valid' },
  { key: 'authLoginLimit', env: 'MAST_AUTH_LOGIN_LIMIT', flag: '--auth-login-limit', type: 'int', default: 10, description: 'password sign-ins, registrations and changes per minute per client address (0: off)' },
  { key: 'authLoginAccountLimit', env: 'MAST_AUTH_LOGIN_ACCOUNT_LIMIT', flag: '--auth-login-account-limit', type: 'int', default: 30, description: 'password sign-ins and changes per hour per email or account (0: off)' },
  { key: 'authSendLimit', env: 'MAST_AUTH_SEND_LIMIT', flag: '--auth-send-limit', type: 'int', default: 5, description: 'auth emails (codes, resets) requested per minute per client address (0: off)' },
  { key: 'authSendAccountLimit', env: 'MAST_AUTH_SEND_ACCOUNT_LIMIT', flag: '--auth-send-account-limit', type: 'int', default: 10, description: 'auth emails requested per hour per email address (0: off)' },
  { key: 'authVerifyLimit', env: 'MAST_AUTH_VERIFY_LIMIT', flag: '--auth-verify-limit', type: 'int', default: 30, description: 'code and reset-token checks per minute per client address (0: off)' },
  { key: 'authGuestLimit', env: 'MAST_AUTH_GUEST_LIMIT', flag: '--auth-guest-limit', type: 'int', default: 30, description: 'guest sessions created per minute per client address (0: off)' },
  { key: 'corsOrigin', env: 'MAST_CORS_ORIGIN', flag: '--cors-origin', type: 'string', default: null, description: 'Access-Control-Allow-Origin (default * in dev, none otherwise)' },
] as const satisfies readonly OptionSpec[];

/** Option keys. */
export type OptionKey = (typeof OPTIONS)[number]['key'];
