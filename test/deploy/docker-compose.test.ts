import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.ts';

const root = join(import.meta.dirname, '../..');
const load = async (p: string) => parse(await readFile(join(root, p), 'utf8')) as Record<string, any>;

describe('docker-compose.yml', () => {
  it('has the gateway, redis, the simulators, an OpenTelemetry collector and Jaeger, wired by env vars', async () => {
    const compose = await load('docker-compose.yml');
    const services = compose.services as Record<string, any>;
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['switchboard', 'redis', 'otel-collector', 'jaeger', 'sim-openai', 'sim-anthropic', 'sim-gemini', 'sim-ollama']));
    const gw = services.switchboard;
    expect(gw.build).toBe('.');
    expect(gw.environment.REDIS_URL).toBe('redis://redis:6379');
    expect(gw.environment.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector:4318');
    expect(gw.environment.HOST).toBe('0.0.0.0');
    expect(Object.keys(gw.depends_on)).toEqual(expect.arrayContaining(['redis', 'otel-collector']));
    // Three replicas, reached only through the load balancer.
    expect(gw.deploy.replicas).toBe(3);
    expect(gw.ports).toBeUndefined();
    // Each simulator URL the gateway is given points at a simulator service listening on that port.
    for (const p of ['openai', 'anthropic', 'gemini', 'ollama']) {
      const url = new URL(gw.environment[`SIM_${p.toUpperCase()}_URL`]);
      const sim = services[`sim-${p}`];
      expect(url.hostname).toBe(`sim-${p}`);
      expect(sim.command).toEqual(expect.arrayContaining(['simulate', '--protocol', p, '--port', url.port]));
    }
    // The config file mounted into the gateway is valid with the env the compose file provides.
    const mount = (gw.volumes as string[]).find((v) => v.endsWith(':/etc/switchboard/config.yaml:ro'))!;
    expect(gw.environment.SWITCHBOARD_CONFIG).toBe('/etc/switchboard/config.yaml');
    const env = { ...gw.environment, SWITCHBOARD_ADMIN_KEY: 'sk-admin-0123456789abcdef' };
    const config = parseConfig(await load(mount.split(':')[0]!.replace(/^\.\//, '')), env);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.keys).toHaveLength(1);
  });

  it('a load balancer in front of the replicas: round robin over the service name, streams unbuffered, WebSockets upgraded', async () => {
    const compose = await load('docker-compose.yml');
    const lb = compose.services.lb;
    expect(lb.ports).toEqual(['4000:4000']);
    expect(lb.depends_on.switchboard.condition).toBe('service_healthy');
    const mount = (lb.volumes as string[])[0]!.split(':');
    expect(mount[1]).toBe('/etc/nginx/nginx.conf');
    const conf = await readFile(join(root, mount[0]!), 'utf8');
    expect(conf).toMatch(/server switchboard:4000 resolve;/);
    expect(conf).toMatch(/proxy_pass http:\/\/switchboard;/);
    expect(conf).toMatch(/proxy_buffering off;/);
    expect(conf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(conf).toMatch(/listen 4000;/);
  });

  it('the collector receives OTLP/HTTP where the gateway sends it and exports to Jaeger', async () => {
    const compose = await load('docker-compose.yml');
    const collector = await load('deploy/otel-collector.yaml');
    expect(collector.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    expect(collector.exporters['otlp/jaeger'].endpoint).toBe('jaeger:4317');
    expect(collector.service.pipelines.traces.exporters).toContain('otlp/jaeger');
    expect(compose.services.jaeger.environment.COLLECTOR_OTLP_ENABLED).toBe('true');
  });

  it('the Dockerfile builds to dist/ and runs the build on Node 24, with the SDL beside it', async () => {
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM node:24\S*/gm)).toHaveLength(2);
    expect(dockerfile).toContain('RUN npm run build');
    expect(dockerfile).toContain('COPY --from=build /app/dist ./dist');
    expect(dockerfile).toContain('COPY schema ./schema');
    expect(dockerfile).toContain('CMD ["node", "--max-semi-space-size=8", "--min-semi-space-size=8", "--heap-growing-percent=50", "--no-efficiency-mode", "dist/gateway/cli.js", "start"]');
    const compose = await load('docker-compose.yml');
    for (const p of ['openai', 'anthropic', 'gemini', 'ollama']) expect(compose.services[`sim-${p}`].command.slice(0, 3)).toEqual(['node', 'dist/gateway/cli.js', 'simulate']);
  });

  it('every launcher of the gateway passes the same Node flags and environment (the benchmark and chaos suite read them from start:dist)', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const flags = '--max-semi-space-size=8 --min-semi-space-size=8 --heap-growing-percent=50 --no-efficiency-mode';
    const env = 'MALLOC_MMAP_THRESHOLD_=32768';
    expect(pkg.scripts['start:dist']).toBe(`${env} node ${flags} dist/gateway/cli.js start`);
    expect(pkg.scripts.start).toBe(`${env} node ${flags} src/cli.ts start`);
    expect((await readFile(join(root, 'bin/switchboard.js'), 'utf8')).split('\n')[0]).toBe(`#!/usr/bin/env -S ${env} node ${flags}`);
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)![1]!;
    expect(JSON.parse(cmd)).toEqual(['node', ...flags.split(' '), 'dist/gateway/cli.js', 'start']);
    // The image's ENV reaches every process in it (node:cluster workers too); compose and Kubernetes keep the image's command.
    expect(dockerfile.split('\n')).toContain(`ENV ${env}`);
    expect((await load('docker-compose.yml')).services.switchboard.command).toBeUndefined();
    const { LAUNCHER_ENV, LAUNCHER_FLAGS } = await import('../../bench/lib/servers.ts');
    expect(LAUNCHER_FLAGS).toEqual(flags.split(' '));
    expect(LAUNCHER_ENV).toEqual({ MALLOC_MMAP_THRESHOLD_: '32768' });
  });
});
