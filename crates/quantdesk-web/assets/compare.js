// Runs compared: each run's equity curve rebased to 100 at its start, one colour per run, in the
// order of the table's columns.
import { createChart, LineSeries } from './vendor/lightweight-charts-5.2.1/lightweight-charts.standalone.production.mjs';
import { followTheme, themeOptions } from './chart-theme.js';

const page = document.querySelector('.compare-page');
const ids = page.dataset.ids ? page.dataset.ids.split(',') : [];
const colours = ['#1971c2', '#e8590c', '#2f9e44', '#9c36b5', '#f08c00', '#495057'];

async function draw() {
  const box = document.getElementById('compare-equity');
  if (!box || ids.length < 2) return;
  const chart = followTheme(createChart(box, { autoSize: true, timeScale: { timeVisible: false }, ...themeOptions() }));
  const results = await Promise.all(ids.map(async (id) => {
    const res = await fetch(`/api/v1/jobs/${id}/artifacts/result.json`);
    if (!res.ok) throw new Error(`#${id}: HTTP ${res.status}`);
    return res.json();
  }));
  results.forEach((r, i) => {
    const start = r.equity_curve.length ? r.equity_curve[0][1] : 1;
    const line = chart.addSeries(LineSeries, { color: colours[i % colours.length], lineWidth: 2, title: `#${ids[i]}` });
    line.setData(r.equity_curve.map(([t, e]) => ({ time: t, value: (e / start) * 100 })));
  });
  chart.timeScale().fitContent();
  page.dataset.ready = String(results.length);
}

draw().catch((err) => { page.dataset.ready = 'failed'; console.error(err); });
