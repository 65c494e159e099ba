/**
 * The explorer end to end: a service on loopback, Debian's headless Chromium driven by
 * playwright-core (never a downloaded browser). Enters a history, checks that recommendations
 * with images and modality shares appear, adds an item by hand, and saves a screenshot under
 * test-results/.
 * Skipped where /usr/bin/chromium is missing, except on CI, which installs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadBundle } from '../src/serve/bundle.js';
import { buildService } from '../src/serve/service.js';
import { openStore } from '../src/serve/store/open.js';
import { serveFixture } from './serve-fixture.js';

const CHROMIUM = process.env.CAMMSR_CHROMIUM ?? '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);

if (!haveBrowser && process.env.CI) {
  test('CI runs the browser test', () => {
    assert.fail(`${CHROMIUM} is missing: .ci/run should install Debian's chromium`);
  });
}

test(
  'the explorer shows recommendations with images and modality shares for a typed history',
  {
    skip: haveBrowser ? false : `${CHROMIUM} is missing (install Debian's chromium, or set CAMMSR_CHROMIUM)`,
  },
  async () => {
    const f = await serveFixture('explorer');
    const bundle = loadBundle(f.bundles.cammsr);
    assert.ok(
      bundle.catalog.ids().some((_, k) => bundle.catalog.item(k + 1).image),
      'the synthetic bundle carries images',
    );
    const store = await openStore(`sqlite:${join(f.root, 'explorer.db')}`);
    const { app } = await buildService({ bundle: f.bundles.cammsr, store });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(base + '/');
      // Browser-side checks are strings: the tests compile without the DOM library.
      await page.waitForFunction("document.getElementById('info').textContent.includes('cammsr')");
      const ids = bundle.catalog.ids().slice(0, 3);
      await page.fill('#history', ids.join(', '));
      await page.fill('#k', '6');
      await page.click('#recommend');
      await page.waitForSelector('#recs .card.rec');
      // Every recommendation card shows a loaded image, a score and the modality shares.
      await page.waitForFunction(
        "Array.from(document.querySelectorAll('#recs img')).every((i) => i.complete && i.naturalWidth > 0)",
      );
      const cards = await page.$$eval('#recs .card.rec', (els) =>
        els.map((e) => ({
          item: e.getAttribute('data-item'),
          text: e.textContent,
          images: e.querySelectorAll('img').length,
        })),
      );
      assert.equal(cards.length, 6);
      assert.ok(
        cards.every(
          (c) => c.images === 1 && /score/.test(c.text!) && /score share by modality/.test(c.text!),
        ),
      );
      assert.ok(
        cards.every((c) => !ids.includes(c.item!)),
        'history items are not recommended again',
      );
      // The history is shown with titles and images.
      const history = await page.$$eval('#history-view .card', (els) => els.map((e) => e.textContent));
      assert.equal(history.length, 3);
      assert.ok(history[0]!.includes(bundle.catalog.item(1).title!));
      // Searching an item by title adds it to the history.
      const title = bundle.catalog.item(11).title!;
      await page.fill('#item-search', title.slice(0, 12));
      await page.waitForSelector('#item-suggest div');
      await page.click('#item-suggest div');
      await page.waitForFunction(
        `document.getElementById('history').value.includes(${JSON.stringify(bundle.catalog.id(11))})`,
      );
      // Adding an item by hand: it joins the history, marked new, with its uploaded image.
      const png = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#c03040' } })
        .png()
        .toBuffer();
      await page.fill('#new-id', 'added-by-hand');
      await page.fill('#new-title', bundle.catalog.item(2).title!);
      await page.fill('#new-categories', (bundle.catalog.item(2).categories ?? []).join(', '));
      await page.setInputFiles('#new-image', { name: 'new.png', mimeType: 'image/png', buffer: png });
      await page.click('#add-item');
      await page.waitForFunction(
        "document.getElementById('add-note').textContent.includes('added added-by-hand')",
      );
      assert.match((await page.textContent('#add-note'))!, /text, image/);
      await page.click('#recommend');
      await page.waitForFunction(
        "Array.from(document.querySelectorAll('#history-view .card')).some((c) => c.textContent.includes('added-by-hand') && c.querySelector('.new') && c.querySelector('img'))",
      );
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: join('test-results', 'explorer.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await app.close();
      await store.close();
    }
  },
);
