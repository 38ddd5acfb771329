import type { Bench } from '../lib/phases.ts';

/** One scenario of `npm run bench`: measures against the run's servers and adds rows to `b.rows`. */
export interface Scenario {
  /** The name `--scenarios` takes. */
  readonly name: string;
  run(b: Bench): Promise<void>;
}
