// openapi.mjs - GET /api/v1/openapi.json is a valid OpenAPI 3.1 document
// (swagger-parser), and every operation answers each status it documents,
// with a body that fits the documented schema (ajv, JSON Schema 2020-12, as
// OpenAPI 3.1 uses). A documented status without a case here fails the test
// unless it is in UNTESTED with the reason and the test that covers it.
// Env: BASE, ADMIN_TOKEN, VIEWER_TOKEN, GUEST_TOKEN, RATE_TOKEN, SIGNIN_CODE.
import { createRequire } from 'module';
import path from 'path';

const require = createRequire(path.join(process.env.PROFD_SOURCE_DIR, 'tests/node/package.json'));
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv2020 = require('ajv/dist/2020').default;

const { BASE, ADMIN_TOKEN, VIEWER_TOKEN, GUEST_TOKEN, RATE_TOKEN, SIGNIN_CODE } = process.env;
const P = '/api/v1/monitoring/profile';
let failed = 0;
const fail = m => { console.error('FAIL: ' + m); failed++; };

const raw = await (await fetch(BASE + '/api/v1/openapi.json')).json();
await SwaggerParser.validate(structuredClone(raw)); // throws with the reason
const doc = await SwaggerParser.dereference(structuredClone(raw));
console.log('openapi.json: valid OpenAPI ' + doc.openapi + ', ' + Object.keys(doc.paths).length + ' paths');
const ajv = new Ajv2020({ strict: false, allErrors: true });

const covered = new Set();
function templateOf(p) {
  const clean = p.split('?')[0];
  for (const t of Object.keys(doc.paths)) {
    const re = new RegExp('^' + t.replace(/\{object\}$/, '.+').replace(/\{[^}]+\}/g, '[^/]+') + '$');
    if (re.test(clean)) return t;
  }
  return null;
}
async function call(method, p, { token, body, headers = {}, expect, redirect = 'manual' }) {
  const h = { ...headers };
  if (token) h.Authorization = 'Bearer ' + token;
  if (body !== undefined && !h['Content-Type']) h['Content-Type'] = 'application/json';
  const r = await fetch(BASE + p, { method, headers: h, redirect,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  const t = templateOf(p), op = t && doc.paths[t][method.toLowerCase()];
  const where = method + ' ' + p.slice(0, 90);
  if (!op) { fail(where + ': not documented'); return { r, text }; }
  if (r.status !== expect) { fail(where + ': ' + r.status + ' (wanted ' + expect + '): ' + text.slice(0, 200)); return { r, text }; }
  const resp = op.responses[String(r.status)];
  if (!resp) { fail(where + ': status ' + r.status + ' not documented'); return { r, text }; }
  covered.add(method.toLowerCase() + ' ' + t + ' ' + r.status);
  const ct = (r.headers.get('content-type') || '').split(';')[0];
  if (resp.content) {
    const media = resp.content[ct] || resp.content['*/*'];
    if (!media) fail(where + ': content type ' + ct + ' not documented for ' + r.status);
    else if (ct === 'application/json' && media.schema) {
      const ok = ajv.validate(media.schema, JSON.parse(text));
      if (!ok) fail(where + ': body does not fit the schema: ' + ajv.errorsText());
    }
  }
  if (r.headers.get('x-content-type-options') !== 'nosniff' && r.status !== 302)
    fail(where + ': no X-Content-Type-Options: nosniff');
  return { r, text, json: ct === 'application/json' ? JSON.parse(text) : null };
}
const sleep = ms => new Promise(res => setTimeout(res, ms));
async function waitStatus(id, want, seconds) {
  for (let i = 0; i < seconds * 4; i++) {
    const r = await fetch(BASE + P + '/' + id, { headers: { Authorization: 'Bearer ' + ADMIN_TOKEN } });
    const s = await r.json();
    if (want.includes(s.status)) return s;
    await sleep(250);
  }
  throw new Error('session ' + id + ' never reached ' + want);
}
const NOID = '3f2b8c1e-2d4a-4b6c-9e8f-0a1b2c3d4e5f';

// start and the target lock
const s1 = (await call('POST', P + '/start', { token: ADMIN_TOKEN, body: { service_name: 'shop', duration_seconds: 10 }, expect: 201 })).json;
await call('POST', P + '/start', { token: ADMIN_TOKEN, body: { service_name: 'shop', duration_seconds: 10 }, expect: 409 });
await call('POST', P + '/start', { token: ADMIN_TOKEN, body: '{"service_name": ', expect: 400 });
await call('POST', P + '/start', { body: { service_name: 'shop' }, expect: 401 });
await call('POST', P + '/start', { token: VIEWER_TOKEN, body: { service_name: 'shop' }, expect: 403 });
await call('POST', P + '/start', { token: ADMIN_TOKEN, body: '{"service_name":"' + 'x'.repeat(70000) + '"}', expect: 413 });
for (let i = 0; i < 10; i++)
  await call('POST', P + '/start', { token: RATE_TOKEN, body: { service_name: 'shop', duration_seconds: 5 }, expect: 422 });
await call('POST', P + '/start', { token: RATE_TOKEN, body: { service_name: 'shop', duration_seconds: 5 }, expect: 429 });
// list and read
await call('GET', P + '?limit=5', { token: ADMIN_TOKEN, expect: 200 });
{
  const nolinks = (await call('GET', P + '?limit=100&links=false', { token: ADMIN_TOKEN, expect: 200 })).json;
  if (nolinks.some(x => x.flame_graph_url !== null || x.raw_data_url !== null)) fail('links=false still signed links');
}
await call('GET', P, { expect: 401 });
await call('GET', P, { token: GUEST_TOKEN, expect: 403 });
await call('GET', P + '?limit=0', { token: ADMIN_TOKEN, expect: 422 });
await call('GET', P + '/' + s1.session_id, { token: VIEWER_TOKEN, expect: 200 });
await call('GET', P + '/' + s1.session_id, { expect: 401 });
await call('GET', P + '/' + s1.session_id, { token: GUEST_TOKEN, expect: 403 });
await call('GET', P + '/' + NOID, { token: ADMIN_TOKEN, expect: 404 });
// live while it runs: read the whole stream (in the background) until its final event
async function readLive(id, lastId, token = VIEWER_TOKEN) {
  const h = { Authorization: 'Bearer ' + token };
  if (lastId) h['Last-Event-ID'] = lastId;
  const r = await fetch(BASE + P + '/' + id + '/live', { headers: h });
  const events = [], dec = new TextDecoder();
  let buf = '';
  for await (const chunk of r.body) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      const ev = { event: 'message', id: null, data: [] };
      for (const l of block.split('\n')) {
        if (l.startsWith('event: ')) ev.event = l.slice(7);
        else if (l.startsWith('id: ')) ev.id = l.slice(4);
        else if (l.startsWith('data: ')) ev.data.push(l.slice(6));
      }
      if (ev.data.length) events.push(ev);
    }
  }
  return { status: r.status, type: r.headers.get('content-type') || '', events };
}
const live1 = readLive(s1.session_id);
await call('GET', P + '/' + s1.session_id + '/live', { expect: 401 });
await call('GET', P + '/' + s1.session_id + '/live', { token: GUEST_TOKEN, expect: 403 });
await call('GET', P + '/' + NOID + '/live', { token: ADMIN_TOKEN, expect: 404 });
await call('GET', P + '/' + s1.session_id + '/flamegraph', { token: ADMIN_TOKEN, expect: 404 });
await call('GET', P + '/' + s1.session_id + '/raw', { token: ADMIN_TOKEN, expect: 404 });
const done1 = await waitStatus(s1.session_id, ['completed', 'failed'], 60);
if (done1.status !== 'completed') fail('capture ended ' + done1.status + ': ' + done1.error_message);
{
  const lv = await live1;
  if (lv.status === 200 && lv.type.startsWith('text/event-stream')) covered.add('get ' + P + '/{id}/live 200');
  else fail('live: ' + lv.status + ' ' + lv.type);
  const stacks = lv.events.filter(e => e.event === 'stacks'), fin = lv.events.filter(e => e.event === 'final');
  const counts = stacks.map(e => Number(e.id.slice(1)));
  if (stacks.length < 2) fail('live: ' + stacks.length + ' stacks events in a 10 s capture (wanted >= 2)');
  if (counts.some((c, i) => i && c <= counts[i - 1])) fail('live: ids not increasing: ' + counts);
  for (const e of stacks) { // the id is the sample count the worker put in the record for that snapshot
    const sum = e.data.reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    if (sum !== Number(e.id.slice(1))) fail('live: event ' + e.id + ' holds ' + sum + ' samples');
  }
  if (fin.length !== 1 || lv.events[lv.events.length - 1] !== fin[0]) fail('live: not exactly one final event, last');
  const fs = JSON.parse(fin[0].data.join('\n'));
  if (fs.status !== 'completed' || fs.sample_count < counts[counts.length - 1] || !fs.flame_graph_url) fail('live final: ' + fin[0].data);
  console.log('live: stacks events at ' + counts.join(', ') + ' samples, final ' + fs.sample_count);
  // a reconnect after the end gets the final event again, no stacks
  const again = await readLive(s1.session_id, stacks.length ? stacks[stacks.length - 1].id : 's0');
  if (again.events.length !== 1 || again.events[0].event !== 'final') fail('live resume: ' + again.events.map(e => e.event));
}
{
  const withLinks = (await call('GET', P + '?limit=100', { token: ADMIN_TOKEN, expect: 200 })).json;
  const w = withLinks.find(x => x.session_id === s1.session_id);
  const n = (await call('GET', P + '?limit=100&links=false', { token: ADMIN_TOKEN, expect: 200 })).json.find(x => x.session_id === s1.session_id);
  if (!w.flame_graph_url || n.flame_graph_url !== null) fail('list links: ' + w.flame_graph_url + ' / ' + n.flame_graph_url);
}
// artefacts and signed links
for (const a of ['flamegraph', 'raw']) {
  const { r } = await call('GET', P + '/' + s1.session_id + '/' + a, { token: VIEWER_TOKEN, expect: 302 });
  const loc = new URL(r.headers.get('location'));
  await call('GET', loc.pathname + loc.search, { expect: 200 });
  await call('GET', loc.pathname + loc.search.replace(/signature=./, 'signature=z'), { expect: 403 });
  await call('GET', P + '/' + s1.session_id + '/' + a, { expect: 401 });
  await call('GET', P + '/' + s1.session_id + '/' + a, { token: GUEST_TOKEN, expect: 403 });
}
// cancel
const s2 = (await call('POST', P + '/start', { token: ADMIN_TOKEN, body: { service_name: 'shop', duration_seconds: 30 }, expect: 201 })).json;
await waitStatus(s2.session_id, ['running'], 30);
await call('DELETE', P + '/' + s2.session_id, { token: VIEWER_TOKEN, expect: 403 });
await call('DELETE', P + '/' + s2.session_id, { expect: 401 });
await call('DELETE', P + '/' + NOID, { token: ADMIN_TOKEN, expect: 404 });
await call('DELETE', P + '/' + s2.session_id, { token: ADMIN_TOKEN, expect: 202 });
await waitStatus(s2.session_id, ['failed', 'completed'], 30);
await call('DELETE', P + '/' + s2.session_id, { token: ADMIN_TOKEN, expect: 409 });
// diff
const D = P + '/' + s1.session_id + '/diff/';
await call('GET', D + s1.session_id, { token: VIEWER_TOKEN, expect: 200 });
const dj = (await call('GET', D + s1.session_id, { token: ADMIN_TOKEN, headers: { Accept: 'application/json' }, expect: 200 })).json;
if (!dj.changes.length || dj.changes.some(c => Math.abs(c.delta_points) > 1e-9)) fail('a session diffed with itself changed: ' + JSON.stringify(dj.changes[0]));
await call('GET', D + s2.session_id, { token: ADMIN_TOKEN, expect: 409 });
await call('GET', D + NOID, { token: ADMIN_TOKEN, expect: 404 });
await call('GET', D + s1.session_id + '?limit=999', { token: ADMIN_TOKEN, headers: { Accept: 'application/json' }, expect: 422 });
if (!dj.flame_graph_url) fail('diff JSON has no flame_graph_url');
else {
  const u = new URL(dj.flame_graph_url);
  const { r } = await call('GET', u.pathname + u.search, { expect: 200 });
  if (!/frame-ancestors 'self'/.test(r.headers.get('content-security-policy') || '')) fail('stored diff page without frame-ancestors');
}
await call('GET', D + s1.session_id, { expect: 401 });
await call('GET', D + s1.session_id, { token: GUEST_TOKEN, expect: 403 });
// exports
const X = P + '/' + s1.session_id + '/export/';
for (const f of ['collapsed', 'speedscope', 'pprof', 'html', 'svg']) {
  const { r } = await call('GET', X + f, { token: VIEWER_TOKEN, expect: 200 });
  if (!/^attachment; filename="profile-/.test(r.headers.get('content-disposition') || '')) fail('export ' + f + ': no attachment');
}
await call('GET', X + 'gif', { token: ADMIN_TOKEN, expect: 404 });
await call('GET', P + '/' + s2.session_id + '/export/collapsed', { token: ADMIN_TOKEN, expect: 409 });
await call('GET', X + 'collapsed', { expect: 401 });
await call('GET', X + 'collapsed', { token: GUEST_TOKEN, expect: 403 });
// alerts
for (const [src, good, bad] of [['alertmanager', { version: '4', alerts: [] }, { version: '4' }],
                                ['gcp', { incident: { state: 'closed', policy_name: 'p' } }, { incident: {} }]]) {
  const p = '/api/v1/monitoring/alerts/' + src;
  await call('POST', p, { token: 'alert-secret', body: good, expect: 202 });
  await call('POST', p, { token: 'alert-secret', body: '{', expect: 400 });
  await call('POST', p, { token: 'wrong', body: good, expect: 401 });
  await call('POST', p, { token: 'alert-secret', body: bad, expect: 422 });
}
// sign-in: once, then never again
await call('POST', '/api/v1/console/signin', { body: { nocode: 1 }, expect: 400 });
const si = (await call('POST', '/api/v1/console/signin', { body: { code: SIGNIN_CODE }, expect: 200 })).json;
await call('POST', '/api/v1/console/signin', { body: { code: SIGNIN_CODE }, expect: 401 });
await call('GET', P + '?limit=1', { token: si.token, expect: 200 });
await call('GET', '/api/v1/console/whoami', { token: VIEWER_TOKEN, expect: 200 }).then(x => {
  if (x.json.admin || !x.json.viewer || x.json.sub !== 'vera' || x.json.duration_min !== 10 || x.json.duration_max !== 300)
    fail('whoami of the viewer: ' + x.text);
  // serve_fixture.sh's PROFD_TARGETS names shop and shop-b
  if (JSON.stringify(x.json.services) !== JSON.stringify(['shop', 'shop-b'])) fail('whoami services: ' + x.text);
});
await call('GET', '/api/v1/console/whoami', { expect: 401 });
await call('GET', '/api/v1/console/whoami', { token: GUEST_TOKEN, expect: 403 });
// the rest
await call('GET', '/api/v1/openapi.json', { expect: 200 });
await call('GET', '/healthz', { expect: 200 });
await call('GET', '/readyz', { expect: 200 });
await call('GET', '/metrics', { expect: 200 });
await call('GET', '/', { expect: 200 });
await call('GET', '/console/app.js', { expect: 200 });
await call('GET', '/console/app.css', { expect: 200 });
await call('GET', '/console/nothing.js', { expect: 404 });

const UNTESTED = {
  ['post ' + P + '/start 503']: 'needs py-spy missing or a dead store/bus (test_api_http, test_api_cmd)',
  ['get ' + P + '/{id}/flamegraph 200']: 'only a file store without a link base serves the file itself (test_api_http_sessions)',
  ['get ' + P + '/{id}/raw 200']: 'as flamegraph',
  ['get /api/v1/files/{object} 404']: 'needs a valid signature on a missing object (test_api_http_sessions)',
  'post /api/v1/monitoring/alerts/alertmanager 503': 'needs PROFD_ALERT_TOKEN unset (tests/alert)',
  'post /api/v1/monitoring/alerts/gcp 503': 'as alertmanager',
  'get /readyz 503': 'needs a dead store or bus (tests/faults)',
};
let documented = 0;
for (const [t, item] of Object.entries(doc.paths))
  for (const [m, op] of Object.entries(item)) {
    if (!op.responses) continue;
    for (const st of Object.keys(op.responses)) {
      documented++;
      const k = m + ' ' + t + ' ' + st;
      if (!covered.has(k) && !UNTESTED[k]) fail('documented but not exercised: ' + k);
      if (covered.has(k) && UNTESTED[k]) fail('exercised, drop it from UNTESTED: ' + k);
    }
  }
console.log('statuses: ' + covered.size + ' of ' + documented + ' documented answered as documented; ' +
            Object.keys(UNTESTED).length + ' left to other tests: ' + Object.keys(UNTESTED).join('; '));
process.exitCode = failed ? 1 : 0;
