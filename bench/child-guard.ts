/**
 * Preloaded (`node --import ./bench/child-guard.ts …`) into every process the harness spawns: the harness
 * holds the write end of this process's stdin, so when the harness exits — normally, on error, or killed —
 * stdin ends and this process shuts down (SIGTERM to itself for a graceful stop, which also lets
 * `--cpu-prof` write its profile; a hard exit 5 s later if that stop hangs). No orphans.
 */
const shutdown = (): void => {
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(0), 5_000).unref();
};
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
// Reading stdin must not keep an otherwise finished process alive.
(process.stdin as unknown as { unref?: () => void }).unref?.();
