/**
 * The README's import table ("Architecture": `| folder | holds | may import |`) is what lint enforces: for
 * every folder in it, an import of each of our folders is linted from a file inside that folder, and lint
 * must refuse exactly what the table does not allow (type-only imports where the table says "(types)").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const RULE = '@typescript-eslint/no-restricted-imports';

/** A file of each folder that other folders would import. */
const TARGETS: Record<string, string> = {
  core: 'src/core/index.ts',
  config: 'src/config/index.ts',
  providers: 'src/providers/registry.ts',
  router: 'src/router/route-table.ts',
  gateway: 'src/gateway/gateway-service.ts',
  store: 'src/store/store.ts',
  usage: 'src/usage/pricing.ts',
  telemetry: 'src/telemetry/logger.ts',
  server: 'src/server/http-server.ts',
  simulator: 'src/simulator/reply.ts',
  resolvers: 'resolvers/index.ts',
  client: 'src/client/index.ts',
  governance: 'src/governance/quota-book.ts',
  app: 'src/app.ts',
};

interface Row {
  /** `src/core`, `resolvers`, … */
  folder: string;
  /** Folder name → undefined (any import), 'types' (type-only), or the only files of it allowed. */
  may: Map<string, undefined | 'types' | string[]>;
}

/** The table's rows that name a folder, with their "may import" cell read as `name`, `name (types)` or `name (a.ts, b.ts)`. */
function readTable(): Row[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('| folder | holds | may import |');
  expect(start, 'README has the import table').toBeGreaterThan(0);
  const rows: Row[] = [];
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    const folder = cells[1]!.match(/^`((?:src\/)?[a-z]+)\/`/)?.[1];
    if (!folder) continue; // the composition root's row: it may import everything
    const may = new Map<string, undefined | 'types' | string[]>();
    const allowed = cells[3]!.split(';')[0]!;
    if (!allowed.trim().startsWith('nothing of ours')) {
      for (const m of allowed.matchAll(/([a-z]+)(?: \(([^)]*)\))?/g)) {
        const detail = m[2];
        may.set(m[1]!, detail === undefined ? undefined : detail === 'types' ? 'types' : detail.split(',').map((s) => s.trim()));
      }
    }
    rows.push({ folder, may });
  }
  return rows;
}

const rows = readTable();
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

function specifier(from: string, to: string): string {
  const rel = relative(dirname(from), to);
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** The messages of the import rule for a one-line file at `filePath`. */
async function importProblems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath: join(ROOT, filePath) });
  return result!.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

describe('the README import table is enforced by lint', () => {
  it('lists every folder of src/ and resolvers/', () => {
    // Read from disk, so a new folder without a row fails here.
    const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `src/${d.name}`);
    expect(rows.map((r) => r.folder).sort()).toEqual(['resolvers', ...folders].sort());
  });

  for (const row of rows) {
    const own = row.folder.replace(/^src\//, '');
    const probe = `${row.folder}/lint-probe.ts`;
    it(`${row.folder}/: refuses what the table does not allow, accepts what it does`, async () => {
      for (const [name, target] of Object.entries(TARGETS)) {
        if (name === own) continue;
        const rule = row.may.get(name);
        const allowedFile = (file: string) => row.may.has(name) && (rule === undefined || rule === 'types' || rule.some((f) => file.endsWith(`/${f}`)));
        const spec = specifier(probe, target);
        const value = await importProblems(probe, `import { x } from '${spec}';\nvoid x;`);
        const type = await importProblems(probe, `import type { X } from '${spec}';\nexport type Y = X;`);
        expect(value.length === 0, `${probe}: import { x } from '${spec}'`).toBe(allowedFile(target) && rule !== 'types');
        expect(type.length === 0, `${probe}: import type { X } from '${spec}'`).toBe(allowedFile(target));
        if (value.length) expect(value[0]).toContain(`${row.folder}/ may import`);
      }
    });
  }

  it('a deliberate violation fails lint: src/core importing the HTTP server', async () => {
    const problems = await importProblems('src/core/lint-probe.ts', "import '../server/http-server.ts';");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/src\/core\/ may import nothing of ours/);
  });

  it('a folder allowed only some files of another is refused the rest: the gateway and a protocol folder', async () => {
    expect(await importProblems('src/gateway/lint-probe.ts', "import { createProviderRegistry } from '../providers/registry.ts';\nvoid createProviderRegistry;")).toEqual([]);
    expect(await importProblems('src/gateway/lint-probe.ts', "import { createOpenAIAdapter } from '../providers/openai/index.ts';\nvoid createOpenAIAdapter;")).toHaveLength(1);
  });

  it('packages the router must not use are refused, at any depth of the path', async () => {
    expect(await importProblems('src/router/lint-probe.ts', "import { Redis } from 'ioredis';\nvoid Redis;")).toHaveLength(1);
    expect(await importProblems('src/server/graphql/lint-probe.ts', "import { x } from '../../store/redis-store.ts';\nvoid x;")).toHaveLength(1);
    expect(await importProblems('src/server/graphql/lint-probe.ts', "import { x } from '../../../resolvers/index.ts';\nvoid x;")).toEqual([]);
  });
});
