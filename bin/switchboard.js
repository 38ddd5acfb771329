#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=32768 node --max-semi-space-size=16 --min-semi-space-size=16 --no-efficiency-mode
// Runs the TypeScript CLI directly (Node >= 24 strips types natively), with the node flags and the
// environment of `npm start` (a 16 MiB young generation, V8's efficiency mode off, glibc's fixed mmap threshold:
// see README, Node flags).
import "../src/cli.ts";
