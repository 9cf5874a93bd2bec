// The data page: start a sync job, check data quality, read stored financial statements.
// Everything from the server is put in with textContent, never as HTML.
const cfg = JSON.parse(document.getElementById('data-config').textContent);
const S = cfg.strings;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function say(box, cls, text, detail) {
  clear(box);
  box.append(el('p', text, cls));
  if (detail) box.append(el('p', `${S.detail}: ${detail}`, 'hint'));
}

// An error answer ({error: {code, message}}) in the page's language where the code is known.
async function showError(box, res) {
  let code = '', message = '';
  try {
    const v = await res.json();
    code = v?.error?.code || '';
    message = v?.error?.message || '';
  } catch (_) { /* not JSON */ }
  const known = cfg.errors[code];
  if (known) say(box, 'error', known, message && message !== known ? message : '');
  else say(box, 'error', message || `${S.other} (HTTP ${res.status})`);
}

async function call(box, url, init) {
  try {
    return await fetch(url, { headers: { accept: 'application/json' }, ...init });
  } catch (_) {
    say(box, 'error', S.network);
    return null;
  }
}

// ---- sync ----
const syncForm = document.getElementById('sync-form');
const syncResult = document.getElementById('sync-result');
syncForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(syncForm);
  const body = { what: f.get('what') };
  const source = String(f.get('source') || '').trim();
  if (source) body.source = source;
  body.symbols = String(f.get('symbols') || '').split(/[\s,，;；]+/).map((s) => s.trim()).filter(Boolean);
  body.all = f.get('all') === '1';
  for (const k of ['start', 'end']) if (f.get(k)) body[k] = f.get(k);
  const years = String(f.get('years') || '').trim();
  if (years) body.years = Number(years);
  say(syncResult, 'message', S.loading);
  const res = await call(syncResult, '/api/v1/sync', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res) return;
  if (!res.ok) { await showError(syncResult, res); return; }
  const v = await res.json();
  clear(syncResult);
  const p = el('p', `${S.syncStarted.replace('{id}', v.id)} `, 'ok');
  const a = el('a', S.openJob);
  a.href = `/jobs/${encodeURIComponent(v.id)}`;
  a.id = 'sync-job-link';
  p.append(a);
  syncResult.append(p);
});

// ---- quality ----
const qForm = document.getElementById('quality-form');
const qResult = document.getElementById('quality-result');
const qTable = document.getElementById('quality-table');
qForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const symbol = String(new FormData(qForm).get('symbol') || '').trim();
  qTable.hidden = true;
  say(qResult, 'message', S.loading);
  const url = '/api/v1/quality' + (symbol ? `?symbol=${encodeURIComponent(symbol)}` : '');
  const res = await call(qResult, url);
  if (!res) return;
  if (!res.ok) { await showError(qResult, res); return; }
  const v = await res.json();
  clear(qResult);
  qResult.append(el('p', S.qChecked.replace('{n}', v.symbols_checked), 'hint'));
  if (v.truncated) qResult.append(el('p', S.qTruncated, 'message notice'));
  if (!v.findings.length) { qResult.append(el('p', S.qNone, 'ok')); return; }
  const tbody = qTable.tBodies[0];
  clear(tbody);
  for (const f of v.findings) {
    const tr = tbody.insertRow();
    tr.dataset.kind = f.kind;
    tr.append(el('td', cfg.kinds[f.kind] || f.kind));
    tr.append(el('td', f.severity === 'error' ? S.sevError : S.sevWarning, f.severity === 'error' ? 'error-text' : ''));
    const td = el('td');
    const a = el('a', f.symbol);
    a.href = `/chart/${encodeURIComponent(f.symbol)}`;
    td.append(a);
    tr.append(td);
    tr.append(el('td', f.date || ''));
    tr.append(el('td', f.until || ''));
    tr.append(el('td', f.count));
    tr.append(el('td', f.detail));
  }
  qTable.hidden = false;
});

// ---- financial statements ----
const finForm = document.getElementById('fin-form');
const finResult = document.getElementById('fin-result');
const finTable = document.getElementById('fin-table');

function plain(n) {
  return n.toLocaleString(cfg.lang, { maximumFractionDigits: 4 });
}

// A number for people: amounts abbreviated (亿/万 or B/M), ratios as they are.
function formatValue(v, scale) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v !== 'number') return String(v);
  if (!scale) return plain(v);
  const x = v * scale;
  for (const [size, suffix] of cfg.units) {
    if (Math.abs(x) >= size) return (x / size).toLocaleString(cfg.lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + suffix;
  }
  return x.toLocaleString(cfg.lang, { maximumFractionDigits: 2 });
}

function renderStatement(view, allFields) {
  clear(finTable);
  const rows = [...view.rows].reverse(); // newest period first
  const thead = finTable.createTHead();
  const head = thead.insertRow();
  head.append(el('th', S.finItem));
  for (const r of rows) head.append(el('th', r.period));
  const tbody = finTable.createTBody();
  const meta = (label, pick) => {
    const tr = tbody.insertRow();
    tr.className = 'meta';
    tr.append(el('th', label));
    for (const r of rows) tr.append(el('td', pick(r) ?? '—'));
  };
  meta(S.finAnn, (r) => r.ann_date);
  meta(S.finFAnn, (r) => r.f_ann_date);
  meta(S.finRevisions, (r) => r.revisions);
  const curated = cfg.fields[view.statement] || [];
  const byField = Object.fromEntries(curated.map((f) => [f.field, f]));
  const present = new Set();
  for (const r of rows) for (const [k, v] of Object.entries(r.fields)) if (v !== null) present.add(k);
  let list = curated.filter((f) => present.has(f.field));
  if (allFields || !list.length) {
    const rest = [...present].filter((k) => !byField[k]).sort().map((k) => ({ field: k, label: k, scale: 0 }));
    list = [...curated.filter((f) => present.has(f.field)), ...rest];
  }
  for (const f of list) {
    const tr = tbody.insertRow();
    tr.dataset.field = f.field;
    const th = el('th', f.label);
    th.title = f.field;
    tr.append(th);
    for (const r of rows) {
      const v = r.fields[f.field];
      tr.append(el('td', formatValue(v, f.scale), typeof v === 'number' ? 'num' : ''));
    }
  }
  finTable.hidden = false;
}

finForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(finForm);
  const symbol = String(f.get('symbol') || '').trim();
  if (!symbol) return;
  const q = new URLSearchParams({ statement: f.get('statement'), period: f.get('period') });
  if (f.get('as_of')) q.set('as_of', f.get('as_of'));
  finTable.hidden = true;
  say(finResult, 'message', S.loading);
  const res = await call(finResult, `/api/v1/financials/${encodeURIComponent(symbol)}?${q}`);
  if (!res) return;
  if (!res.ok) { await showError(finResult, res); return; }
  const view = await res.json();
  clear(finResult);
  if (!view.rows.length) { say(finResult, 'message', S.finNone); return; }
  renderStatement(view, f.get('all_fields') === '1');
});
