/**
 * Test fixtures for the Vertex AI adapter: a Vertex simulator with its service account written to a temporary key
 * file (its `token_uri` is the simulator, which the adapter honours), and a record of what the simulator saw.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimRequest } from '../../src/simulator/protocol.ts';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/simulator-server.ts';
import { saveServiceAccount } from '../../src/simulator/vertex-simulator.ts';
import type { AdapterConfig } from '../../src/providers/spec.ts';
import { SIM_TIMEOUTS } from '../helpers/adapter-cases.ts';

export const PROJECT = 'sim-project';

export interface ServiceAccount {
  type: string;
  client_email: string;
  private_key: string;
  token_uri: string;
}

export interface VertexSim {
  sim: Simulator;
  sa: ServiceAccount;
  keyFile: string;
  /** Every request the simulator received, in order (bodies are filled in once read). */
  requests: SimRequest[];
  /** Requests to the token endpoint so far. */
  tokenRequests(): number;
  /** Model calls so far (everything but the token endpoint and the key file). */
  modelRequests(): SimRequest[];
  /** Writes another key file (e.g. one with a foreign private key) next to the first. */
  writeKeyFile(name: string, sa: ServiceAccount): Promise<string>;
  close(): Promise<void>;
}

export async function startVertexSim(opts: Partial<SimulatorOptions> = {}): Promise<VertexSim> {
  const sim = await startSimulator({ port: 0, ...opts, protocol: 'vertex' });
  const requests: SimRequest[] = [];
  sim.events.on('request', (r: SimRequest) => requests.push(r));
  const dir = await mkdtemp(join(tmpdir(), 'vertex-sim-'));
  const keyFile = join(dir, 'service-account.json');
  await saveServiceAccount(sim.url, keyFile);
  const sa = JSON.parse(await readFile(keyFile, 'utf8')) as ServiceAccount;
  const writeKeyFile = async (name: string, content: ServiceAccount) => {
    const file = join(dir, name);
    await writeFile(file, JSON.stringify(content), { mode: 0o600 });
    return file;
  };
  const isModel = (r: SimRequest) => r.path.includes('/publishers/');
  return {
    sim,
    sa,
    keyFile,
    requests,
    tokenRequests: () => requests.filter((r) => r.path === '/token').length,
    modelRequests: () => requests.filter(isModel),
    writeKeyFile,
    close: async () => {
      await sim.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An adapter config for the simulator: the host as baseUrl (the adapter adds `/v1/projects/…`). */
export function vertexConfig(v: VertexSim, over: Partial<AdapterConfig> = {}): AdapterConfig {
  return {
    id: 'vertex-sim',
    baseUrl: v.sim.url,
    project: PROJECT,
    location: 'us-central1',
    credentials: { type: 'google', keyFile: v.keyFile },
    timeouts: SIM_TIMEOUTS,
    ...over,
  };
}
