// One backtest: follows its job, then draws the equity curve with the drawdown underneath and
// lists metrics and trades.
import { createChart, LineSeries, AreaSeries } from './vendor/lightweight-charts-5.2.1/lightweight-charts.standalone.production.mjs';
import { followTheme, themeOptions } from './chart-theme.js';

const cfg = JSON.parse(document.getElementById('bt-config').textContent);
const id = document.querySelector('.backtest-page').dataset.job;
const S = cfg.strings;
const stateEl = document.getElementById('bt-state');
const bar = document.getElementById('bt-progress');

function cell(tr, text, cls) { const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }

async function show() {
  const res = await fetch(`/api/v1/jobs/${id}/artifacts/result.json`);
  if (!res.ok) throw new Error(`result.json: HTTP ${res.status}`);
  const r = await res.json();
  document.getElementById('bt-result').hidden = false;
  const chart = followTheme(createChart(document.getElementById('bt-equity'), { autoSize: true, timeScale: { timeVisible: false }, ...themeOptions() }));
  const equity = chart.addSeries(LineSeries, { color: '#1971c2', lineWidth: 2 });
  equity.setData(r.equity_curve.map(([t, e]) => ({ time: t, value: e })));
  if (r.benchmark && r.benchmark.curve && r.benchmark.curve.length) {
    const bench = chart.addSeries(LineSeries, { color: '#868e96', lineWidth: 1, lineStyle: 2, title: `${S.benchmark} ${r.benchmark.symbol}` });
    bench.setData(r.benchmark.curve.map(([t, v]) => ({ time: t, value: v })));
  }
  monthly(r.equity_curve);
  let peak = -Infinity;
  const dd = chart.addSeries(AreaSeries, { lineColor: '#e03131', topColor: 'rgba(224,49,49,0.05)', bottomColor: 'rgba(224,49,49,0.4)' }, 1);
  dd.setData(r.equity_curve.map(([t, e]) => { peak = Math.max(peak, e); return { time: t, value: (e / peak - 1) * 100 }; }));
  chart.timeScale().fitContent();
  const m = r.metrics;
  // a ratio without a defined value (no variance, no trades) arrives as null
  const num = (x, digits) => (typeof x === 'number' ? x.toFixed(digits) : '—');
  const pct = (x) => (typeof x === 'number' ? `${num(x * 100, 2)} %` : '—');
  const rows = [[S.finalEquity, num(r.final_equity, 2)], [S.totalReturn, pct(m.total_return)], [S.cagr, pct(m.cagr)], [S.sharpe, num(m.sharpe, 3)],
    [S.sortino, num(m.sortino, 3)], [S.maxDrawdown, pct(m.max_drawdown && m.max_drawdown.depth)], [S.trades, String(m.trades)], [S.winRate, pct(m.win_rate)]];
  const table = document.getElementById('bt-metrics');
  for (const [k, v] of rows) { const tr = table.insertRow(); cell(tr, k); cell(tr, v); }
  const trades = document.getElementById('bt-trades');
  const head = trades.createTHead().insertRow();
  for (const h of S.tradeColumns) { const th = document.createElement('th'); th.textContent = h; head.append(th); }
  const body = trades.createTBody();
  const day = (t) => (t ? new Date(t * 1000).toISOString().slice(0, 10) : '—');
  for (const t of r.trades) {
    const tr = body.insertRow();
    cell(tr, t.symbol); cell(tr, day(t.entry_time)); cell(tr, String(t.entry_price)); cell(tr, day(t.exit_time));
    cell(tr, t.exit_price == null ? '' : String(t.exit_price)); cell(tr, String(t.quantity)); cell(tr, t.pnl.toFixed(2), t.pnl >= 0 ? 'up' : 'down');
  }
  const first = r.trades[0] ? r.trades[0].symbol : null;
  // the run's bars as the run saw them: its resolution and adjustment
  const q = new URLSearchParams({ res: cfg.resolution || '1D', adj: cfg.adjustment || 'qfq', backtest: id });
  if (first) document.getElementById('bt-on-chart').href = `/chart/${encodeURIComponent(first)}?${q}`;
  document.querySelector('.backtest-page').dataset.ready = 'true';
}

/** Returns by calendar month (UTC) of the equity curve: the month's last equity over the
 * previous month's last (the first month over the starting equity), one row per year. */
function sign(x) { return x > 0.005 ? 'up' : x < -0.005 ? 'down' : ''; }

function monthly(curve) {
  if (!curve.length) return;
  const last = new Map();
  for (const [t, e] of curve) {
    const d = new Date(t * 1000);
    last.set(`${d.getUTCFullYear()}-${d.getUTCMonth()}`, e);
  }
  const years = [...new Set(curve.map(([t]) => new Date(t * 1000).getUTCFullYear()))];
  const table = document.getElementById('bt-monthly');
  const head = table.createTHead().insertRow();
  for (const h of ['', ...Array.from({ length: 12 }, (_, i) => String(i + 1)), 'Σ']) { const th = document.createElement('th'); th.textContent = h; head.append(th); }
  const body = table.createTBody();
  let prev = curve[0][1];
  for (const y of years) {
    const tr = body.insertRow();
    cell(tr, String(y));
    const startOfYear = prev;
    for (let m = 0; m < 12; m++) {
      const e = last.get(`${y}-${m}`);
      if (e === undefined) { cell(tr, ''); continue; }
      const ret = (e / prev - 1) * 100;
      cell(tr, ret.toFixed(2), sign(ret));
      prev = e;
    }
    const year = (prev / startOfYear - 1) * 100;
    cell(tr, year.toFixed(2), sign(year));
  }
}

function fail(message) {
  document.getElementById('bt-error').textContent = message;
  document.querySelector('.backtest-page').dataset.ready = 'failed';
}

const events = new EventSource(`/api/v1/jobs/${id}/events`);
events.addEventListener('job', (e) => {
  const job = JSON.parse(e.data);
  stateEl.textContent = (cfg.terms && cfg.terms[job.state]) || job.state;
  bar.max = Math.max(job.progress.total, 1);
  bar.value = job.progress.done;
  if (job.state === 'succeeded') {
    events.close();
    // The split by regime is rendered by the server: a page opened before the run finished is
    // rendered again once it has.
    if (cfg.state !== 'succeeded') { location.reload(); return; }
    show().catch((err) => fail(String(err)));
  }
  if (job.state === 'failed' || job.state === 'cancelled') { events.close(); fail(job.error || job.state); }
});
events.addEventListener('end', () => events.close());

// "Run the dynamics test": a dynamics_test job of this run's strategy, parameters and first
// symbol; its page shows the radar once it has finished.
const dynButton = document.getElementById('bt-dynamics');
if (dynButton && cfg.dynamics) {
  dynButton.addEventListener('click', async () => {
    dynButton.disabled = true;
    const out = document.getElementById('bt-dynamics-error');
    out.textContent = '';
    try {
      const res = await fetch('/api/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'dynamics_test', params: cfg.dynamics }) });
      const v = await res.json();
      if (res.ok) { location.href = `/dynamics/${v.id}`; return; }
      out.innerHTML = '';
      const span = document.createElement('span'); span.className = 'error'; span.textContent = v.error ? v.error.message : `HTTP ${res.status}`;
      out.append(span);
    } catch (err) {
      out.textContent = String(err);
    }
    dynButton.disabled = false;
  });
}
