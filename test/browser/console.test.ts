/**
 * The web console (/console) in a real browser against a whole gateway with an admin and a client key:
 * it loads without console errors, the overview counts exactly the requests made, a route edited in the
 * UI changes the dry run and where the next request goes, the playground streams, keys are created and
 * revoked, and a client key sees no admin pages. Screenshots of every page go to artifacts/screenshots/.
 * Needs Chromium at /usr/bin/chromium; builds console/dist first when it is stale.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildIfStale } from '../../console/build-if-stale.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = join(ROOT, 'artifacts/screenshots');
/** The README's picture; written when missing, or on every run with SWITCHBOARD_DOCS_SCREENSHOT=1 (it differs every run). */
const DOCS_SHOT = join(ROOT, 'docs/console.png');
const ADMIN_KEY = 'sk-console-admin-0123456789abcdef';
const CLIENT_KEY = 'sk-console-client-0123456789abcdef';
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };


/** The page's globals these tests use inside page.evaluate (the test file is compiled without the DOM library). */
interface InPage {
  document: { querySelector(selector: string): { textContent: string | null } | null; documentElement: { scrollWidth: number } };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: Record<string, boolean>): void };
  updates: Array<{ text: string; terminal: boolean }>;
}

const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.warn(`test/browser/console.test.ts skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

describe.skipIf(!HAS_CHROMIUM)(`the web console in Chromium${HAS_CHROMIUM ? '' : ` (skipped: no Chromium at ${CHROMIUM})`}`, () => {
  let stack: Stack;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  /** Console errors and uncaught page errors of every page, checked after each test. */
  const errors: string[] = [];

  function watch(p: Page): Page {
    p.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${p.url()}: ${m.text()}`);
    });
    p.on('pageerror', (e) => errors.push(`${p.url()}: uncaught ${e.name}: ${e.message}`));
    return p;
  }

  async function shot(p: Page, name: string): Promise<void> {
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  /** Signs in through the form (a first visit makes no request the gateway refuses, so no console error). */
  async function signIn(p: Page, key: string): Promise<void> {
    await p.goto(`${stack.url}/console/`);
    await p.getByLabel('API key').fill(key);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('navigation', { name: 'Console' }).waitFor();
  }

  async function chat(content: string): Promise<{ provider: string; cost: number }> {
    const r = await stack.post('/v1/chat/completions', { model: 'default', messages: [{ role: 'user', content }] }, { authorization: `Bearer ${ADMIN_KEY}` });
    expect(r.status).toBe(200);
    return { provider: r.headers.get('x-switchboard-provider')!, cost: Number(r.headers.get('x-switchboard-cost-usd')) };
  }

  const text = (p: Page, testId: string) => p.getByTestId(testId).first().innerText();

  beforeAll(async () => {
    const build = buildIfStale({ quiet: true });
    expect(build.error, 'console build').toBeUndefined();
    mkdirSync(SHOTS, { recursive: true });
    stack = await startStack((c) => ({
      ...c,
      keys: [
        { key: ADMIN_KEY, name: 'ops', scope: 'admin' },
        { key: CLIENT_KEY, name: 'web', scope: 'client', routes: ['default'], team: 'web' },
      ],
      server: { ...c.server, graphiql: true },
    }));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    admin = await browser.newContext({ viewport: WIDE });
    // Below the test timeout, so a wait that fails names what it waited for.
    admin.setDefaultTimeout(10_000);
    page = watch(await admin.newPage());
  }, 180_000);

  afterEach(() => {
    expect(errors.splice(0), 'console errors and uncaught page errors').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('signs in with an admin key and shows every page in the navigation', async () => {
    await page.goto(`${stack.url}/console/`);
    await page.getByLabel('API key').waitFor();
    await shot(page, 'sign-in');
    await signIn(page, ADMIN_KEY);
    expect(page.url()).toBe(`${stack.url}/console/overview`);
    const nav = page.getByRole('navigation', { name: 'Console' });
    for (const name of ['Overview', 'Completions', 'Routes', 'Keys', 'Playground']) await expect(nav.getByRole('link', { name }).count()).resolves.toBe(1);
    expect(await text(page, 'viewer')).toContain('ops');
    // The key stays for the tab: a reload does not ask again.
    await page.reload();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });

  it('the overview shows exactly the requests made and their cost', async () => {
    const N = 4;
    let cost = 0;
    for (let i = 0; i < N; i++) cost += (await chat(`overview request ${i}`)).cost;
    expect(cost).toBeGreaterThan(0);
    // It refreshes by itself: wait for the count, then compare the cost.
    await page.locator(`[data-testid="total-requests"][data-value="${N}"]`).waitFor();
    expect(await text(page, 'total-requests')).toBe(String(N));
    const shownCost = Number(await page.getByTestId('total-cost').getAttribute('data-value'));
    expect(shownCost).toBeCloseTo(cost, 12);
    expect(await text(page, 'total-cost')).toMatch(/^\$0\.0\d+/);
    expect(Number(await page.getByTestId('total-tokens').getAttribute('data-value'))).toBeGreaterThan(0);
    expect(await text(page, 'total-error-rate')).toBe('0.0%');
    await page.getByLabel('Group by').selectOption('PROVIDER');
    await page.getByTestId('usage-breakdown').waitFor();
    expect(await page.getByTestId('usage-breakdown').innerText()).toContain('sim-openai');
    expect(await page.locator('.chart canvas').count()).toBeGreaterThanOrEqual(6);
    await shot(page, 'overview');
    if (!existsSync(DOCS_SHOT) || process.env.SWITCHBOARD_DOCS_SCREENSHOT === '1') {
      mkdirSync(dirname(DOCS_SHOT), { recursive: true });
      await page.screenshot({ path: DOCS_SHOT });
    }
  });

  it('lists completions, filters them and opens one with its cost and trace id', async () => {
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Completions' }).click();
    const rows = page.getByTestId('completions-table').locator('tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(4);
    await page.getByLabel('Provider').fill('sim-anthropic');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('0 most recent completions matching the filter').waitFor();
    await page.getByLabel('Provider').fill('sim-openai');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('4 most recent completions matching the filter').waitFor();
    await shot(page, 'completions');
    await rows.first().getByRole('link').click();
    await page.getByTestId('completion-detail').waitFor();
    expect(await text(page, 'completion-detail')).toContain('sim-openai');
    expect(await text(page, 'completion-cost')).toMatch(/^\$/);
    expect(await text(page, 'completion-trace')).toContain('tracing off');
  });

  it('editing a route in the UI changes the dry run and the provider of the next request', async () => {
    await page.goto(`${stack.url}/console/routes`);
    await page.getByTestId('route-default').waitFor();
    await shot(page, 'routes');
    await page.getByRole('link', { name: 'Edit default' }).click();
    await page.getByRole('heading', { name: 'Edit route default' }).waitFor();

    /** Runs the dry run and waits for its answer: the first candidate and the route version it explained. */
    const dryRun = async (first: string, version?: number): Promise<number> => {
      await page.getByTestId('dry-run-button').click();
      const shown = async () => `${await page.getByTestId('dry-run-candidate').first().innerText()} v${await page.getByTestId('dry-run-result').getAttribute('data-version')}`;
      if (version === undefined) await expect.poll(() => page.getByTestId('dry-run-candidate').first().innerText(), { timeout: 10_000 }).toBe(first);
      else await expect.poll(shown, { timeout: 10_000 }).toBe(`${first} v${version}`);
      return Number(await page.getByTestId('dry-run-result').getAttribute('data-version'));
    };
    const initial = await dryRun('sim-openai/gpt-4o-mini');

    // A bad weight is refused by the gateway and the message appears next to that field.
    await page.getByLabel('Weight').first().fill('-1');
    await page.getByTestId('save-route').click();
    const weightError = page.getByTestId('error-targets[0].weight');
    await weightError.waitFor();
    expect(await page.getByLabel('Weight').first().getAttribute('aria-invalid')).toBe('true');
    await shot(page, 'route-editor-error');
    await page.getByLabel('Weight').first().fill('1');

    // The dry run explains the edit before it is saved (as the version saving would make); requests keep the
    // saved route until then.
    await page.getByRole('button', { name: 'Move target 1 down' }).click();
    await dryRun('sim-anthropic/claude-haiku-4-5', initial);
    await shot(page, 'route-editor');
    expect((await chat('before saving')).provider).toBe('sim-openai');
    await page.getByTestId('save-route').click();
    const saved = page.getByText(/^Saved default: now version \d+\.$/);
    await saved.waitFor();
    const version = Number(/version (\d+)/.exec(await saved.innerText())![1]);
    expect(version).toBeGreaterThanOrEqual(initial);
    await dryRun('sim-anthropic/claude-haiku-4-5', version + 1);
    expect((await chat('after the edit')).provider).toBe('sim-anthropic');
  });

  it('creates a key (the secret shown once) and revokes it', async () => {
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Keys' }).click();
    await page.getByLabel('Name').fill('from-console');
    await page.getByLabel(/^Routes/).fill('default');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = await text(page, 'created-secret');
    expect(secret.length).toBeGreaterThan(20);
    // The new key works at once.
    expect((await stack.gql('{ viewer { name scope } }', {}, secret)).data.viewer).toEqual({ name: 'from-console', scope: 'CLIENT' });
    await shot(page, 'keys');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke key from-console' }).click();
    await page.getByText('Revoked from-console.').waitFor();
    await page.getByTestId('keys-table').getByText(/^revoked/).waitFor();
    expect((await stack.gql('{ viewer { name } }', {}, secret)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('the playground shows text as it streams, then the terminal event and the cost', async () => {
    stack.sims.openai.setFaults({ chunkDelayMs: 40, replyWords: 30 });
    try {
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Playground' }).click();
      await page.getByLabel('a model (no routing)').check();
      await page.getByLabel('Model', { exact: true }).selectOption('sim-openai/gpt-4o-mini');
      // Every change of the answer's text, and whether the terminal event was on the page at that moment.
      await page.evaluate(() => {
        const w = globalThis as unknown as InPage;
        w.updates = [];
        const out = w.document.querySelector('[data-testid="playground-output"]')!;
        new w.MutationObserver(() => {
          w.updates.push({ text: out.textContent ?? '', terminal: w.document.querySelector('[data-testid="playground-terminal"]') !== null });
        }).observe(out, { childList: true, characterData: true, subtree: true });
      });
      await page.getByTestId('playground-send').click();
      await page.getByTestId('playground-cost').waitFor();
      const updates = await page.evaluate(() => (globalThis as unknown as InPage).updates);
      const before = new Set(updates.filter((u) => !u.terminal && u.text !== '').map((u) => u.text));
      expect(before.size).toBeGreaterThanOrEqual(3);
      expect(await page.getByTestId('playground-terminal').getAttribute('data-type')).toBe('done');
      expect(Number(await page.getByTestId('playground-cost').getAttribute('data-value'))).toBeGreaterThan(0);
      const events = await page.getByTestId('playground-events').locator('li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind')));
      expect(events[0]).toBe('start');
      expect(events.at(-1)).toBe('done');
      expect((await text(page, 'playground-output')).split(/\s+/).length).toBeGreaterThanOrEqual(30);
      await shot(page, 'playground');
    } finally {
      stack.sims.openai.setFaults({});
    }
  });

  it('a fallback shows as a switch event in the playground and as the attempts of the completion', async () => {
    // The route's first target (anthropic since the edit above) fails before any token: the next one takes over.
    stack.sims.anthropic.setFaults({ status: 503 });
    try {
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Playground' }).click();
      await page.getByLabel('a route').check();
      await page.getByLabel('Route', { exact: true }).selectOption('default');
      await page.getByTestId('playground-send').click();
      await page.getByTestId('playground-cost').waitFor();
      const events = await page.getByTestId('playground-events').locator('li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind')));
      expect(events).toContain('switch');
      expect(await page.getByTestId('playground-events').locator('li[data-kind="switch"]').innerText()).toContain('claude-haiku-4-5');
      await shot(page, 'playground-switch');
      await page.getByTestId('playground-terminal').getByRole('link').click();
      const attempts = page.getByTestId('attempts-table').locator('tbody tr');
      await attempts.first().waitFor();
      expect(await attempts.count()).toBe(2);
      expect(await attempts.nth(0).innerText()).toMatch(/sim-anthropic\/claude-haiku-4-5\s+error\s+OVERLOADED\s/);
      expect(await attempts.nth(1).innerText()).toMatch(/sim-openai\/gpt-4o-mini\s+ok/);
      expect(await text(page, 'completion-detail')).toContain('sim-openai');
      await shot(page, 'completion-detail');
    } finally {
      stack.sims.anthropic.setFaults({});
    }
  });

  it('is usable at 390 px: no page is wider than the screen', async () => {
    // The same tab: the key lives in its sessionStorage.
    await page.setViewportSize(NARROW);
    try {
      for (const path of ['overview', 'completions', 'routes', 'routes/default/edit', 'keys', 'playground']) {
        await page.goto(`${stack.url}/console/${path}`);
        await page.locator('main h1').first().waitFor();
        const width = await page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.scrollWidth);
        expect(width, path).toBeLessThanOrEqual(NARROW.width);
        await shot(page, `mobile-${path.replaceAll('/', '-')}`);
      }
    } finally {
      await page.setViewportSize(WIDE);
    }
  });

  it('a client key sees no admin pages', async () => {
    const ctx = await browser.newContext({ viewport: WIDE });
    try {
      const p = watch(await ctx.newPage());
      await signIn(p, CLIENT_KEY);
      const nav = p.getByRole('navigation', { name: 'Console' });
      expect(await nav.getByRole('link').allInnerTexts()).toEqual(['Overview', 'Completions', 'Routes', 'Playground']);
      for (const path of ['keys', 'routes/default/edit', 'routes/new']) {
        await p.goto(`${stack.url}/console/${path}`);
        await p.getByTestId('admin-only').waitFor();
        expect(await p.getByRole('heading', { level: 1 }).innerText()).toBe('Admin only');
      }
      await shot(p, 'client-admin-only');
      await p.goto(`${stack.url}/console/routes`);
      await p.getByTestId('route-default').waitFor();
      expect(await p.getByRole('link', { name: /^Edit/ }).count()).toBe(0);
      // Its overview counts only its own requests (none).
      await p.goto(`${stack.url}/console/overview`);
      await p.locator('[data-testid="total-requests"][data-value="0"]').waitFor();
      await shot(p, 'client-overview');
    } finally {
      await ctx.close();
    }
  });

  it('in local mode there is no sign-in: every page, as the local admin', async () => {
    const local = await startStack();
    const ctx = await browser.newContext({ viewport: WIDE });
    try {
      const p = watch(await ctx.newPage());
      await p.goto(`${local.url}/console/keys`);
      await p.getByRole('heading', { name: 'API keys' }).waitFor();
      expect(await text(p, 'viewer')).toContain('local mode');
      expect(await p.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
      expect(await p.getByLabel('API key', { exact: true }).count()).toBe(0);
    } finally {
      await ctx.close();
      await local.close();
    }
  });

  it('GraphiQL loads at /graphql for a browser, with the console key of the tab', async () => {
    await page.goto(`${stack.url}/graphql`);
    await page.locator('.graphiql-container').waitFor();
    // Its schema came through with the key (an introspection refused with 401 would be a console error).
    await page.getByRole('button', { name: /Show Documentation Explorer/i }).click();
    await page.getByText('Query', { exact: true }).first().waitFor();
    // Its default query runs with that key.
    await page.getByRole('button', { name: /Execute query/i }).click();
    await page.locator('.result-window').getByText('"ops"').waitFor();
    await shot(page, 'graphiql');
  });
});
