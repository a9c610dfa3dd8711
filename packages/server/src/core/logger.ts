import { pino, type Logger, type LoggerOptions } from 'pino';
import { PinoPretty } from 'pino-pretty';

/** What `createLogger` needs of the configuration. */
export interface LoggerSettings {
  readonly logLevel: string;
  readonly logFormat?: 'auto' | 'json' | 'pretty';
  readonly dev?: boolean;
}

/** True when log lines should be readable text: asked for, or `auto` in dev mode on a terminal. */
export function prettyLogs(settings: LoggerSettings, stdoutIsTty = process.stdout.isTTY === true): boolean {
  const format = settings.logFormat ?? 'auto';
  return format === 'pretty' || (format === 'auto' && settings.dev === true && stdoutIsTty);
}

/**
 * The server's logger: pino at the configured level, with every place a secret could appear
 * redacted (the Authorization header, cookies, the admin token, the SMTP URL, the JWT secret).
 * JSON lines, or readable ones through pino-pretty (`prettyLogs`), written synchronously so a
 * crash loses no line; a message's own line breaks (diagnostics with a caret) stay line breaks;
 * the per-request line shows its message only (its `request` object is in the JSON form).
 * A bare level string is the JSON logger at that level.
 */
export function createLogger(settings: LoggerSettings | string): Logger {
  const s: LoggerSettings = typeof settings === 'string' ? { logLevel: settings, logFormat: 'json' } : settings;
  const options: LoggerOptions = {
    level: s.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.adminToken', '*.smtpUrl', '*.jwtSecret'], censor: '[redacted]' },
  };
  if (!prettyLogs(s)) return pino(options);
  return pino(options, PinoPretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,request' }));
}
