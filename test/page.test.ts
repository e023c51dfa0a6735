// The search page at / in a real headless Chromium (Debian's, driven by playwright-core) against a
// real server: type a query, see the hit; ask for a context window; keyboard only. A screenshot
// of each state is kept in test-output/ for review.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { Searcher } from '../server/search.js';
import { ContextBuilder } from '../server/context/build.js';
import { buildApp } from '../server/http/app.js';
import { cleanupTempDirs, indexedFixture, REPO_ROOT } from './helpers.js';

// chromium comes from Debian (.ci/run installs it); a machine without it skips these.
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p) && spawnSync(p, ['--version']).status === 0);
const SHOTS = path.join(REPO_ROOT, 'test-output');

describe.runIf(CHROMIUM || process.env.CI)('search page in headless Chromium', () => {
  let searcher: Searcher;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    const { root, db } = await indexedFixture('shop');
    searcher = await Searcher.open(db, { resident: true });
    // With a token: the page loads without it and its calls send the one typed in.
    app = await buildApp({ searcher, builder: await ContextBuilder.create(searcher), root, token: 'page-secret' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    fs.mkdirSync(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    searcher?.close();
    cleanupTempDirs();
  });

  it('finds a definition from the query box and shows a context window, by keyboard alone', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(base);
      expect(await page.title()).toBe('codesearch');
      await page.locator('details summary').click();
      await page.fill('#token', 'page-secret');
      await page.dispatchEvent('#token', 'change');

      await page.locator('h1').click(); // out of the token field: `/` is typed there
      await page.keyboard.press('/');
      await page.keyboard.type('total price of a cart');
      await page.keyboard.press('Enter');
      const first = page.locator('.hit').first();
      await first.waitFor();
      // The definition and its declaration are one result (either may be the one shown).
      expect((await page.locator('.hit .where').allTextContents()).some((w) => /^src\/cart\.mli?:(11|16)$/.test(w))).toBe(true);
      expect(await page.locator('.hit b').allTextContents()).toContain('Shop.Cart.total');
      // The snippet is highlighted code: `let` is a keyword span.
      expect(await page.locator('.hit .kw', { hasText: 'let' }).count()).toBeGreaterThan(0);
      await page.keyboard.press('ArrowDown');
      expect(await page.evaluate(() => document.activeElement?.classList.contains('hit'))).toBe(true);
      await page.screenshot({ path: path.join(SHOTS, 'page-search.png'), fullPage: true });

      await page.focus('#prompt');
      await page.keyboard.type('add a discount argument to Cart.total');
      await page.keyboard.press('Control+Enter');
      await page.locator('.item').first().waitFor();
      expect(await page.textContent('#context-status')).toMatch(/\d+ items, \d+ of 8000 tokens \(hybrid-graph\)/);
      expect(await page.locator('.item .where').allTextContents()).toContain('src/cart.ml:11-11');
      await page.screenshot({ path: path.join(SHOTS, 'page-context.png'), fullPage: true });
    } finally {
      await page.close();
    }
  }, 60_000);

  it('says why when the API refuses: a wrong token', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(base);
      await page.evaluate(() => localStorage.setItem('codesearch-token', 'wrong'));
      await page.reload();
      await page.fill('#query', 'Cart.total');
      await page.press('#query', 'Enter');
      await expect.poll(() => page.textContent('#status')).toMatch(/^error: /);
    } finally {
      await page.close();
    }
  }, 60_000);
});
