// browser.mjs - open a rendered flamegraph.html in headless Chromium and check
// that it works: the canvas drew, search highlights a known function and
// reports a %, a click zooms, the hover tooltip shows details; writes a
// screenshot. usage: node browser.mjs PAGE.html SCREENSHOT.png FUNCTION_REGEX
import { createRequire } from 'module';
import fs from 'fs';
import os from 'os';
import path from 'path';

const [page_path, shot, fn, mode] = process.argv.slice(2);
const diff = mode === 'diff';
const require = createRequire(path.join(process.env.PROFD_SOURCE_DIR, 'tests/node/package.json'));
const { chromium } = require('playwright-core');

function fail(msg) { console.error('FAIL: ' + msg); process.exitCode = 1; }

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'profd-chromium-'));
// a fresh --user-data-dir: playwright passes it for a persistent context
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
try {
  const page = await ctx.newPage();
  const requests = [], errors = [];
  page.on('request', r => { if (!r.url().startsWith('file://')) requests.push(r.url()); });
  page.on('pageerror', e => errors.push(String(e)));
  page.on('dialog', d => { errors.push('dialog: ' + d.message()); d.dismiss(); });
  await page.goto('file://' + path.resolve(page_path));
  await page.waitForSelector('#fg');

  const painted = () => page.evaluate(() => {
    const c = document.getElementById('fg'), g = c.getContext('2d');
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
    return n;
  });
  const magenta = () => page.evaluate(() => {
    const c = document.getElementById('fg'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] === 230 && d[i + 1] === 0 && d[i + 2] === 230) n++;
    return n;
  });
  const drawn = await painted();
  if (drawn < 1000) fail('canvas looks blank (' + drawn + ' painted pixels)');
  else console.log('canvas: ' + drawn + ' painted pixels');

  if (await magenta() !== 0) fail('magenta before any search');
  await page.fill('#search', fn);
  const matched = (await page.textContent('#matched')).trim();
  if (!/^Matched: \d+\.\d\d% \(/.test(matched)) fail('search reported "' + matched + '"');
  else console.log('search: ' + matched);
  const hi = await magenta();
  if (hi < 50) fail('search highlighted only ' + hi + ' pixels');
  await page.screenshot({ path: shot, fullPage: false });

  // hover and click the widest frame two rows above the root
  const box = await page.locator('#fg').boundingBox();
  const inverted = await page.evaluate(() => document.getElementById('invert').getAttribute('aria-pressed') === 'true');
  const y = inverted ? box.y + 17 * 2 + 8 : box.y + box.height - 17 * 3 + 7;
  await page.mouse.move(box.x + 40, y);
  const tip = await page.textContent('#tip');
  if (diff ? !/before: [\d,]+ samples/.test(tip) || !/delta: [+-]\d/.test(tip)
           : !/samples: [\d,]+/.test(tip) || !/of total: /.test(tip) || !/of parent: /.test(tip))
    fail('tooltip missing details: ' + JSON.stringify(tip));
  else console.log('tooltip: ' + tip.replace(/\n/g, ' | '));
  await page.mouse.click(box.x + 40, y);
  const zoom = await page.evaluate(() => document.body.getAttribute('data-zoom'));
  const resetOn = await page.evaluate(() => !document.getElementById('reset').disabled);
  if (zoom === '0' || !resetOn) fail('click did not zoom (zoom=' + zoom + ')');
  else console.log('zoom: node ' + zoom);
  await page.click('#reset');
  if (await page.evaluate(() => document.body.getAttribute('data-zoom')) !== '0') fail('reset did not unzoom');
  await page.mouse.click(box.x + 40, y);
  await page.keyboard.press('Escape');
  if (await page.evaluate(() => document.body.getAttribute('data-zoom')) !== '0') fail('Escape did not unzoom');

  // the table sorts, the icicle toggle redraws
  if (diff) {
    const blue = await page.evaluate(() => {
      const c = document.getElementById('fg'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let red = 0, blue = 0;
      for (let i = 0; i < d.length; i += 4) { if (d[i] === 255 && d[i + 2] < 200) red++; if (d[i + 2] === 255 && d[i] < 200) blue++; }
      return [red, blue];
    });
    if (blue[0] < 100 || blue[1] < 100) fail('diff colours: red ' + blue[0] + ', blue ' + blue[1] + ' pixels');
    else console.log('diff colours: red ' + blue[0] + ', blue ' + blue[1] + ' pixels');
  }
  await page.click('#top th[data-k="1"]');
  const selfs = await page.$$eval('#top tbody tr td:nth-child(2)', tds => tds.slice(0, 20).map(t => +t.textContent.replace(/,/g, '')));
  if (selfs.length < 2 || selfs.some((v, i) => i && v > selfs[i - 1])) fail('table not sorted by self: ' + selfs);
  await page.click('#invert');
  if (await painted() < 1000) fail('icicle view is blank');
  if (requests.length) fail('network requests: ' + requests.join(' '));
  if (errors.length) fail('page errors: ' + errors.join(' | '));
  if (!process.exitCode) console.log('ok: screenshot ' + shot);
} finally {
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
