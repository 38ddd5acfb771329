#!/usr/bin/env -S node --max-semi-space-size=16
// Runs the TypeScript CLI directly (Node >= 24 strips types natively), with the node flags of
// `npm start` (a 16 MiB young generation: see BENCHMARKS.md).
import "../src/cli.ts";
