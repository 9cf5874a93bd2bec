// The import page: preview the first rows with the detected column mapping, let the user change
// the mapping, upload with a progress bar, and show the result or the line-numbered error.
const cfg = JSON.parse(document.getElementById('import-config').textContent);
const S = cfg.strings;
const form = document.getElementById('import-form');
const fileInput = document.getElementById('file');
const previewBox = document.getElementById('preview-box');
const table = document.getElementById('preview');
const button = document.getElementById('import-button');
const progress = document.getElementById('import-progress');
const result = document.getElementById('import-result');
const FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume', 'amount', 'adj_factor', 'symbol'];
let columns = [];

function say(cls, text) {
  result.innerHTML = '';
  const p = document.createElement('p');
  p.className = cls;
  p.textContent = text;
  result.append(p);
}

async function preview() {
  const file = fileInput.files[0];
  button.disabled = true;
  previewBox.hidden = true;
  result.innerHTML = '';
  if (!file) return;
  const head = file.slice(0, 256 * 1024);
  const body = new FormData();
  body.append('file', head, file.name);
  body.append('complete', String(file.size <= 256 * 1024));
  const res = await fetch('/api/v1/imports/preview', { method: 'POST', body });
  const v = await res.json();
  if (!res.ok) { say('error', `${S.failed}: ${v.error.message}`); return; }
  columns = v.columns;
  table.innerHTML = '';
  // One select per file column: which field it feeds.
  const fieldOf = {};
  for (const [field, col] of Object.entries(v.detected)) if (col !== null && FIELDS.includes(field)) fieldOf[col] = field;
  const thead = table.createTHead();
  const names = thead.insertRow();
  const maps = thead.insertRow();
  for (const col of columns) {
    const th = document.createElement('th'); th.textContent = col; names.append(th);
    const td = document.createElement('th');
    const sel = document.createElement('select');
    sel.dataset.column = col;
    sel.setAttribute('aria-label', col);
    for (const f of ['', ...FIELDS]) {
      const o = document.createElement('option');
      o.value = f; o.textContent = f === '' ? S.columnNone : f === 'symbol' ? S.symbolColumn : f;
      if ((fieldOf[col] || '') === f) o.selected = true;
      sel.append(o);
    }
    td.append(sel); maps.append(td);
  }
  const tbody = table.createTBody();
  for (const row of v.rows) {
    const tr = tbody.insertRow();
    for (const cell of row) { const td = tr.insertCell(); td.textContent = cell; }
  }
  previewBox.hidden = false;
  check();
}
fileInput.addEventListener('change', () => { preview().catch((e) => say('error', String(e))); });

// What an import needs before it is sent: a column for each price field and the time, and a
// symbol (typed, or a column). Said here, in the reader's language, not after the upload.
const REQUIRED = ['time', 'open', 'high', 'low', 'close'];
function check() {
  if (previewBox.hidden) return;
  const chosen = new Set([...table.querySelectorAll('select')].map((s) => s.value));
  const missing = REQUIRED.filter((f) => !chosen.has(f));
  const symbol = document.getElementById('symbol').value.trim() !== '' || chosen.has('symbol');
  result.innerHTML = '';
  if (missing.length) say('error', `${S.missing} ${missing.join(', ')}`);
  else if (!symbol) say('error', S.needSymbol);
  button.disabled = missing.length > 0 || !symbol;
}
table.addEventListener('change', check);
document.getElementById('symbol').addEventListener('input', check);

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const file = fileInput.files[0];
  if (!file) return;
  const body = new FormData();
  body.append('resolution', document.getElementById('resolution').value);
  const symbol = document.getElementById('symbol').value.trim();
  if (symbol) body.append('symbol', symbol);
  for (const sel of table.querySelectorAll('select')) {
    if (!sel.value) continue;
    if (sel.value === 'symbol') { if (!symbol) body.append('symbol_column', sel.dataset.column); }
    else body.append(`${sel.value}_column`, sel.dataset.column);
  }
  body.append('file', file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/v1/imports/bars');
  progress.hidden = false; progress.value = 0; button.disabled = true; result.innerHTML = '';
  xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) progress.value = Math.round((ev.loaded / ev.total) * 90); };
  xhr.onload = () => {
    progress.value = 100; button.disabled = false;
    let v = null;
    try { v = JSON.parse(xhr.responseText); } catch { v = null; }
    if (xhr.status === 200 && v) {
      const what = v.unchanged ? S.unchanged : `${v.bars_changed} ${S.changed}`;
      say('ok', `${S.done}: ${v.bars} ${S.bars} (${v.rows} ${S.rows}), ${v.symbols} × ${v.resolution}. ${what}`);
    } else {
      say('error', `${S.failed}: ${v && v.error ? v.error.message : xhr.statusText}`);
    }
  };
  xhr.onerror = () => { button.disabled = false; say('error', S.failed); };
  xhr.send(body);
});
