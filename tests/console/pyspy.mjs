// pyspy.mjs - a py-spy session in the console: progress while it runs, the
// note that the live view needs the built-in sampler, no live picture, then
// the stored flame graph. Env: BASE, ADMIN_TOKEN, SHOTS.
import { createRequire } from 'module';
import fs from 'fs';
import os from 'os';
import path from 'path';

const require = createRequire(path.join(process.env.PROFD_SOURCE_DIR, 'tests/node/package.json'));
const { chromium } = require('playwright-core');
const { BASE, ADMIN_TOKEN, SHOTS } = process.env;
let failed = 0;
const fail = m => { console.error('FAIL: ' + m); failed++; };
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'profd-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
const problems = [];
try {
  const page = await ctx.newPage();
  page.on('pageerror', e => problems.push('pageerror: ' + e));
  page.on('console', m => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  await page.goto(BASE + '/');
  await page.fill('#token', ADMIN_TOKEN);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#start');
  await page.fill('#s-service', 'shop');
  await page.fill('#s-duration', '10');
  await page.click('#s-submit');
  // the session page replaces the form once the API answered; an error stays on the form
  await page.waitForFunction(() => {
    const t = document.getElementById('session-title'), e = document.getElementById('start-error');
    return (t && /running/.test(t.textContent)) || (e && e.textContent.length > 0);
  }, null, { timeout: 30000 });
  if (await page.$('#start-error')) throw new Error('start refused: ' + await page.textContent('#start-error'));
  await page.waitForFunction(() => /py-spy/.test((document.getElementById('facts') || { textContent: '' }).textContent));
  const note = await page.textContent('#live-note');
  if (!/needs the built-in sampler/.test(note)) fail('no py-spy note: ' + note);
  const p1 = await page.textContent('#progress-text');
  await page.waitForTimeout(2500);
  const p2 = await page.textContent('#progress-text');
  const sec = s => Number((/^(\d+) of 10 s/.exec(s) || [])[1]);
  if (!(sec(p2) > sec(p1))) fail('progress did not move: "' + p1 + '" then "' + p2 + '"');
  else console.log('progress: "' + p1 + '" then "' + p2 + '"');
  await page.screenshot({ path: path.join(SHOTS, 'console-pyspy-1280.png') });
  if (await page.getAttribute('#live-canvas', 'data-frames') !== '0') fail('a live picture was drawn for py-spy');
  if (await page.isVisible('#live-canvas')) fail('an empty live canvas is shown for py-spy');
  await page.waitForSelector('#flame', { timeout: 60000 });
  const frame = await (await page.$('#flame')).contentFrame();
  await frame.waitForSelector('#fg');
  const data = JSON.parse(await frame.textContent('#profd-data'));
  if (!(data.total > 0)) fail('py-spy flame graph is empty');
  else console.log('py-spy final flame graph: ' + data.total + ' samples');
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
if (problems.length) fail('page/console errors:\n  ' + problems.join('\n  '));
process.exitCode = failed ? 1 : 0;
