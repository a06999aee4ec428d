// app.js - the profd console: a small single-page app over the REST API
// (docs/console.md). No framework, no build step, nothing from another
// origin. The bearer token lives in sessionStorage only and goes out in the
// Authorization header only; the one-time ?code= of `profd serve`'s sign-in
// link is exchanged once and removed from the address bar. Elements are built
// with textContent (never innerHTML), so names from profiles cannot inject
// markup. Views: #/ sessions (list, filters, start form), #/s/ID (one
// session: progress, live flame graph, the stored flame graph, downloads,
// cancel), #/compare/A/B (diff flame graph and what changed).
'use strict';
(function () {
  var API = '/api/v1/monitoring/profile';
  var KEY = 'profd.token';
  var app = document.getElementById('app');
  var state = { token: sessionStorage.getItem(KEY), admin: false, sub: '', timers: [], streams: [] };

  // ---- little helpers -----------------------------------------------------
  function el(tag, attrs) {
    var e = document.createElement(tag);
    var kids = Array.prototype.slice.call(arguments, 2);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') e.textContent = v;
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else if (k === 'className') e.className = v;
      else e.setAttribute(k, v === true ? '' : v);
    });
    kids.forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    });
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function stopAll() {
    state.timers.forEach(clearInterval);
    state.timers = [];
    state.streams.forEach(function (s) { s.abort(); });
    state.streams = [];
  }
  function every(ms, fn) { state.timers.push(setInterval(fn, ms)); }
  function fmtTime(s) { return s ? new Date(s).toLocaleString() : '—'; }
  function pct(x) { return x === null || x === undefined ? '—' : x.toFixed(2) + ' %'; }
  function fmtBytes(n) {
    if (n === null || n === undefined) return '—';
    var u = ['B', 'KiB', 'MiB', 'GiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }
  // what a session measured: samples for CPU, live bytes for memory (docs/memory.md)
  function amount(s) {
    if (s.profile_type === 'memory') return fmtBytes(s.bytes_total);
    return s.sample_count === null || s.sample_count === undefined ? '—' : String(s.sample_count);
  }
  function elapsed(s) {
    if (!s.started_at) return 0;
    var end = s.completed_at ? Date.parse(s.completed_at) : Date.now();
    return Math.max(0, (end - Date.parse(s.started_at)) / 1000);
  }
  function isUuid(x) { return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(x); }

  // ---- the API --------------------------------------------------------------
  function call(method, path, body, accept) {
    var h = {};
    if (state.token) h.Authorization = 'Bearer ' + state.token;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (accept) h.Accept = accept;
    return fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
                         credentials: 'omit', cache: 'no-store' })
      .then(function (r) {
        return r.text().then(function (t) {
          var j = null;
          try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
          if (r.status === 401 && path.indexOf('/signin') < 0) signOut((j && j.detail) || 'Not authenticated');
          return { status: r.status, json: j, text: t, headers: r.headers };
        });
      });
  }
  function detail(r) { return (r.json && r.json.detail) || ('HTTP ' + r.status); }

  // ---- sign-in ----------------------------------------------------------------
  function signOut(why) {
    sessionStorage.removeItem(KEY);
    state.token = null;
    showSignIn(why);
  }
  // The API decides who may start and cancel; the page only hides what it would refuse.
  function learnRole() {
    return call('GET', '/api/v1/console/whoami').then(function (r) {
      if (r.status !== 200) { signOut(detail(r)); return; }
      state.admin = r.json.admin;
      state.sub = r.json.sub;
      state.dmin = r.json.duration_min;
      state.dmax = r.json.duration_max;
      (r.json.services || []).forEach(function (n) { known[n] = true; }); // PROFD_TARGETS, for the form
      document.getElementById('who').textContent = state.sub + ' · ' + (state.admin ? 'admin' : 'viewer');
      document.getElementById('signout').hidden = false;
    });
  }
  function showSignIn(why) {
    stopAll();
    document.getElementById('who').textContent = '';
    document.getElementById('signout').hidden = true;
    clear(app);
    var ta = el('textarea', { id: 'token', placeholder: 'Paste a bearer token (JWT)', spellcheck: 'false', autocomplete: 'off' });
    var msg = el('p', { id: 'signin-error', className: 'error', text: why || '' });
    var form = el('form', { id: 'signin', className: 'card', onsubmit: function (ev) {
      ev.preventDefault();
      var t = ta.value.trim().replace(/^Bearer\s+/i, '');
      if (!t) { msg.textContent = 'Paste a token first.'; return; }
      state.token = t;
      call('GET', API + '?limit=1').then(function (r) {
        if (r.status !== 200) { state.token = null; msg.textContent = detail(r); return; }
        sessionStorage.setItem(KEY, t);
        learnRole().then(function () { if (state.token) route(); });
      });
    } },
      el('h1', { text: 'Sign in' }),
      el('p', { className: 'note', text: 'The token is kept in this tab only (sessionStorage). profd serve prints a one-time sign-in link.' }),
      ta, msg, el('div', { className: 'actions' }, el('button', { className: 'primary', type: 'submit', text: 'Sign in' })));
    app.appendChild(form);
  }
  function exchangeCode(code) {
    return call('POST', '/api/v1/console/signin', { code: code }).then(function (r) {
      if (r.status === 200 && r.json && r.json.token) {
        state.token = r.json.token;
        sessionStorage.setItem(KEY, state.token);
        return true;
      }
      showSignIn(detail(r));
      return false;
    });
  }

  // ---- sessions list ---------------------------------------------------------
  var list = { service: '', status: '', trigger: '', page: 0, per: 20, picked: [] };
  var known = {}; // services seen, for the start form
  function listQuery() {
    var q = ['limit=100', 'links=false'];
    if (list.service) q.push('service_name=' + encodeURIComponent(list.service));
    if (list.status) q.push('status=' + encodeURIComponent(list.status));
    return API + '?' + q.join('&');
  }
  function select(id, label, value, options, onchange) {
    var s = el('select', { id: id, onchange: function () { onchange(s.value); } });
    options.forEach(function (o) { s.appendChild(el('option', { value: o[0], text: o[1], selected: o[0] === value })); });
    return el('label', null, label, s);
  }
  function viewList() {
    clear(app);
    app.appendChild(el('h1', { text: 'Profiling sessions' }));
    if (state.admin) app.appendChild(startForm());
    var err = el('p', { id: 'list-error', className: 'error' });
    var svc = el('input', { id: 'f-service', value: list.service, placeholder: 'any', spellcheck: 'false' });
    svc.addEventListener('change', function () { list.service = svc.value.trim(); list.page = 0; refresh(); });
    app.appendChild(el('div', { className: 'row card', id: 'filters' },
      el('label', null, 'Service', svc),
      select('f-status', 'Status', list.status, [['', 'any'], ['queued', 'queued'], ['running', 'running'], ['completed', 'completed'], ['failed', 'failed']],
             function (v) { list.status = v; list.page = 0; refresh(); }),
      select('f-trigger', 'Trigger', list.trigger, [['', 'any'], ['api', 'api'], ['alert', 'alert'], ['cli', 'submit (cli)'], ['schedule', 'schedule'], ['reprocess', 'reprocess']],
             function (v) { list.trigger = v; list.page = 0; refresh(); }),
      el('button', { id: 'compare-picked', type: 'button', text: 'Compare selected', disabled: true, onclick: function () {
        if (list.picked.length === 2) location.hash = '#/compare/' + list.picked[0] + '/' + list.picked[1];
      } })));
    var body = el('tbody');
    var pager = el('div', { className: 'pager' });
    app.appendChild(err);
    app.appendChild(el('div', { className: 'scroll' }, el('table', { id: 'sessions' },
      el('thead', null, el('tr', null, el('th', { text: '' }), el('th', { text: 'Created' }), el('th', { text: 'Service' }),
        el('th', { text: 'Status' }), el('th', { className: 'num', text: 'Duration' }), el('th', { className: 'num', text: 'Samples / bytes' }),
        el('th', { className: 'num', text: 'Overhead' }), el('th', { text: 'Requested by' }), el('th', { text: 'Error' }))),
      body)));
    app.appendChild(pager);
    function draw(rows) {
      clear(body);
      var shown = rows.filter(function (s) { return !list.trigger || s.trigger === list.trigger; });
      var pages = Math.max(1, Math.ceil(shown.length / list.per));
      if (list.page >= pages) list.page = pages - 1;
      shown.slice(list.page * list.per, (list.page + 1) * list.per).forEach(function (s) {
        var box = el('input', { type: 'checkbox', title: 'pick for compare', checked: list.picked.indexOf(s.session_id) >= 0,
                                disabled: s.status !== 'completed', 'aria-label': 'compare ' + s.session_id });
        box.addEventListener('click', function (ev) {
          ev.stopPropagation();
          var i = list.picked.indexOf(s.session_id);
          if (i >= 0) list.picked.splice(i, 1); else list.picked.push(s.session_id);
          if (list.picked.length > 2) list.picked.shift();
          document.getElementById('compare-picked').disabled = list.picked.length !== 2;
        });
        var dur = s.status === 'running' ? Math.floor(elapsed(s)) + ' / ' + s.duration_seconds + ' s' : s.duration_seconds + ' s';
        body.appendChild(el('tr', { className: 'link', 'data-id': s.session_id, onclick: function () { location.hash = '#/s/' + s.session_id; } },
          el('td', null, box), el('td', { text: fmtTime(s.created_at) }), el('td', { text: s.service_name }),
          el('td', null, el('span', { className: 'status ' + s.status, text: s.status })),
          el('td', { className: 'num', text: dur }),
          el('td', { className: 'num', text: amount(s) }),
          el('td', { className: 'num', text: pct(s.overhead_percent) }),
          el('td', { text: (s.requested_by || '—') + ' (' + (s.trigger || '?') + ')' }),
          el('td', { className: 'err-text', text: s.status === 'failed' ? (s.error_code || '') + ': ' + (s.error_message || '') : '' })));
      });
      if (!shown.length) body.appendChild(el('tr', null, el('td', { colspan: '9', className: 'note', text: 'No sessions.' })));
      clear(pager);
      pager.appendChild(el('button', { type: 'button', text: '‹ Newer', disabled: list.page === 0, onclick: function () { list.page--; draw(rows); } }));
      pager.appendChild(el('span', { id: 'page', text: 'Page ' + (list.page + 1) + ' of ' + pages + ' (' + shown.length + ' sessions)' }));
      pager.appendChild(el('button', { type: 'button', text: 'Older ›', disabled: list.page >= pages - 1, onclick: function () { list.page++; draw(rows); } }));
    }
    function refresh() {
      return call('GET', listQuery()).then(function (r) {
        if (r.status !== 200) { err.textContent = detail(r); return; }
        err.textContent = '';
        r.json.forEach(function (s) { if (s.service_name) known[s.service_name] = true; });
        fillServices();
        draw(r.json);
      });
    }
    refresh();
    every(3000, refresh);
  }
  function fillServices() {
    var dl = document.getElementById('services');
    if (!dl) return;
    clear(dl);
    Object.keys(known).sort().forEach(function (n) { dl.appendChild(el('option', { value: n })); });
  }
  function startForm() {
    var msg = el('p', { id: 'start-error', className: 'error', role: 'alert' });
    var f = {
      service: el('input', { id: 's-service', required: true, list: 'services', spellcheck: 'false', autocomplete: 'off', placeholder: 'web-api' }),
      duration: el('input', { id: 's-duration', type: 'number', value: String(Math.min(Math.max(30, state.dmin || 1), state.dmax || 30)),
                              min: state.dmin, max: state.dmax, step: '1' }),
      pid: el('input', { id: 's-pid', type: 'number', min: '1', placeholder: 'any' }),
      host: el('input', { id: 's-host', placeholder: 'any', spellcheck: 'false' }),
      rate: el('input', { id: 's-rate', type: 'number', value: '100', min: '1', max: '1000' }),
      type: el('select', { id: 's-type', onchange: function () { f.rate.disabled = f.type.value === 'memory'; } },
        el('option', { value: 'cpu', text: 'CPU' }), el('option', { value: 'memory', text: 'Memory (CPython 3.14+)' }))
    };
    // novalidate: out-of-bounds values go to the API, whose words are shown
    var form = el('form', { id: 'start', className: 'card', novalidate: true, onsubmit: function (ev) {
      ev.preventDefault();
      msg.textContent = '';
      var body = { service_name: f.service.value.trim(), duration_seconds: Number(f.duration.value) };
      if (f.type.value === 'memory') body.profile_type = 'memory'; // tracemalloc: no rate
      else body.rate_hz = Number(f.rate.value);
      if (f.pid.value) body.pid = Number(f.pid.value);
      if (f.host.value.trim()) body.host = f.host.value.trim();
      window.profdStartClicked = performance.now();
      call('POST', API + '/start', body).then(function (r) {
        if (r.status === 201) location.hash = '#/s/' + r.json.session_id;
        else msg.textContent = detail(r); // the API's words, as they are
      });
    } },
      el('h2', { text: 'Start a capture' }),
      el('datalist', { id: 'services' }),
      el('div', { className: 'row' },
        el('label', null, 'Service', f.service), el('label', null, 'Type', f.type),
        el('label', null, 'Duration (s' + (state.dmin ? ', ' + state.dmin + '–' + state.dmax : '') + ')', f.duration),
        el('label', null, 'PID (optional)', f.pid), el('label', null, 'Host (optional)', f.host),
        el('label', null, 'Rate (Hz)', f.rate),
        el('button', { id: 's-submit', className: 'primary', type: 'submit', text: 'Start' })),
      el('p', { className: 'note', text: 'Duration bounds are the API’s (PROFD_DURATION_MIN/MAX); its errors are shown as it words them.' }),
      msg);
    setTimeout(fillServices, 0);
    return form;
  }

  // ---- a small flame graph for live stacks --------------------------------
  // The stored page (an iframe of the renderer's flamegraph.html) is the
  // picture once a session is done; while it runs this draws the collapsed
  // stacks of each live event: root at the top, widths = samples.
  function parseCollapsed(text) {
    var root = { name: 'all', value: 0, kids: {} };
    text.split('\n').forEach(function (line) {
      var sp = line.lastIndexOf(' ');
      if (sp <= 0) return;
      var n = Number(line.slice(sp + 1));
      if (!(n > 0)) return;
      var node = root;
      root.value += n;
      line.slice(0, sp).split(';').forEach(function (f) {
        var k = node.kids[f] || (node.kids[f] = { name: f, value: 0, kids: {} });
        k.value += n;
        node = k;
      });
    });
    return root;
  }
  function color(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return 'rgb(' + (205 + h % 50) + ',' + (90 + (h >> 8) % 120) + ',' + (40 + (h >> 16) % 50) + ')';
  }
  function drawFlame(canvas, root, tip) {
    var ROW = 16, W = canvas.clientWidth || 600, depth = 0;
    (function d(n, k) { depth = Math.max(depth, k); Object.keys(n.kids).forEach(function (c) { d(n.kids[c], k + 1); }); })(root, 0);
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.floor(W * ratio);
    canvas.height = Math.floor((depth + 1) * ROW * ratio);
    canvas.style.height = ((depth + 1) * ROW) + 'px';
    var g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, W, (depth + 1) * ROW);
    g.font = '11px ui-monospace, Menlo, Consolas, monospace';
    g.textBaseline = 'middle';
    var boxes = [];
    (function lay(n, x, k, w) {
      if (w < 0.3) return;
      g.fillStyle = k === 0 ? '#d2d2da' : color(n.name);
      g.fillRect(x, k * ROW, Math.max(w - 0.5, 0.5), ROW - 1);
      boxes.push([x, k * ROW, w, n]);
      if (w > 30) {
        g.fillStyle = '#111';
        var label = k === 0 ? 'all (' + n.value + ' samples)' : n.name;
        var max = Math.floor((w - 6) / 6.6);
        g.fillText(label.length > max ? label.slice(0, Math.max(max - 1, 1)) + '…' : label, x + 3, k * ROW + ROW / 2);
      }
      var cx = x;
      Object.keys(n.kids).sort().forEach(function (c) {
        var kid = n.kids[c], kw = w * kid.value / n.value;
        lay(kid, cx, k + 1, kw);
        cx += kw;
      });
    })(root, 0, 0, W);
    canvas.onmousemove = function (ev) {
      var r = canvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
      for (var i = 0; i < boxes.length; i++) {
        var b = boxes[i];
        if (x >= b[0] && x < b[0] + b[2] && y >= b[1] && y < b[1] + ROW) {
          tip.textContent = b[3].name + ' — ' + b[3].value + ' samples (' + (100 * b[3].value / root.value).toFixed(1) + ' %)';
          return;
        }
      }
      tip.textContent = '';
    };
  }

  // Server-Sent Events over fetch, so the token goes in a header (EventSource
  // cannot send one). Reconnects with Last-Event-ID until the final event.
  function liveStream(id, on) {
    var ctl = { aborted: false, abort: function () { this.aborted = true; if (this.ac) this.ac.abort(); } };
    var last = null;
    function connect() {
      if (ctl.aborted) return;
      ctl.ac = new AbortController();
      var h = { Authorization: 'Bearer ' + state.token, Accept: 'text/event-stream' };
      if (last) h['Last-Event-ID'] = last;
      var done = false;
      fetch(API + '/' + id + '/live', { headers: h, signal: ctl.ac.signal, cache: 'no-store' }).then(function (r) {
        if (r.status !== 200) { on('error', { detail: 'live: HTTP ' + r.status }); done = true; return; }
        var reader = r.body.getReader(), dec = new TextDecoder(), buf = '';
        function pump() {
          return reader.read().then(function (x) {
            if (x.done) return;
            buf += dec.decode(x.value, { stream: true });
            var i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              var block = buf.slice(0, i); buf = buf.slice(i + 2);
              var ev = 'message', data = [], eid = null;
              block.split('\n').forEach(function (l) {
                if (l.indexOf('event: ') === 0) ev = l.slice(7);
                else if (l.indexOf('data: ') === 0) data.push(l.slice(6));
                else if (l.indexOf('id: ') === 0) eid = l.slice(4);
              });
              if (eid) last = eid;
              if (ev === 'final' || ev === 'gone') done = true;
              if (data.length) on(ev, data.join('\n'));
              if (done) { ctl.ac.abort(); return; } // the last event: stop reading here
            }
            return pump();
          });
        }
        return pump();
      }).catch(function () { /* dropped: reconnect below */ }).then(function () {
        if (!done && !ctl.aborted) setTimeout(connect, 1000);
      });
    }
    connect();
    state.streams.push(ctl);
    return ctl;
  }

  // ---- one session -----------------------------------------------------------
  function download(id, format) {
    var ext = { collapsed: 'txt', speedscope: 'speedscope.json', pprof: 'pb.gz', html: 'html' }[format];
    fetch(API + '/' + id + '/export/' + format, { headers: { Authorization: 'Bearer ' + state.token }, cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.blob(); })
      .then(function (b) {
        var a = el('a', { href: URL.createObjectURL(b), download: 'profile-' + id + '.' + ext });
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      })
      .catch(function (e) { var m = document.getElementById('session-error'); if (m) m.textContent = 'Download failed: ' + e.message; });
  }
  function viewSession(id) {
    clear(app);
    if (!isUuid(id)) { app.appendChild(el('p', { className: 'error', text: 'Profiling session ' + id + ' not found' })); return; }
    var head = el('h1', { id: 'session-title', text: 'Session ' + id });
    var facts = el('dl', { className: 'facts', id: 'facts' });
    var bar = el('div', null);
    var progress = el('div', { className: 'progress', role: 'progressbar', 'aria-label': 'capture progress' }, bar);
    var ptext = el('p', { id: 'progress-text', className: 'note' });
    var err = el('p', { id: 'session-error', className: 'error' });
    var actions = el('div', { className: 'actions', id: 'actions' });
    var liveBox = el('section', { id: 'live', hidden: true },
      el('h2', { text: 'Live flame graph' }), el('p', { id: 'live-note', className: 'note' }),
      el('canvas', { id: 'live-canvas', className: 'live', 'data-samples': '0', 'data-frames': '0' }),
      el('div', { id: 'livetip' }));
    var finalBox = el('section', { id: 'final', hidden: true });
    app.appendChild(head);
    app.appendChild(el('div', { className: 'card' }, facts, progress, ptext, err, actions));
    app.appendChild(liveBox);
    app.appendChild(finalBox);
    var cur = null, shownFinal = false, frames = 0;
    function fact(k, v) { facts.appendChild(el('dt', { text: k })); facts.appendChild(el('dd', { text: v })); }
    function show(s) {
      cur = s;
      head.textContent = s.service_name + ' · ' + s.status;
      head.className = '';
      clear(facts);
      fact('Session', s.session_id);
      fact('Status', s.status);
      fact('Requested by', (s.requested_by || '—') + ' (' + (s.trigger || '?') + ')');
      fact('Created', fmtTime(s.created_at));
      fact('Target', (s.pid ? 'pid ' + s.pid : 'any process') + (s.host ? ' on ' + s.host : ''));
      fact('Sampler', s.sampler || '—');
      var memory = s.profile_type === 'memory';
      fact('Type', memory ? 'memory (tracemalloc through PEP 768)' : 'cpu');
      if (memory) fact('Live bytes', fmtBytes(s.bytes_total) + (s.blocks_total === null || s.blocks_total === undefined ? '' : ' in ' + s.blocks_total + ' blocks'));
      else fact('Samples', amount(s));
      fact('Overhead', pct(s.overhead_percent));
      if (s.status === 'failed') err.textContent = (s.error_code || 'failed') + ': ' + (s.error_message || '');
      var el_s = elapsed(s), frac = s.status === 'completed' ? 1 : Math.min(1, el_s / Math.max(1, s.duration_seconds));
      bar.style.width = (100 * frac).toFixed(1) + '%';
      ptext.textContent = s.status === 'queued' ? 'Queued: waiting for a worker.'
        : Math.floor(Math.min(el_s, s.duration_seconds)) + ' of ' + s.duration_seconds + ' s' +
          (s.sample_count !== null ? ', ' + s.sample_count + (s.status === 'running' ? ' samples so far' : ' samples') : '');
      clear(actions);
      var running = s.status === 'queued' || s.status === 'running';
      if (running && state.admin)
        actions.appendChild(el('button', { id: 'cancel', className: 'danger', type: 'button', text: 'Cancel', onclick: function () {
          call('DELETE', API + '/' + s.session_id).then(function (r) {
            if (r.status === 202) show(r.json); else err.textContent = detail(r);
          });
        } }));
      if (running) {
        liveBox.hidden = false;
        var pyspy = /py-spy/i.test(s.sampler || '');
        document.getElementById('live-canvas').hidden = pyspy || memory;
        document.getElementById('live-note').textContent = memory
          ? 'A memory capture has no live view: tracemalloc\'s snapshot is taken at the end of the window. Progress is shown above.'
          : pyspy
          ? 'The live view needs the built-in sampler (PROFD_SAMPLER=builtin): py-spy writes its stacks only at the end. Progress is shown above.'
          : frames ? 'Redrawn from the stacks collected so far.' : 'Waiting for the first stacks (every 2 s).';
      }
      if (s.status === 'completed' && !shownFinal) showFinal(s);
    }
    function showFinal(s) {
      shownFinal = true;
      liveBox.hidden = true;
      finalBox.hidden = false;
      clear(finalBox);
      ['speedscope', 'pprof', 'collapsed', 'html'].forEach(function (f) {
        actions.appendChild(el('button', { type: 'button', id: 'dl-' + f, text: 'Download ' + f, onclick: function () { download(s.session_id, f); } }));
      });
      if (s.raw_data_url)
        actions.appendChild(el('a', { id: 'open-speedscope', href: 'https://www.speedscope.app/#profileURL=' + encodeURIComponent(s.raw_data_url),
                                      target: '_blank', rel: 'noopener noreferrer', text: 'Open in speedscope' }));
      finalBox.appendChild(el('h2', { text: 'Flame graph' }));
      if (s.flame_graph_url)
        finalBox.appendChild(el('iframe', { id: 'flame', className: 'flame', src: s.flame_graph_url, title: 'flame graph',
                                            sandbox: 'allow-scripts allow-downloads' }));
      else finalBox.appendChild(el('p', { className: 'note', text: 'No flame graph stored.' }));
    }
    call('GET', API + '/' + id).then(function (r) {
      if (r.status !== 200) { err.textContent = detail(r); return; }
      show(r.json);
      if (r.json.status === 'queued' || r.json.status === 'running') {
        var canvas = document.getElementById('live-canvas'), tip = document.getElementById('livetip');
        liveStream(id, function (ev, data) {
          if (ev === 'progress' || ev === 'final') {
            var s = JSON.parse(data);
            show(s);
            if (ev === 'final' && s.status !== 'completed') liveBox.hidden = true;
          } else if (ev === 'stacks') {
            var root = parseCollapsed(data);
            drawFlame(canvas, root, tip);
            frames++;
            canvas.setAttribute('data-samples', String(root.value));
            canvas.setAttribute('data-frames', String(frames));
            if (frames === 1 && window.profdStartClicked)
              window.profdFirstFrameMs = performance.now() - window.profdStartClicked;
            if (cur) show(cur);
          } else if (ev === 'error' || ev === 'gone') {
            err.textContent = JSON.parse(data).detail || data;
          }
        });
        every(1000, function () { if (cur && cur.status === 'running') show(cur); });
      }
    });
  }

  // ---- compare ------------------------------------------------------------------
  function viewCompare(a, b) {
    clear(app);
    app.appendChild(el('h1', { text: 'Compare two sessions' }));
    var err = el('p', { id: 'compare-error', className: 'error' });
    var sa = el('select', { id: 'c-before' }), sb = el('select', { id: 'c-after' });
    var go = el('button', { id: 'c-go', className: 'primary', type: 'button', text: 'Compare', onclick: function () {
      if (sa.value && sb.value) location.hash = '#/compare/' + sa.value + '/' + sb.value;
    } });
    app.appendChild(el('div', { className: 'row card' }, el('label', null, 'Before', sa), el('label', null, 'After', sb), go));
    app.appendChild(err);
    var out = el('section', { id: 'diff' });
    app.appendChild(out);
    call('GET', API + '?status=completed&limit=100&links=false').then(function (r) {
      if (r.status !== 200) { err.textContent = detail(r); return; }
      [sa, sb].forEach(function (s, i) {
        s.appendChild(el('option', { value: '', text: '— pick —' }));
        r.json.forEach(function (x) {
          s.appendChild(el('option', { value: x.session_id, selected: x.session_id === (i ? b : a),
                                       text: x.service_name + ' · ' + fmtTime(x.created_at) + ' · ' + x.session_id.slice(0, 8) }));
        });
      });
    });
    if (!a || !b) return;
    call('GET', API + '/' + a + '/diff/' + b + '?limit=30', undefined, 'application/json').then(function (r) {
      if (r.status !== 200) { err.textContent = detail(r); return; }
      var d = r.json, body = el('tbody');
      d.changes.forEach(function (c) {
        body.appendChild(el('tr', null, el('td', { text: c.function }), el('td', { className: 'hide-narrow', text: c.file }),
          el('td', { className: 'num', text: c.share_before.toFixed(2) + ' %' }), el('td', { className: 'num', text: c.share_after.toFixed(2) + ' %' }),
          el('td', { className: 'num ' + (c.delta_points > 0 ? 'grow' : c.delta_points < 0 ? 'shrink' : ''),
                     text: (c.delta_points > 0 ? '+' : '') + c.delta_points.toFixed(2) })));
      });
      out.appendChild(el('p', { className: 'note', text: 'Before: ' + d.before_samples + ' samples; after: ' + d.after_samples +
        ' samples. Share = % of a profile’s samples with the function on the stack; red grew, green shrank.' }));
      out.appendChild(el('h2', { text: 'Functions that grew or shrank most' }));
      out.appendChild(el('div', { className: 'scroll' }, el('table', { id: 'diff-table' },
        el('thead', null, el('tr', null, el('th', { text: 'Function' }), el('th', { className: 'hide-narrow', text: 'File' }),
          el('th', { className: 'num', text: 'Before' }), el('th', { className: 'num', text: 'After' }), el('th', { className: 'num', text: 'Δ points' }))),
        body)));
      out.appendChild(el('h2', { text: 'Differential flame graph' }));
      if (d.flame_graph_url)
        out.appendChild(el('iframe', { id: 'diff-flame', className: 'flame', src: d.flame_graph_url, title: 'differential flame graph',
                                       sandbox: 'allow-scripts allow-downloads' }));
    });
  }

  // ---- routing --------------------------------------------------------------------
  function route() {
    stopAll();
    if (!state.token) { showSignIn(); return; }
    var h = location.hash.replace(/^#\/?/, '').split('/');
    if (h[0] === 's' && h[1]) viewSession(h[1]);
    else if (h[0] === 'compare') viewCompare(h[1], h[2]);
    else viewList();
  }
  document.getElementById('signout').addEventListener('click', function () { signOut('Signed out.'); });
  window.addEventListener('hashchange', route);
  var code = new URLSearchParams(location.search).get('code');
  var ready = Promise.resolve(true);
  if (code) {
    history.replaceState(null, '', location.pathname + location.hash); // the code never stays in the address bar
    ready = exchangeCode(code);
  }
  ready.then(function (ok) {
    if (!ok) return;
    if (state.token) learnRole().then(function () { if (state.token) route(); }); else route();
  });
})();
