import { redactSecrets } from './core/redact-secrets.ts';
import type { Logger } from './telemetry/logger.ts';

/** The part of `process` the guards listen on (tests pass an EventEmitter). */
export interface GuardedProcess {
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  on(event: 'uncaughtException', listener: (error: Error) => void): unknown;
}

export interface ProcessGuardDeps {
  logger: Pick<Logger, 'error'>;
  /** Starts the graceful shutdown (idempotent); the process exits with `exitCode` when it is done. */
  shutdown: (reason: string, exitCode: number) => void;
}

/** What is logged of an error nothing caught: its name, code, message and stack, with credentials masked. */
export function describeFault(e: unknown): Record<string, string> {
  if (!(e instanceof Error)) return { message: redactSecrets(String(e)).slice(0, 1_000) };
  const code = (e as NodeJS.ErrnoException).code;
  return {
    name: e.name,
    ...(typeof code === 'string' && { code }),
    message: redactSecrets(e.message).slice(0, 1_000),
    ...(e.stack && { stack: redactSecrets(e.stack).slice(0, 4_000) }),
  };
}

/**
 * The policy for errors nothing caught, installed once the gateway serves:
 * - an unhandled rejection is a promise whose failure nobody awaited (a background flush, a telemetry
 *   export): it is logged and the process keeps serving, since the requests in flight are unaffected;
 * - an uncaught exception may have left any state half-updated: it is logged and the process shuts down
 *   gracefully (open streams get the grace period), exiting 1 so a supervisor restarts it.
 */
export function installProcessGuards(proc: GuardedProcess, deps: ProcessGuardDeps): void {
  proc.on('unhandledRejection', (reason) => {
    deps.logger.error({ err: describeFault(reason) }, 'unhandled promise rejection; still serving');
  });
  proc.on('uncaughtException', (error) => {
    deps.logger.error({ err: describeFault(error) }, 'uncaught exception; shutting down');
    deps.shutdown('uncaughtException', 1);
  });
}
