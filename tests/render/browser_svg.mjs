// browser_svg.mjs - the SVG's own script in headless Chromium: a click zooms
// (frames outside the clicked one are hidden, Reset Zoom appears), Search
// (a prompt) reports the matched %. usage: node browser_svg.mjs FILE.svg REGEX
import { createRequire } from 'module';
import fs from 'fs';
import os from 'os';
import path from 'path';

const [svg, fn] = process.argv.slice(2);
const require = createRequire(path.join(process.env.PROFD_SOURCE_DIR, 'tests/node/package.json'));
const { chromium } = require('playwright-core');
function fail(msg) { console.error('FAIL: ' + msg); process.exitCode = 1; }

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'profd-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1220, height: 1000 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
try {
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('dialog', d => d.accept(fn));
  await page.goto('file://' + path.resolve(svg));
  const n = await page.locator('#frames > g').count();
  if (n < 100) fail('only ' + n + ' frames');
  await page.click('#search');
  const matched = await page.textContent('#matched');
  if (!/^Matched: \d+(\.\d)?%$/.test(matched.trim())) fail('search reported ' + JSON.stringify(matched));
  else console.log('svg search: ' + matched.trim());
  await page.locator('#frames > g').nth(6).click({ force: true });
  const hidden = await page.$$eval('#frames > g', gs => gs.filter(g => g.style.display === 'none').length);
  const unzoom = await page.$eval('#unzoom', e => getComputedStyle(e).opacity);
  if (hidden === 0 || unzoom !== '1') fail('click did not zoom (hidden ' + hidden + ', unzoom opacity ' + unzoom + ')');
  else console.log('svg zoom: ' + hidden + ' frames hidden');
  await page.click('#unzoom');
  if (await page.$$eval('#frames > g', gs => gs.filter(g => g.style.display === 'none').length)) fail('Reset Zoom left frames hidden');
  if (errors.length) fail('page errors: ' + errors.join(' | '));
} finally {
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
