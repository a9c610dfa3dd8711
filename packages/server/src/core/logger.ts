import { pino, type Logger } from 'pino';

/**
 * The server's logger: pino at `level`, with every place a secret could appear redacted (the
 * Authorization header, cookies, the admin token, the SMTP URL, the JWT secret).
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.adminToken', '*.smtpUrl', '*.jwtSecret'], censor: '[redacted]' },
  });
}
