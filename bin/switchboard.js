#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=32768 node --max-semi-space-size=8 --min-semi-space-size=8 --heap-growing-percent=50 --no-efficiency-mode
// Runs the TypeScript CLI directly (Node >= 24 strips types natively), with the node flags and the
// environment of `npm start` (a fixed 8 MiB young generation, the old generation's growth capped, V8's
// efficiency mode off, glibc's fixed mmap threshold: see README, Node flags).
import "../src/cli.ts";
