/**
 * Preloaded into every process the harness spawns (`node --import data:text/javascript,… script`): the
 * harness holds the write end of the child's stdin, so when the harness exits — normally, on error, or
 * killed — stdin ends and the child shuts down (SIGTERM to itself for a graceful stop, which also lets
 * `--cpu-prof` write its profile; a hard exit 5 s later if that stop hangs). No orphans.
 *
 * Plain JavaScript in a data: URL, not a .ts file: the first .ts module a process loads brings in Node's
 * TypeScript stripper, ~18 MiB of RSS that a gateway run from dist/ would otherwise be charged for.
 */
const GUARD = `
const shutdown = () => {
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(0), 5000).unref();
};
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
// Reading stdin must not keep an otherwise finished process alive.
process.stdin.unref?.();
`;

/** The `--import` argument that preloads the guard. */
export const childGuardImport = `data:text/javascript,${encodeURIComponent(GUARD)}`;
