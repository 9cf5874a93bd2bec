// A sweep's results: every run in a table sortable by any column, and a heat map of one metric
// over two parameters (the best run of each cell when more parameters vary).
const page = document.querySelector('.sweep-page');
const id = page.dataset.job;
const S = JSON.parse(document.getElementById('sw-config').textContent).strings;
// metric key, label, scale, digits, larger is better
const METRICS = [
  ['sharpe', S.sharpe, 1, 3, true], ['sortino', S.sortino, 1, 3, true], ['calmar', S.calmar, 1, 3, true],
  ['total_return', `${S.totalReturn} %`, 100, 2, true], ['cagr', `${S.cagr} %`, 100, 2, true],
  ['max_drawdown', `${S.maxDrawdown} %`, 100, 2, true], ['win_rate', `${S.winRate} %`, 100, 1, true],
  ['profit_factor', S.profitFactor, 1, 3, true], ['trades', S.trades, 1, 0, true],
];
const value = (row, key) => {
  const v = key === 'max_drawdown' ? row.metrics.max_drawdown && row.metrics.max_drawdown.depth : row.metrics[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const fmt = (v, scale, digits) => (v === null || v === undefined ? '—' : digits < 0 ? String(v) : (v * scale).toFixed(digits));

function table(rows, names) {
  const t = document.getElementById('sw-rows');
  t.replaceChildren();
  const cols = [...names.map((n) => [n, n, (r) => r.params[n], 1, -1]), ['final_equity', S.finalEquity, (r) => r.final_equity, 1, 2],
    ...METRICS.map(([k, label, scale, digits]) => [k, label, (r) => value(r, k), scale, digits])];
  let sort = { col: cols.findIndex((c) => c[0] === page.dataset.metric), desc: true };
  const head = t.createTHead().insertRow();
  const body = t.createTBody();
  const render = () => {
    const get = cols[sort.col][2];
    const sorted = [...rows].sort((a, b) => {
      const x = get(a), y = get(b);
      if (x === null) return 1; if (y === null) return -1;
      return sort.desc ? y - x : x - y;
    });
    body.replaceChildren();
    for (const r of sorted) {
      const tr = body.insertRow();
      for (const [, , g, scale, digits] of cols) tr.insertCell().textContent = fmt(g(r), scale, digits);
    }
    [...head.cells].forEach((th, i) => { th.dataset.sort = i === sort.col ? (sort.desc ? 'desc' : 'asc') : ''; });
  };
  cols.forEach(([, label], i) => {
    const th = document.createElement('th');
    th.textContent = label;
    th.tabIndex = 0;
    th.addEventListener('click', () => { sort = { col: i, desc: sort.col === i ? !sort.desc : true }; render(); });
    head.append(th);
  });
  if (sort.col < 0) sort.col = names.length + 1;
  render();
}

function heat(rows, names) {
  const form = document.getElementById('sw-axes');
  const [xs, ys, ms] = ['x', 'y', 'metric'].map((n) => form.elements[n]);
  for (const sel of [xs, ys]) for (const n of names) sel.append(new Option(n, n));
  for (const [k, label] of METRICS) ms.append(new Option(label, k));
  xs.value = names[0]; ys.value = names[1] || names[0]; ms.value = page.dataset.metric;
  if (!ms.value) ms.value = 'sharpe';
  const draw = () => {
    const [x, y, m] = [xs.value, ys.value, ms.value];
    const [, , scale, digits] = METRICS.find((e) => e[0] === m);
    const xv = [...new Set(rows.map((r) => r.params[x]))].sort((a, b) => a - b);
    const yv = [...new Set(rows.map((r) => r.params[y]))].sort((a, b) => a - b);
    const best = new Map();
    for (const r of rows) {
      const k = `${r.params[x]}|${r.params[y]}`, v = value(r, m);
      if (v !== null && (!best.has(k) || v > best.get(k))) best.set(k, v);
    }
    const vals = [...best.values()];
    const lo = Math.min(...vals), hi = Math.max(...vals);
    const t = document.getElementById('sw-heat');
    t.replaceChildren();
    const head = t.createTHead().insertRow();
    head.append(Object.assign(document.createElement('th'), { textContent: `${y} \\ ${x}` }));
    for (const a of xv) head.append(Object.assign(document.createElement('th'), { textContent: String(a) }));
    const body = t.createTBody();
    for (const b of yv) {
      const tr = body.insertRow();
      tr.append(Object.assign(document.createElement('th'), { textContent: String(b) }));
      for (const a of xv) {
        const td = tr.insertCell();
        const v = best.get(`${a}|${b}`);
        if (v === undefined) continue;
        td.textContent = fmt(v, scale, digits);
        const f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
        td.style.background = `hsla(${Math.round(f * 120)}, 70%, 50%, 0.35)`;
        td.dataset.value = String(v);
      }
    }
    page.dataset.heatCells = String(best.size);
  };
  for (const sel of [xs, ys, ms]) sel.addEventListener('change', draw);
  draw();
}

async function show() {
  const res = await fetch(`/api/v1/jobs/${id}/artifacts/sweep.json`);
  if (!res.ok) throw new Error(`sweep.json: HTTP ${res.status}`);
  const rows = await res.json();
  const names = rows.length ? Object.keys(rows[0].params).sort() : [];
  table(rows, names);
  heat(rows, names);
  page.dataset.ready = String(rows.length);
}

show().catch((err) => { document.getElementById('sw-error').textContent = String(err); page.dataset.ready = 'failed'; });
