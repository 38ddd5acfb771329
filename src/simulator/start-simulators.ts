import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIM_PROTOCOLS, type SimProtocol } from './protocol.ts';
import { startSimulator, type Simulator } from './simulator-server.ts';
import { saveServiceAccount } from './vertex-auth.ts';

export interface SimulatorSet {
  sims: Record<SimProtocol, Simulator>;
  /** What the out-of-the-box config needs (its SimulatorUrls): each simulator's URL and the Vertex simulator's service-account file. */
  urls: Record<SimProtocol, string> & { vertexKeyFile: string };
  close(): Promise<void>;
}

/**
 * Every protocol's simulator on loopback, for the out-of-the-box start and the tests. The Vertex simulator signs
 * its tokens with a key of its own: its service account is written to a private temp file for the gateway's
 * `credentials.keyFile`, and removed on close.
 */
export async function startSimulators(host = '127.0.0.1'): Promise<SimulatorSet> {
  const sims = {} as Record<SimProtocol, Simulator>;
  await Promise.all(SIM_PROTOCOLS.map(async (p) => (sims[p] = await startSimulator({ protocol: p, host, port: 0 }))));
  const keyFile = join(tmpdir(), `switchboard-sim-vertex-${process.pid}-${sims.vertex.port}.json`);
  await saveServiceAccount(sims.vertex.url, keyFile);
  const urls = { ...(Object.fromEntries(SIM_PROTOCOLS.map((p) => [p, sims[p].url])) as Record<SimProtocol, string>), vertexKeyFile: keyFile };
  return {
    sims,
    urls,
    async close() {
      await Promise.all([...Object.values(sims).map((s) => s.close()), rm(keyFile, { force: true })]);
    },
  };
}
