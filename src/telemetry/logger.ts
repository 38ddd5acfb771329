import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs (pino). Anything that could hold a secret is redacted by path, so a careless
 * `log.info({ req })` cannot write an Authorization header or a provider key.
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'switchboard' },
      redact: {
        paths: [
          'authorization',
          '*.authorization',
          'headers.authorization',
          '*.headers.authorization',
          'headers["x-api-key"]',
          'headers["api-key"]',
          'headers["x-goog-api-key"]',
          'apiKey',
          '*.apiKey',
          'providers[*].apiKey',
          'key',
          'keys[*].key',
        ],
        censor: '[redacted]',
      },
    },
    (opts.destination as pino.DestinationStream | undefined) ?? pino.destination({ sync: false }),
  );
}
