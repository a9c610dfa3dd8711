import { errors } from '../errors/index.js';
import { OPTIONS, type OptionSpec, type OptionType } from './options.js';

/** Resolved configuration of one server. */
export interface MastConfig {
  port: number;
  host: string;
  databaseUrl: string | null;
  adminToken: string | null;
  dev: boolean;
  bodyLimit: number;
  jsonMaxDepth: number;
  jsonMaxNodes: number;
  filterMaxTerms: number;
  maxLimit: number;
  defaultLimit: number;
  batchMaxOps: number;
  changeRetention: number;
  changeMaxEntries: number;
  shutdownGrace: number;
  /** `mast start` runs the server under a supervisor that restarts it after a crash. */
  supervise: boolean;
  /** Crashes within `restartWindow` (ms) after which the supervisor gives up. */
  restartLimit: number;
  restartWindow: number;
  allowDestructive: boolean;
  rateLimit: number;
  maxConnections: number;
  trustProxy: number;
  sessionLifetime: number;
  cookieName: string;
  trustedOrigins: string | null;
  authRateLimit: number;
  jwtJwksUrl: string | null;
  jwtPublicKey: string | null;
  jwtSecret: string | null;
  jwtIssuer: string | null;
  jwtAudience: string | null;
  jwtAlgorithms: string | null;
  jwtClockSkew: number;
  jwtClaims: string;
  oauthProviders: string | null;
  wsCompatPort: boolean;
  wsMaxFrame: number;
  wsMessageRate: number;
  wsMaxSocketsPerIp: number;
  wsMaxSocketsPerUser: number;
  wsMaxBuffered: number;
  wsPingInterval: number;
  liveMaxSubscriptions: number;
  crdtCacheDocs: number;
  crdtCacheBytes: number;
  roomMaxPerSocket: number;
  roomMaxMembers: number;
  roomMaxPresence: number;
  roomMaxMessage: number;
  roomPresenceTtl: number;
  roomAllowGuests: boolean;
  fnTimeout: number;
  fnMutationTimeout: number;
  fnIdle: number;
  fnSpinExit: number;
  /** `off`: only functions defined with `isolated: true` run in workers; `all`: every function does. */
  fnIsolation: 'off' | 'all';
  fnWorkers: number;
  fnQueue: number;
  fnRateLimit: number;
  fnMaxWatches: number;
  jobPoll: number;
  jobConcurrency: number;
  jobMaxAttempts: number;
  jobBackoff: number;
  jobLease: number;
  jobRetention: number;
  logLevel: string;
  logFormat: 'auto' | 'json' | 'pretty';
  corsOrigin: string | null;
  /** The folder served at `/` (null: `<app>/public`). */
  publicDir: string | null;
  smtpUrl: string | null;
  mailFrom: string;
  publicUrl: string | null;
  passwordMinLength: number;
  passwordHashCost: number;
  magicCodeTtl: number;
  codeMaxAttempts: number;
  resetTokenTtl: number;
  authLoginLimit: number;
  authLoginAccountLimit: number;
  authSendLimit: number;
  authSendAccountLimit: number;
  authVerifyLimit: number;
  authGuestLimit: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Parses one option's text; throws a message naming the option on bad input. */
export function parseOptionValue(spec: OptionSpec, text: string): string | number | boolean {
  const fail = (expected: string): never => {
    throw new Error(`${spec.env} / ${spec.flag}: "${text}" is not ${expected}`);
  };
  const kind: OptionType = spec.type;
  switch (kind) {
    case 'string':
      if (spec.choices !== undefined && !spec.choices.includes(text)) fail(`one of ${spec.choices.join(', ')}`);
      return text;
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off|)$/i.test(text)) return false;
      return fail('a boolean (true/false)');
    case 'int': {
      if (!/^\d+$/.test(text)) fail('a non-negative integer');
      return Number(text);
    }
    case 'duration': {
      const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
      if (!m) return fail('a duration like 500ms, 30s, 12h or 7d');
      return Number(m[1]) * UNITS[m[2] ?? 'ms']!;
    }
    case 'bytes': {
      const m = /^(\d+)(b|kb|mb|gb)?$/i.exec(text.trim());
      if (!m) return fail('a size like 1048576, 512kb or 10mb');
      return Number(m[1]) * BYTE_UNITS[(m[2] ?? 'b').toLowerCase()]!;
    }
  }
}

/**
 * Builds the configuration: defaults, then environment variables, then explicit overrides
 * (CLI flags or a test's options), later ones winning.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<MastConfig> = {}): MastConfig {
  const values: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    values[spec.key] = spec.default;
    const text = env[spec.env];
    if (text !== undefined && text !== '') values[spec.key] = parseOptionValue(spec, text);
  }
  const config = { ...values, ...overrides } as MastConfig;
  if (config.defaultLimit > config.maxLimit) {
    throw errors.defaultLimitOverMax(config.defaultLimit, config.maxLimit);
  }
  if (config.jsonMaxDepth < 1 || config.jsonMaxNodes < 1) throw errors.optionBelowOne('MAST_JSON_MAX_DEPTH and MAST_JSON_MAX_NODES');
  if (config.filterMaxTerms < 1) throw errors.optionBelowOne('MAST_FILTER_MAX_TERMS');
  if (config.fnWorkers < 1) throw errors.optionBelowOne('MAST_FN_WORKERS');
  return config;
}

/** `--help` text generated from the options table. */
export function optionsHelp(): string {
  const rows = OPTIONS.map((o) => {
    const def = o.default === null ? '' : ` (default ${String(o.default)})`;
    return `  ${(o.flag + ' <' + o.type + '>').padEnd(30)} ${o.env.padEnd(24)} ${o.description}${def}`;
  });
  return rows.join('\n');
}
