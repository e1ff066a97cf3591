// The web page in a real browser: Debian's chromium driven by playwright-core, headless, fresh profile. Loads the
// page, stacks two LoRAs from the picker, moves a strength slider with the keyboard, generates, and sees the image
// and its parameters in the gallery. Screenshot: $LS_SCREENSHOT, else <build>/server.png (docs/server.png is a copy).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './harness.mjs';

const executablePath = process.env.LS_CHROMIUM ?? '/usr/bin/chromium';
let server;
let context;
let profile;

before(async () => {
  assert.ok(existsSync(executablePath), `${executablePath} missing: run tools/install-deps.sh (Debian package chromium)`);
  server = await startServer();
  profile = mkdtempSync(join(tmpdir(), 'lorastack-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (server) assert.equal(await server.stop(), 0);
});

test('stack two LoRAs, move a slider, generate, see the image', async () => {
  const page = context.pages()[0] ?? await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
  assert.match(await page.textContent('#model-info'), /SD1\.x/);

  await page.fill('#prompt', 'a watercolor fox in a birch forest');
  await page.fill('#negative', 'blurry, lowres');
  await page.selectOption('#lora-select', 'meta_style');
  await page.click('#lora-add');
  await page.selectOption('#lora-select', 'locon_b_kohya');
  await page.click('#lora-add');
  const items = page.locator('#lora-stack .lora-item');
  assert.equal(await items.count(), 2);
  assert.equal(await items.nth(0).locator('.lora-name').textContent(), 'meta_style');

  // trigger words from the LoRA's metadata, one click puts them in the prompt
  assert.deepEqual(await items.nth(0).locator('.trigger').allTextContents(), ['sks style', 'watercolor']);
  await items.nth(0).locator('.trigger', { hasText: 'sks style' }).click();
  assert.equal(await page.inputValue('#prompt'), 'a watercolor fox in a birch forest, sks style');

  // move the sliders with the keyboard: 1.00 − 6 × 0.05 = 0.70, 1.00 + 4 × 0.05 = 1.20
  const first = items.nth(0).locator('input.lora-strength');
  await first.focus();
  for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowLeft');
  assert.equal(await items.nth(0).locator('.lora-value').textContent(), '0.70');
  const second = items.nth(1).locator('input.lora-strength');
  await second.focus();
  for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
  assert.equal(await items.nth(1).locator('.lora-value').textContent(), '1.20');

  await page.selectOption('#sampler', 'DPM++ 2M Karras');
  await page.fill('#steps', '4');
  await page.fill('#seed', '77');
  await page.fill('#width', '128');
  await page.fill('#height', '128');
  await page.click('#generate');

  await page.waitForFunction(() => {
    const img = document.querySelector('#gallery .card img');
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 120000 });
  const size = await page.$eval('#gallery .card img', (img) => [img.naturalWidth, img.naturalHeight]);
  assert.deepEqual(size, [128, 128]);
  const infotext = await page.textContent('#gallery .card .infotext');
  assert.ok(infotext.startsWith('a watercolor fox in a birch forest, sks style <lora:meta_style:0.7> <lora:locon_b_kohya:1.2>\n'),
    infotext);
  assert.match(infotext, /Negative prompt: blurry, lowres/);
  assert.match(infotext, /Steps: 4, Sampler: DPM\+\+ 2M, Schedule type: Karras, CFG scale: 7, Seed: 77, Size: 128x128/);
  assert.match(infotext, /Lora hashes: "meta_style: [0-9a-f]{12}, locon_b_kohya: [0-9a-f]{12}"/);
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('done'));
  assert.equal(await page.$eval('#progress', (p) => p.value), 1);

  const shot = process.env.LS_SCREENSHOT ?? join(process.env.LS_BINARY_DIR ?? tmpdir(), 'server.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.deepEqual(errors, []);

  // a bad size is refused with the server's message, shown on the page
  await page.fill('#width', '100');
  await page.click('#generate');
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('refused'));
  assert.match(await page.textContent('#status'), /width 100: must be a multiple of 64/);
});
