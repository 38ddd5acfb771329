/**
 * The Kubernetes manifests in deploy/kubernetes/, each document validated against the Kubernetes OpenAPI schemas
 * (kubernetes-models), and checked for what running the gateway needs: probes on /readyz and /healthz, a grace
 * period longer than the gateway's own, a disruption budget and an autoscaler over the Deployment, and a config
 * that the gateway accepts with the Secret's variables.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { parseConfig } from '../../src/config/index.ts';

const dir = join(import.meta.dirname, '../../deploy/kubernetes');
type Doc = Record<string, any>;

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

async function manifests(): Promise<Doc[]> {
  const kustomization = parseAllDocuments(await readFile(join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
  const docs: Doc[] = [];
  for (const file of kustomization.resources) {
    for (const d of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) docs.push(d.toJS() as Doc);
  }
  return docs;
}
const byKind = (docs: Doc[], kind: string) => docs.filter((d) => d.kind === kind);

describe('deploy/kubernetes', () => {
  it('every document is valid against the Kubernetes schemas', async () => {
    const docs = await manifests();
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service']);
    for (const d of docs) {
      const Model = MODELS[`${d.apiVersion}/${d.kind}`];
      expect(Model, `${d.apiVersion} ${d.kind}`).toBeDefined();
      expect(() => new Model!(d).validate(), `${d.kind} ${d.metadata?.name}`).not.toThrow();
    }
  });

  it('the validator does reject a broken manifest (so the test above can fail)', async () => {
    const deployment = structuredClone(byKind(await manifests(), 'Deployment')[0]!);
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new Deployment(deployment).validate()).toThrow(/containerPort/);
  });

  it('the Deployment probes /readyz and /healthz, drains longer than the gateway, and reads config and secrets', async () => {
    const docs = await manifests();
    const deployment = byKind(docs, 'Deployment')[0]!;
    const pod = deployment.spec.template.spec;
    const c = pod.containers[0];
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(3);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    const port = c.ports.find((p: Doc) => p.name === c.readinessProbe.httpGet.port);
    expect(port.containerPort).toBe(4000);
    const configMap = byKind(docs, 'ConfigMap')[0]!;
    const secret = byKind(docs, 'Secret')[0]!;
    expect(pod.volumes.find((v: Doc) => v.configMap)?.configMap.name).toBe(configMap.metadata.name);
    expect(c.envFrom[0].secretRef.name).toBe(secret.metadata.name);
    const mount = c.volumeMounts.find((m: Doc) => m.name === 'config').mountPath;
    expect(c.env.find((e: Doc) => e.name === 'SWITCHBOARD_CONFIG').value).toBe(`${mount}/config.yaml`);
    // The image's command and its ENV (Node flags, glibc's mmap threshold) stay as the Dockerfile sets them.
    expect(c.command).toBeUndefined();
    expect(c.args).toBeUndefined();
    expect(c.env.map((e: Doc) => e.name)).not.toContain('MALLOC_MMAP_THRESHOLD_');

    const env = { ...secret.stringData } as Record<string, string>;
    const config = parseConfig(parseAllDocuments(configMap.data['config.yaml'])[0]!.toJS(), env);
    expect(config.server.port).toBe(4000);
    expect(config.store.kind).toBe('redis');
    // Open streams get the gateway's grace period before the kubelet's kill.
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.server.shutdownGraceMs + (c.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000);
  });

  it('the PDB and HPA cover the Deployment; the Service selects its pods', async () => {
    const docs = await manifests();
    const deployment = byKind(docs, 'Deployment')[0]!;
    const labels = deployment.spec.template.metadata.labels;
    const pdb = byKind(docs, 'PodDisruptionBudget')[0]!;
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
    const hpa = byKind(docs, 'HorizontalPodAutoscaler')[0]!;
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThan(pdb.spec.minAvailable);
    const service = byKind(docs, 'Service')[0]!;
    for (const [k, v] of Object.entries(service.spec.selector)) expect(labels[k]).toBe(v);
  });
});
