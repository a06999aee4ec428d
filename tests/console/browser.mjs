// browser.mjs - drive the console (src/api/console/) in headless Chromium
// against a running profd serve; see browser.sh for what it proves.
// Env: BASE, SIGNIN_CODE, ADMIN_TOKEN, VIEWER_TOKEN, WORK (serve's storage is
// $WORK/data), SPEEDSCOPE_SCHEMA, SHOTS (screenshot folder).
import { createRequire } from 'module';
import fs from 'fs';
import os from 'os';
import path from 'path';

const require = createRequire(path.join(process.env.PROFD_SOURCE_DIR, 'tests/node/package.json'));
const { chromium } = require('playwright-core');
const Ajv = require('ajv');

const { BASE, SIGNIN_CODE, ADMIN_TOKEN, VIEWER_TOKEN, WORK, SPEEDSCOPE_SCHEMA, SHOTS } = process.env;
const P = '/api/v1/monitoring/profile';
const origin = new URL(BASE).origin;
let failed = 0;
const fail = m => { console.error('FAIL: ' + m); failed++; };
const sleep = ms => new Promise(r => setTimeout(r, ms));
const t = () => performance.now();

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'profd-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 900 },
  acceptDownloads: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});
const problems = [], outside = [];
// Chromium logs every answer >= 400 as a console error; the two the test
// provokes on purpose (a bad duration, a bad pasted token) are expected, once each.
let expecting = null;
function watch(page, who) {
  page.on('pageerror', e => problems.push(who + ' pageerror: ' + e));
  page.on('console', m => {
    if (m.type() !== 'error') return;
    if (expecting && m.text().includes('status of ' + expecting)) { expecting = null; return; }
    problems.push(who + ' console: ' + m.text());
  });
  // which request, when Chromium's console line names none (aborted ones are the page's own doing)
  page.on('requestfailed', r => {
    const t = r.failure() ? r.failure().errorText : '?';
    if (t !== 'net::ERR_ABORTED') problems.push(who + ' request failed: ' + r.method() + ' ' + r.url() + ': ' + t + ' at ' + new Date().toISOString());
  });
  page.on('dialog', d => { problems.push(who + ' dialog: ' + d.message()); d.dismiss(); });
}
ctx.on('request', r => {
  const u = r.url();
  if (!u.startsWith(origin + '/') && !u.startsWith('blob:' + origin) && !u.startsWith('data:') && u !== 'about:blank')
    outside.push(u);
});
async function api(method, p, token, body) {
  const r = await fetch(BASE + p, { method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
                                    body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, json: await r.json().catch(() => null) };
}
async function canvasHash(page) {
  return page.evaluate(() => {
    const c = document.getElementById('live-canvas');
    if (!c || !c.width || !c.height) return null;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261, painted = 0;
    for (let i = 0; i < d.length; i += 4) { h = Math.imul(h ^ d[i] ^ (d[i + 1] << 8) ^ (d[i + 2] << 16), 16777619); if (d[i + 3]) painted++; }
    return { hash: h >>> 0, painted, samples: Number(c.getAttribute('data-samples')), frames: Number(c.getAttribute('data-frames')) };
  });
}
function stacksOf(id) {
  const text = fs.readFileSync(path.join(WORK, 'data', 'sessions', id, 'stacks.txt'), 'utf8');
  let total = 0; const names = new Map();
  for (const line of text.split('\n')) {
    const sp = line.lastIndexOf(' '); if (sp <= 0) continue;
    const n = Number(line.slice(sp + 1)); total += n;
    for (const f of new Set(line.slice(0, sp).split(';'))) names.set(f, (names.get(f) || 0) + n);
  }
  return { total, names };
}
async function waitFor(fn, seconds, what) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(200);
  }
}
const timings = {};
try {
  const page = await ctx.newPage();
  watch(page, 'admin');
  // 1. sign in with the one-time link; the code leaves the address bar
  await page.goto(BASE + '/?code=' + SIGNIN_CODE);
  await page.waitForSelector('#start');
  if (page.url().includes('code=')) fail('the sign-in code stayed in the URL: ' + page.url());
  if ((await page.textContent('#who')).indexOf('admin') < 0) fail('not signed in as admin: ' + await page.textContent('#who'));
  const stored = await page.evaluate(() => ({ s: sessionStorage.getItem('profd.token'), l: localStorage.length, c: document.cookie }));
  if (!stored.s || stored.l || stored.c) fail('token storage: ' + JSON.stringify({ session: !!stored.s, local: stored.l, cookie: stored.c }));
  const again = await fetch(BASE + '/api/v1/console/signin', { method: 'POST', body: JSON.stringify({ code: SIGNIN_CODE }) });
  if (again.status !== 401) fail('the sign-in code worked twice: ' + again.status);
  // the form offers PROFD_TARGETS' services before any session names them
  const offered = await page.$$eval('#services option', os => os.map(o => o.value));
  if (JSON.stringify(offered) !== JSON.stringify(['shop', 'shop-b'])) fail('start form offers ' + JSON.stringify(offered));
  const dlabel = await page.textContent('label:has(#s-duration)');
  if (!/10–300/.test(dlabel)) fail('duration bounds not shown: ' + dlabel);
  // the API's own words for a bad start
  await page.fill('#s-service', 'shop');
  await page.fill('#s-duration', '5');
  expecting = '422';
  await page.click('#s-submit');
  await page.waitForFunction(() => (document.getElementById('start-error') || { textContent: '' }).textContent.length > 0);
  const words = await page.textContent('#start-error');
  if (!/Duration must be between 10 and 300 seconds/.test(words)) fail('start error not as the API words it: ' + words);
  // 2. a 10 s capture from the form
  await page.fill('#s-duration', '10');
  const clicked = t();
  await page.click('#s-submit');
  await page.waitForSelector('#live-canvas');
  const id1 = page.url().split('#/s/')[1];
  // 3. the live flame graph changes at least twice while it runs
  const seen = [];
  let first = null;
  const liveEnd = Date.now() + 30000;
  while (Date.now() < liveEnd) {
    const h = await canvasHash(page);
    const status = await page.textContent('#session-title');
    if (h && h.frames > 0 && (!seen.length || seen[seen.length - 1].hash !== h.hash)) {
      if (!first) { first = t() - clicked; }
      h.at = t();
      seen.push(h);
      if (seen.length === 2) await page.screenshot({ path: path.join(SHOTS, 'console-live-1280.png') });
    }
    if (/completed|failed/.test(status)) break;
    await sleep(150);
  }
  timings.first_live_frame_ms = first && Math.round(first);
  if (seen.length < 3) fail('live flame graph drew ' + seen.length + ' distinct pictures (wanted an initial one and 2 changes)');
  else {
    const gaps = seen.slice(1).map((s, i) => Math.round(s.at - seen[i].at));
    console.log('live: ' + seen.length + ' pictures, samples ' + seen.map(s => s.samples).join(' -> ') + ', ' + gaps.join(', ') + ' ms apart');
    timings.live_gap_max_ms = Math.max(...gaps);
    // the "at least every 2 seconds": the sampler snapshots every second and the worker
    // and the API each look every 0.5 s; this loop itself looks every 150 ms plus its round trips
    if (timings.live_gap_max_ms > 2300) fail('live pictures came ' + timings.live_gap_max_ms + ' ms apart (wanted at most 2 s)');
  }
  if (seen.some((s, i) => i && s.samples < seen[i - 1].samples)) fail('live sample counts went down');
  // 4. it completes; 5. the final flame graph is the stored stacks.txt
  await page.waitForSelector('#flame', { timeout: 60000 });
  const s1 = (await api('GET', P + '/' + id1, ADMIN_TOKEN)).json;
  const captureEnd = Date.parse(s1.started_at) + s1.duration_seconds * 1000;
  const frame = await (await page.$('#flame')).contentFrame();
  await frame.waitForSelector('#fg');
  await frame.waitForFunction(() => document.getElementById('top').querySelectorAll('tbody tr').length > 0);
  timings.capture_end_to_final_ms = Date.now() - captureEnd;
  const data = JSON.parse(await frame.textContent('#profd-data'));
  const truth = stacksOf(id1);
  if (data.total !== truth.total) fail('final flame graph total ' + data.total + ' != stacks.txt ' + truth.total);
  if (s1.sample_count !== truth.total) fail('session sample_count ' + s1.sample_count + ' != stacks.txt ' + truth.total);
  const shown = new Set(data.names);
  const wide = [...truth.names].filter(([, n]) => n * 1200 >= truth.total * 2);
  const missing = wide.filter(([f]) => !shown.has(f));
  if (missing.length) fail('frames of stacks.txt missing from the flame graph: ' + missing.slice(0, 3).map(m => m[0]).join(', '));
  if (!wide.some(([f]) => /^alpha /.test(f))) fail('first capture has no alpha frames');
  console.log('final: ' + data.total + ' samples = stacks.txt; ' + wide.length + ' frames checked');
  // the renderer's features work inside the console
  await frame.fill('#search', '^alpha');
  const matched = (await frame.textContent('#matched')).trim();
  if (!/^Matched: \d+\.\d\d% /.test(matched)) fail('search in the embedded flame graph: ' + matched);
  await frame.click('#invert');
  await page.screenshot({ path: path.join(SHOTS, 'console-session-1280.png'), fullPage: true });
  // 7. download speedscope; check it against the speedscope schema
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#dl-speedscope')]);
  const ss = JSON.parse(fs.readFileSync(await dl.path(), 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true });
  if (!ajv.validate(JSON.parse(fs.readFileSync(SPEEDSCOPE_SCHEMA, 'utf8')), ss)) fail('speedscope download: ' + ajv.errorsText());
  else console.log('speedscope download: valid against ' + path.basename(SPEEDSCOPE_SCHEMA));
  const href = await page.getAttribute('#open-speedscope', 'href');
  const pu = decodeURIComponent((href || '').split('#profileURL=')[1] || '');
  if (!href.startsWith('https://www.speedscope.app/#profileURL=') || !pu.startsWith(origin + '/api/v1/files/') || !/signature=/.test(pu))
    fail('Open in speedscope link: ' + href);
  for (const f of ['pprof', 'collapsed', 'html']) {
    const [d] = await Promise.all([page.waitForEvent('download'), page.click('#dl-' + f)]);
    if (!fs.statSync(await d.path()).size) fail('download ' + f + ' is empty');
  }
  // 6. a second capture (the target has moved on to beta), then compare
  await page.goto(BASE + '/#/');
  await page.waitForSelector('#start');
  const waitBeta = Date.parse(s1.started_at) + 26000 - Date.now();
  if (waitBeta > 0) await sleep(waitBeta);
  await page.fill('#s-service', 'shop');
  await page.fill('#s-duration', '10');
  await page.click('#s-submit');
  await page.waitForSelector('#live-canvas');
  const id2 = page.url().split('#/s/')[1];
  await page.waitForSelector('#flame', { timeout: 60000 });
  await page.goto(BASE + '/#/');
  await page.waitForSelector('#sessions tr[data-id="' + id2 + '"]');
  await page.click('#sessions tr[data-id="' + id1 + '"] input[type=checkbox]');
  await page.click('#sessions tr[data-id="' + id2 + '"] input[type=checkbox]');
  await page.click('#compare-picked');
  await page.waitForSelector('#diff-table tbody tr');
  const rows = await page.$$eval('#diff-table tbody tr', trs => trs.map(tr => [...tr.children].map(td => td.textContent)));
  const byFn = Object.fromEntries(rows.map(r => [r[0], r]));
  const d2 = (await (await fetch(BASE + P + '/' + id1 + '/diff/' + id2 + '?limit=30', { headers: { Authorization: 'Bearer ' + ADMIN_TOKEN, Accept: 'application/json' } })).json()).changes;
  if (!byFn.alpha || !byFn.beta) fail('diff table lacks alpha/beta: ' + JSON.stringify(rows.slice(0, 4)));
  else {
    const a = parseFloat(byFn.alpha[4]), b = parseFloat(byFn.beta[4]);
    if (!(a < -50 && b > 50)) fail('diff table: alpha ' + a + ', beta ' + b + ' (wanted alpha to shrink and beta to grow by > 50 points)');
    const apiAlpha = d2.find(c => c.function === 'alpha');
    if (Math.abs(apiAlpha.delta_points - a) > 0.01) fail('table and API disagree on alpha');
    console.log('diff table: alpha ' + byFn.alpha[4] + ', beta ' + byFn.beta[4] + ' points (' + rows.length + ' rows)');
  }
  const dframe = await (await page.waitForSelector('#diff-flame')).contentFrame();
  await dframe.waitForSelector('#fg');
  const dd = JSON.parse(await dframe.textContent('#profd-data'));
  if (!dd.b || dd.btotal !== truth.total) fail('diff page: before total ' + dd.btotal + ' (stacks.txt ' + truth.total + ')');
  await page.screenshot({ path: path.join(SHOTS, 'console-compare-1280.png'), fullPage: true });
  // 8. cancel a third session
  await page.goto(BASE + '/#/');
  await page.waitForSelector('#start');
  await page.fill('#s-service', 'shop');
  await page.fill('#s-duration', '30');
  await page.click('#s-submit');
  await page.waitForSelector('#cancel');
  const id3 = page.url().split('#/s/')[1];
  await page.click('#cancel');
  await page.waitForFunction(() => /failed/.test((document.getElementById('session-title') || { textContent: '' }).textContent), null, { timeout: 30000 });
  const s3 = (await api('GET', P + '/' + id3, ADMIN_TOKEN)).json;
  if (s3.status !== 'failed' || s3.error_code !== 'cancelled') fail('third session: ' + s3.status + ' ' + s3.error_code);
  if (await page.$('#cancel')) fail('cancel button still shown on a finished session');
  // a memory capture from the form: the fixture's target is CPython 3.11, so
  // the worker refuses it (docs/memory.md, "Refusals") and the page says why
  await page.goto(BASE + '/#/');
  await page.waitForSelector('#start');
  await page.fill('#s-service', 'shop');
  await page.fill('#s-duration', '10');
  await page.selectOption('#s-type', 'memory');
  if (!(await page.isDisabled('#s-rate'))) fail('the rate stays editable for a memory capture');
  await page.click('#s-submit');
  await page.waitForFunction(() => /failed/.test((document.getElementById('session-title') || { textContent: '' }).textContent), null, { timeout: 30000 });
  const idm = page.url().split('#/s/')[1];
  const sm = (await api('GET', P + '/' + idm, ADMIN_TOKEN)).json;
  const merr = await page.textContent('#session-error');
  if (sm.profile_type !== 'memory' || sm.error_code !== 'python_too_old') fail('memory session: ' + sm.profile_type + ' ' + sm.error_code);
  else if (!/memory profiling needs CPython 3.14 or newer \(PEP 768\)/.test(merr)) fail('memory refusal shown as: ' + merr);
  else console.log('memory from the form: refused on 3.11 as "' + merr + '"');
  if (!/memory/.test(await page.textContent('#facts'))) fail('the session page does not say memory');
  // the list shows it with its error text
  await page.goto(BASE + '/#/');
  await page.waitForSelector('#sessions tr[data-id="' + id3 + '"]');
  const row3 = await page.textContent('#sessions tr[data-id="' + id3 + '"]');
  if (!/cancelled/.test(row3)) fail('list row of the cancelled session: ' + row3);
  await page.screenshot({ path: path.join(SHOTS, 'console-list-1280.png'), fullPage: true });
  // 390 px wide: nothing wider than the screen but the scrolling table
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(BASE + '/#/s/' + id1);
  await page.waitForSelector('#flame');
  const over = await page.evaluate(() => document.documentElement.scrollWidth);
  if (over > 390) fail('session page is ' + over + ' px wide at 390 px');
  await page.screenshot({ path: path.join(SHOTS, 'console-session-390.png'), fullPage: true });
  await page.goto(BASE + '/#/');
  await page.waitForSelector('#sessions');
  const overList = await page.evaluate(() => document.documentElement.scrollWidth);
  if (overList > 390) fail('list page is ' + overList + ' px wide at 390 px');
  const startBox = await page.$eval('#s-submit', b => b.getBoundingClientRect().width);
  if (startBox < 200) fail('start button is ' + startBox + ' px wide at 390 px');
  await page.screenshot({ path: path.join(SHOTS, 'console-list-390.png'), fullPage: true });
  await page.close();

  // a viewer: no start, no cancel; the API refuses both anyway
  const vctx = await ctx.newPage();
  watch(vctx, 'viewer');
  await vctx.goto(BASE + '/');
  await vctx.waitForSelector('#signin');
  await vctx.fill('#token', VIEWER_TOKEN);
  await vctx.click('#signin button[type=submit]');
  await vctx.waitForSelector('#sessions');
  if (await vctx.$('#start')) fail('viewer sees the start form');
  if ((await vctx.textContent('#who')).indexOf('viewer') < 0) fail('viewer not shown as viewer');
  const r4 = await api('POST', P + '/start', ADMIN_TOKEN, { service_name: 'shop-b', duration_seconds: 30 });
  await vctx.goto(BASE + '/#/s/' + r4.json.session_id);
  await vctx.waitForSelector('#facts dd');
  await sleep(500);
  if (await vctx.$('#cancel')) fail('viewer sees a cancel button');
  const vs = await api('POST', P + '/start', VIEWER_TOKEN, { service_name: 'shop-b', duration_seconds: 10 });
  const vc = await api('DELETE', P + '/' + r4.json.session_id, VIEWER_TOKEN);
  if (vs.status !== 403 || vc.status !== 403) fail('API let a viewer start (' + vs.status + ') or cancel (' + vc.status + ')');
  await api('DELETE', P + '/' + r4.json.session_id, ADMIN_TOKEN);
  await vctx.screenshot({ path: path.join(SHOTS, 'console-viewer-1280.png') });
  // a bad pasted token: the API's words, nothing stored
  await vctx.click('#signout');
  await vctx.fill('#token', 'not.a.token');
  expecting = '401';
  await vctx.click('#signin button[type=submit]');
  await vctx.waitForFunction(() => (document.getElementById('signin-error') || { textContent: '' }).textContent.length > 0);
  if (await vctx.evaluate(() => sessionStorage.getItem('profd.token'))) fail('a refused token was stored');
  await vctx.close();
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
if (problems.length) fail('page/console errors:\n  ' + problems.join('\n  '));
if (outside.length) fail('requests outside ' + origin + ':\n  ' + outside.join('\n  '));
console.log('timings: click start -> first live frame ' + timings.first_live_frame_ms + ' ms; live pictures at most ' +
            timings.live_gap_max_ms + ' ms apart; end of capture -> final picture ' + timings.capture_end_to_final_ms + ' ms');
process.exitCode = failed ? 1 : 0;
