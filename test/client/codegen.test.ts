import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { expect, it } from 'vitest';
import codegenConfig from '../../codegen.ts';

const ROOT = join(import.meta.dirname, '../..');
const COMMITTED = 'src/client/generated.ts';

it('src/client/generated.ts is what `npm run codegen` makes from schema/ and the operations', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-codegen-'));
  try {
    const out = join(dir, 'generated.ts');
    const target = codegenConfig.generates[COMMITTED];
    expect(target, `codegen.ts must generate ${COMMITTED}`).toBeDefined();
    await generate({ ...codegenConfig, cwd: ROOT, generates: { [out]: target! } }, true);
    const fresh = await readFile(out, 'utf8');
    const committed = await readFile(join(ROOT, COMMITTED), 'utf8');
    expect(fresh.length).toBeGreaterThan(0);
    if (committed !== fresh) {
      expect.fail(`${COMMITTED} is stale: run \`npm run codegen\` (schema/*.graphql or src/client/operations.ts changed)`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
