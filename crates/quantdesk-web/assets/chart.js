// The chart page: candles, volume, moving averages and MACD over the UDF datafeed, with search,
// resolution and adjustment switches, history that loads while scrolling left, a refreshing last
// bar during trading hours, keyboard shortcuts, themes and A-share colours. Overlays plug in
// through window.quantdesk.addOverlay (see overlays.js); Chan layers (chan.js) and regime bands
// (regimes.js) are two. A replay
// (replay.js) clips everything drawn to its cursor: candles, volume, indicators and overlays only
// ever see the bars up to it.
import {
  createChart, createSeriesMarkers, CandlestickSeries, HistogramSeries, LineSeries, CrosshairMode, LineStyle,
} from './vendor/lightweight-charts-5.2.1/lightweight-charts.standalone.production.mjs';
import * as ind from './indicators.js';
import { limitMarksOverlay, tradesOverlay } from './overlays.js';
import { chanOverlay } from './chan.js';
import { regimesOverlay } from './regimes.js';
import { setupReplay } from './replay.js';
import { followTheme, themeOptions } from './chart-theme.js';
import { compareOverlay } from './chart-compare.js';
import { setupWatchPanel } from './watch-panel.js';

const cfg = JSON.parse(document.getElementById('chart-config').textContent);
const el = document.getElementById('chart');
const legend = document.getElementById('legend');
const indLegend = document.getElementById('ind-legend');
const message = document.getElementById('chart-message');
const S = cfg.strings;
const PAGE = 2000; // bars per request
const state = {
  symbol: cfg.symbol, name: cfg.name, resolution: cfg.resolution, adjustment: cfg.adjustment,
  timezone: cfg.timezone, session: cfg.session, pricescale: cfg.pricescale,
  bars: [], loading: false, exhausted: false, generation: 0,
  maPeriods: parseMaPeriods(localStorage.getItem('quantdesk.ma') || '5,34,170'),
  colours: localStorage.getItem('quantdesk.colours') || 'red-up',
};

// The freshest quote of the symbol (refreshQuote), shown in the legend on the newest bar.
let quote = null;

const nowSeconds = () => Math.floor(Date.now() / 1000);
// The first request of a page uses the `to` the server put in the page (and preloaded), so the
// browser can start fetching the bars before this script runs; later loads use the clock.
let preloadTo = cfg.initialTo;
function initialTo() {
  const to = preloadTo || nowSeconds() + 86400 * 2;
  preloadTo = null;
  return to;
}

function parseMaPeriods(text) {
  return text.split(/[,\s]+/).map((s) => parseInt(s, 10)).filter((n) => n > 0 && n <= 1000).slice(0, 6);
}

// ---- time: UDF instants are UTC; the chart shows exchange time for intraday bars.
const offsetCache = new Map();
function tzOffset(utcSeconds) {
  const key = Math.floor(utcSeconds / 86400);
  if (offsetCache.has(key)) return offsetCache.get(key);
  let off = 0;
  try {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: state.timezone === 'UTC' ? 'Etc/UTC' : state.timezone, hourCycle: 'h23',
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    }).formatToParts(new Date(utcSeconds * 1000));
    const v = Object.fromEntries(parts.map((p) => [p.type, p.value]));
    off = (Date.UTC(+v.year, +v.month - 1, +v.day, +v.hour, +v.minute, +v.second) / 1000) - utcSeconds;
  } catch { off = 0; }
  offsetCache.set(key, off);
  return off;
}
const intraday = () => /^\d+$/.test(state.resolution);
const displayTime = (utc) => (intraday() ? utc + tzOffset(utc) : utc);
const dayOf = (utc) => Math.floor((utc + tzOffset(utc)) / 86400);

// ---- colours and themes
function colours() {
  const red = '#e03131', green = '#2b8a3e';
  return state.colours === 'green-up' ? { up: green, down: red } : { up: red, down: green };
}
// ---- the first page of bars, fetched (usually from the page's preload) before the chart exists,
// so that the chart's first paint already shows them
const firstPage = await fetchHistory(initialTo(), PAGE).then((bars) => ({ bars }), (error) => ({ error }));

// ---- chart and series
const chart = createChart(el, {
  autoSize: true,
  crosshair: { mode: CrosshairMode.Normal },
  timeScale: { timeVisible: intraday(), secondsVisible: false, rightOffset: 4 },
  localization: { locale: cfg.lang === 'zh-CN' ? 'zh-CN' : 'en-US' },
  ...themeOptions(),
});
followTheme(chart);
const precision = Math.max(0, Math.round(Math.log10(state.pricescale || 100)));
const candles = chart.addSeries(CandlestickSeries, { priceFormat: { type: 'price', precision, minMove: 1 / (state.pricescale || 100) } });
const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: 'volume' }, priceLineVisible: false, lastValueVisible: false }, 1);
const macdHist = chart.addSeries(HistogramSeries, { priceLineVisible: false, lastValueVisible: false }, 2);
const macdLine = chart.addSeries(LineSeries, { color: '#1971c2', lineWidth: 1, priceLineVisible: false, lastValueVisible: false }, 2);
const macdSignal = chart.addSeries(LineSeries, { color: '#f08c00', lineWidth: 1, priceLineVisible: false, lastValueVisible: false }, 2);
const panes = chart.panes();
if (panes[1] && panes[1].setHeight) panes[1].setHeight(90);
if (panes[2] && panes[2].setHeight) panes[2].setHeight(90);
const MA_COLOURS = ['#f59f00', '#7048e8', '#1098ad', '#d6336c', '#37b24d', '#495057'];
let maSeries = [];
let maKey = '';
// The values every indicator drew, by bar index of `shown`, for the legend under the crosshair.
const indValues = { ma: [], dif: [], dea: [], extra: {} };

function applyColours() {
  const c = colours();
  candles.applyOptions({ upColor: c.up, downColor: c.down, borderUpColor: c.up, borderDownColor: c.down, wickUpColor: c.up, wickDownColor: c.down });
}
applyColours();

// ---- indicators (computed on the bars shown, so scrolling left extends them and a replay clips
// them): the math is in indicators.js
const { sma, ema } = ind;
// ---- replay: while active, only bars opening at or before the cursor (a UTC instant) are shown
const replay = { active: false, cursor: null };
function shownCount() {
  if (!replay.active || replay.cursor === null) return state.bars.length;
  let lo = 0, hi = state.bars.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (state.bars[m].utc <= replay.cursor) lo = m + 1; else hi = m; }
  return Math.max(1, lo);
}
let shown = [];

function renderIndicators() {
  const bars = shown;
  const closes = bars.map((b) => b.close);
  if (maKey !== state.maPeriods.join(',')) {
    maSeries.forEach((s) => chart.removeSeries(s));
    maSeries = state.maPeriods.map((n, i) => chart.addSeries(LineSeries, { color: MA_COLOURS[i % MA_COLOURS.length], lineWidth: 1, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false, title: `MA${n}` }, 0));
    maKey = state.maPeriods.join(',');
  }
  indValues.ma = state.maPeriods.map((n, i) => {
    const m = sma(closes, n);
    maSeries[i].setData(bars.map((b, j) => (m[j] === undefined ? { time: b.time } : { time: b.time, value: m[j] })));
    return m;
  });
  const fast = ema(closes, 12), slow = ema(closes, 26);
  const dif = closes.map((_, i) => fast[i] - slow[i]);
  const dea = ema(dif, 9);
  indValues.dif = dif; indValues.dea = dea;
  const c = colours();
  macdLine.setData(bars.map((b, i) => ({ time: b.time, value: dif[i] })));
  macdSignal.setData(bars.map((b, i) => ({ time: b.time, value: dea[i] })));
  macdHist.setData(bars.map((b, i) => { const h = 2 * (dif[i] - dea[i]); return { time: b.time, value: h, color: h >= 0 ? c.up : c.down }; }));
  renderExtra(bars);
}

// ---- the toggleable indicators (the "Indicators" panel): Bollinger Bands on the price pane, RSI
// and KDJ in panes of their own, moving averages of the volume on the volume pane. Each one's
// series exist while it is on; its settings are kept in localStorage.
const IND_KEY = 'quantdesk.indicators';
const indSettings = ind.loadSettings(localStorage.getItem(IND_KEY));
const IND_ORDER = ['boll', 'rsi', 'kdj', 'volma'];
const indSeries = {}; // name → the series drawn for it
const line = (color, extra = {}) => ({ color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false, ...extra });
function createIndicator(name) {
  const p = indSettings[name];
  if (name === 'boll') {
    return [
      chart.addSeries(LineSeries, line('#1c7ed6', { title: 'UB' }), 0),
      chart.addSeries(LineSeries, line('#868e96', { lineStyle: LineStyle.Dashed, title: `BOLL(${p.n},${p.k})` }), 0),
      chart.addSeries(LineSeries, line('#1c7ed6', { title: 'LB' }), 0),
    ];
  }
  if (name === 'rsi') {
    const pane = chart.panes().length;
    const s = chart.addSeries(LineSeries, line('#7048e8', { title: `RSI(${p.n})`, lastValueVisible: true, autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 100 } }) }), pane);
    for (const price of [30, 70]) s.createPriceLine({ price, color: '#adb5bd', lineWidth: 1, lineStyle: LineStyle.Dashed, axisLabelVisible: true, title: '' });
    const pa = chart.panes()[pane];
    if (pa && pa.setHeight) pa.setHeight(90);
    return [s];
  }
  if (name === 'kdj') {
    const pane = chart.panes().length;
    const out = [
      chart.addSeries(LineSeries, line('#f08c00', { title: `K(${p.n},${p.m1},${p.m2})` }), pane),
      chart.addSeries(LineSeries, line('#1971c2', { title: 'D' }), pane),
      chart.addSeries(LineSeries, line('#d6336c', { title: 'J' }), pane),
    ];
    const pa = chart.panes()[pane];
    if (pa && pa.setHeight) pa.setHeight(90);
    return out;
  }
  return p.periods.map((n, i) => chart.addSeries(LineSeries, line(MA_COLOURS[i % MA_COLOURS.length], { title: `MAVOL${n}`, priceFormat: { type: 'volume' } }), 1));
}
function removeIndicator(name) {
  for (const s of indSeries[name] || []) {
    const idx = s.getPane().paneIndex();
    chart.removeSeries(s);
    const pane = chart.panes()[idx];
    if (idx > 2 && pane && pane.getSeries().length === 0) chart.removePane(idx);
  }
  delete indSeries[name];
}
function syncIndicators() {
  for (const name of IND_ORDER) {
    removeIndicator(name);
    if (indSettings[name].on) indSeries[name] = createIndicator(name);
  }
  el.dataset.indicators = IND_ORDER.filter((n) => indSeries[n]).join(',');
  el.dataset.indicatorSeries = String(Object.values(indSeries).reduce((a, s) => a + s.length, 0));
  el.dataset.panes = String(chart.panes().length);
}
const points = (bars, values) => bars.map((b, i) => (values[i] === undefined ? { time: b.time } : { time: b.time, value: values[i] }));
function renderExtra(bars) {
  const closes = bars.map((b) => b.close);
  const extra = {};
  if (indSeries.boll) {
    const { upper, middle, lower } = ind.bollinger(closes, indSettings.boll.n, indSettings.boll.k);
    [upper, middle, lower].forEach((v, i) => indSeries.boll[i].setData(points(bars, v)));
    extra.boll = { ub: upper, mb: middle, lb: lower };
  }
  if (indSeries.rsi) {
    const r = ind.rsi(closes, indSettings.rsi.n);
    indSeries.rsi[0].setData(points(bars, r));
    extra.rsi = r;
  }
  if (indSeries.kdj) {
    const p = indSettings.kdj;
    const r = ind.kdj(bars.map((b) => b.high), bars.map((b) => b.low), closes, p.n, p.m1, p.m2);
    [r.k, r.d, r.j].forEach((v, i) => indSeries.kdj[i].setData(points(bars, v)));
    extra.kdj = r;
  }
  if (indSeries.volma) {
    const vols = bars.map((b) => b.volume);
    extra.volma = indSettings.volma.periods.map((n, i) => { const m = sma(vols, n); indSeries.volma[i].setData(points(bars, m)); return m; });
  }
  indValues.extra = extra;
}
syncIndicators();
// The panel: a toggle per indicator and its parameters; a value that is not one (see
// ind.parseParam) is refused with a message next to its field, and the previous value stays.
function saveIndicators() { localStorage.setItem(IND_KEY, JSON.stringify(indSettings)); }
const paramText = (v) => (Array.isArray(v) ? v.join(',') : String(v));
for (const box of document.querySelectorAll('#ind-panel input[data-ind]')) {
  const name = box.dataset.ind;
  box.checked = indSettings[name].on;
  box.addEventListener('change', () => {
    indSettings[name].on = box.checked; saveIndicators(); syncIndicators(); renderExtra(shown);
  });
}
for (const input of document.querySelectorAll('#ind-panel input[data-param]')) {
  const [name, p] = input.dataset.param.split('.');
  const spec = ind.PARAMS[name][p];
  const error = document.querySelector(`#ind-panel [data-error-for="${input.dataset.param}"]`);
  input.value = paramText(indSettings[name][p]);
  input.addEventListener('change', () => {
    const v = ind.parseParam(spec, input.value);
    if (v === null) {
      const template = spec.list ? S.indBadList : spec.int ? S.indBadInt : S.indBadNumber;
      error.textContent = template.replace('{min}', spec.min).replace('{max}', spec.max).replace('{n}', spec.list || '')
        .replace('{value}', paramText(indSettings[name][p]));
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      return;
    }
    error.hidden = true; error.textContent = '';
    input.removeAttribute('aria-invalid');
    indSettings[name][p] = v;
    input.value = paramText(v);
    saveIndicators();
    if (indSettings[name].on) { syncIndicators(); renderExtra(shown); }
  });
}

function render() {
  const c = colours();
  shown = state.bars.slice(0, shownCount());
  candles.setData(shown.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
  volume.setData(shown.map((b) => ({ time: b.time, value: b.volume, color: b.close >= b.open ? c.up + '99' : c.down + '99' })));
  renderIndicators();
  overlays.forEach((o) => o.setData && o.setData(shown));
  el.dataset.bars = String(shown.length);
  el.dataset.loaded = String(state.bars.length);
  el.dataset.replay = replay.active ? String(replay.cursor) : '';
  el.dataset.firstTime = shown.length ? String(shown[0].utc) : '';
  el.dataset.lastTime = shown.length ? String(shown[shown.length - 1].utc) : '';
  el.dataset.symbol = state.symbol;
  el.dataset.resolution = state.resolution;
  el.dataset.adjustment = state.adjustment;
}

// ---- data
function toBars(v) {
  if (v.s !== 'ok') return [];
  return v.t.map((t, i) => ({ utc: t, time: displayTime(t), open: v.o[i], high: v.h[i], low: v.l[i], close: v.c[i], volume: v.v ? v.v[i] : 0 }));
}
async function fetchHistory(to, countback) {
  const q = new URLSearchParams({ symbol: state.symbol, resolution: state.resolution, to: String(to), countback: String(countback), adjustment: state.adjustment });
  const res = await fetch(`/udf/history?${q}`);
  if (!res.ok) throw new Error(`history ${res.status}`);
  const v = await res.json();
  if (v.s === 'error') throw new Error(v.errmsg);
  return toBars(v);
}

async function load() {
  const gen = ++state.generation;
  state.loading = true; state.exhausted = false;
  el.dataset.state = 'loading';
  message.hidden = true;
  chart.applyOptions({ timeScale: { timeVisible: intraday() } });
  try {
    let bars;
    if (firstPage.bars && gen === 1) bars = firstPage.bars;
    else if (firstPage.error && gen === 1) throw firstPage.error;
    else bars = await fetchHistory(nowSeconds() + 86400 * 2, PAGE);
    if (gen !== state.generation) return;
    state.bars = bars;
    state.exhausted = bars.length < PAGE;
    replayCtl.restore();
    render();
    chart.timeScale().fitContent();
    if (shown.length > 150) chart.timeScale().setVisibleLogicalRange({ from: shown.length - 150, to: shown.length + 4 });
    el.dataset.state = bars.length ? 'ready' : 'empty';
    if (!performance.getEntriesByName('quantdesk:first-paint').length) {
      requestAnimationFrame(() => performance.mark('quantdesk:first-paint'));
    }
    if (!bars.length) { message.textContent = S.noData; message.hidden = false; }
    showLegend(null);
  } catch (e) {
    if (gen !== state.generation) return;
    el.dataset.state = 'error';
    message.textContent = String(e.message || e); message.hidden = false;
  } finally {
    if (gen === state.generation) state.loading = false;
  }
}

async function loadOlder() {
  if (state.loading || state.exhausted || !state.bars.length) return;
  const gen = state.generation;
  state.loading = true;
  try {
    const older = await fetchHistory(state.bars[0].utc, PAGE);
    if (gen !== state.generation) return;
    const fresh = older.filter((b) => b.utc < state.bars[0].utc);
    if (fresh.length === 0) { state.exhausted = true; return; }
    const range = chart.timeScale().getVisibleLogicalRange();
    state.bars = fresh.concat(state.bars);
    state.exhausted = older.length < PAGE;
    render();
    if (range) chart.timeScale().setVisibleLogicalRange({ from: range.from + fresh.length, to: range.to + fresh.length });
  } catch (e) {
    console.warn('older bars', e);
  } finally {
    if (gen === state.generation) state.loading = false;
  }
}
chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
  if (range && range.from < 30) loadOlder();
});

// ---- live refresh of the last bar during the session
function marketOpen() {
  const t = nowSeconds();
  const local = new Date((t + tzOffset(t)) * 1000);
  const day = local.getUTCDay();
  if (state.session !== '24x7' && (day === 0 || day === 6)) return false;
  if (state.session === '24x7') return true;
  const minute = local.getUTCHours() * 60 + local.getUTCMinutes();
  return state.session.split(',').some((r) => {
    const [a, b] = r.split('-').map((x) => parseInt(x.slice(0, 2), 10) * 60 + parseInt(x.slice(2), 10));
    return a < b ? minute >= a && minute <= b : minute >= a || minute <= b;
  });
}
// Newer versions of the last bars (and new bars): the candles, volume and every indicator redraw,
// and the legend shows the new values.
function applyTail(tail) {
  if (!state.bars.length) return;
  let changed = false;
  for (const b of tail) {
    const last = state.bars[state.bars.length - 1];
    if (b.utc === last.utc) state.bars[state.bars.length - 1] = b;
    else if (b.utc > last.utc) state.bars.push(b);
    else continue;
    changed = true;
    if (replay.active) continue;
    const c = colours();
    candles.update({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close });
    volume.update({ time: b.time, value: b.volume, color: b.close >= b.open ? c.up + '99' : c.down + '99' });
  }
  if (!changed || replay.active) return;
  shown = state.bars.slice(0, shownCount());
  renderIndicators();
  el.dataset.lastTime = String(state.bars[state.bars.length - 1].utc);
  el.dataset.bars = String(shown.length);
  el.dataset.loaded = String(state.bars.length);
  showLegend(crosshair);
}
setInterval(async () => {
  if (document.hidden || state.loading || !state.bars.length || !marketOpen()) return;
  const gen = state.generation;
  try {
    const tail = await fetchHistory(nowSeconds() + 86400 * 2, 2);
    if (gen !== state.generation) return;
    applyTail(tail);
  } catch { /* the next tick tries again */ }
}, 5000);

// ---- legend
function fmt(x) { return x === undefined ? '—' : x.toFixed(precision); }
function formatVolume(v) {
  const units = cfg.lang === 'zh-CN' ? [[1e8, '亿'], [1e4, '万']] : [[1e9, 'B'], [1e6, 'M'], [1e3, 'K']];
  for (const [size, unit] of units) if (v >= size) return (v / size).toFixed(2) + unit;
  return String(v);
}
// The indicators' values at bar `idx` of `shown`, one labelled value each, in the series' colours.
function showIndicatorValues(idx) {
  indLegend.innerHTML = '';
  const num = (v, digits = precision) => (v === undefined || v === null || Number.isNaN(v) ? '—' : v.toFixed(digits));
  const add = (key, label, value, colour) => {
    const span = document.createElement('span');
    span.dataset.ind = key;
    const b = document.createElement('b');
    b.textContent = value;
    if (colour) span.style.color = colour;
    span.append(`${label} `, b, ' ');
    indLegend.append(span);
  };
  if (idx < 0 || idx >= shown.length) { indLegend.dataset.index = ''; return; }
  indLegend.dataset.index = String(idx);
  state.maPeriods.forEach((n, i) => add(`ma${n}`, `MA${n}`, num(indValues.ma[i] && indValues.ma[i][idx]), MA_COLOURS[i % MA_COLOURS.length]));
  const e = indValues.extra;
  if (e.boll) {
    add('boll.ub', 'UB', num(e.boll.ub[idx]), '#1c7ed6');
    add('boll.mb', `BOLL(${indSettings.boll.n},${indSettings.boll.k})`, num(e.boll.mb[idx]), '#868e96');
    add('boll.lb', 'LB', num(e.boll.lb[idx]), '#1c7ed6');
  }
  add('macd.dif', 'DIF', num(indValues.dif[idx], 3), '#1971c2');
  add('macd.dea', 'DEA', num(indValues.dea[idx], 3), '#f08c00');
  add('macd.hist', 'MACD', num(indValues.dif[idx] === undefined ? undefined : 2 * (indValues.dif[idx] - indValues.dea[idx]), 3));
  if (e.rsi) add('rsi', `RSI(${indSettings.rsi.n})`, num(e.rsi[idx], 2), '#7048e8');
  if (e.kdj) {
    add('kdj.k', 'K', num(e.kdj.k[idx], 2), '#f08c00');
    add('kdj.d', 'D', num(e.kdj.d[idx], 2), '#1971c2');
    add('kdj.j', 'J', num(e.kdj.j[idx], 2), '#d6336c');
  }
  if (e.volma) indSettings.volma.periods.forEach((n, i) => add(`volma${n}`, `MAVOL${n}`, e.volma[i][idx] === undefined ? '—' : formatVolume(e.volma[i][idx]), MA_COLOURS[i % MA_COLOURS.length]));
}
// The crosshair's last position: the legend shows that bar (the newest bar when the cursor is off
// the chart), also after the last bar updates.
let crosshair = null;
function showLegend(param) {
  crosshair = param && param.time !== undefined ? param : null;
  let idx = shown.length - 1;
  if (param && param.time !== undefined) idx = shown.findIndex((b) => b.time === param.time);
  showIndicatorValues(idx);
  const b = shown[idx];
  if (!b) { legend.textContent = ''; return; }
  const prev = idx > 0 ? shown[idx - 1].close : b.open;
  const chg = b.close - prev, pct = prev ? (chg / prev) * 100 : 0;
  const cls = chg >= 0 ? 'up' : 'down';
  const vol = formatVolume(b.volume);
  legend.innerHTML = '';
  const parts = [[S.open, fmt(b.open)], [S.high, fmt(b.high)], [S.low, fmt(b.low)], [S.close, fmt(b.close)], [S.change, `${chg >= 0 ? '+' : ''}${fmt(chg)} (${pct.toFixed(2)}%)`], [S.volume, vol]];
  for (const [k, v] of parts) {
    const span = document.createElement('span');
    span.textContent = `${k} `;
    const val = document.createElement('b');
    val.textContent = v;
    if (k !== S.volume) val.className = cls;
    span.append(val, ' ');
    legend.append(span);
  }
  // On the newest bar, the freshest price: the stored close or a live quote, with its source and time.
  if (quote && idx === shown.length - 1 && !replay.active) {
    const span = document.createElement('span');
    span.className = 'quote';
    span.dataset.source = quote.source;
    const val = document.createElement('b');
    val.textContent = fmt(quote.lp);
    val.className = quote.ch >= 0 ? 'up' : 'down';
    const local = new Date((quote.time + tzOffset(quote.time)) * 1000).toISOString();
    const when = `${local.slice(5, 10)} ${local.slice(11, 19)}`;
    span.append(`${S.last} `, val, ` · ${S.quoteSources[quote.source] || quote.source} ${when}`);
    legend.append(span);
  }
}
chart.subscribeCrosshairMove(showLegend);

// ---- the freshest quote (/udf/quotes: the stored last bar, or a newer live quote when configured)
async function refreshQuote() {
  if (document.hidden) return;
  const symbol = state.symbol;
  try {
    const r = await (await fetch(`/udf/quotes?symbols=${encodeURIComponent(symbol)}`)).json();
    const d = r && r.d && r.d[0];
    if (symbol !== state.symbol) return;
    quote = d && d.s === 'ok' ? d.v : null;
  } catch { return; }
  showLegend(null);
}
refreshQuote();
setInterval(() => { if (marketOpen()) refreshQuote(); }, 5000);

// ---- navigation state
function syncUrl(push) {
  const cmp = compare ? compare.symbols() : [];
  const url = `/chart/${encodeURIComponent(state.symbol)}?res=${encodeURIComponent(state.resolution)}&adj=${state.adjustment}${cmp.length ? `&cmp=${cmp.map(encodeURIComponent).join(',')}` : ''}`;
  el.dataset.compare = cmp.join(',');
  if (push) history.pushState({ symbol: state.symbol, name: state.name }, '', url); else history.replaceState({ symbol: state.symbol, name: state.name }, '', url);
  document.getElementById('chart-symbol').textContent = state.symbol;
  document.getElementById('chart-name').textContent = state.name;
  document.title = `${state.symbol} ${state.name} · quantdesk`;
  for (const b of document.querySelectorAll('#resolutions button')) b.setAttribute('aria-pressed', String(b.dataset.res === state.resolution));
  const sw = document.getElementById('lang-switch');
  if (sw) sw.href = sw.href.replace(/next=[^&]*/, `next=${encodeURIComponent(url)}`);
}
function setResolution(r) {
  if (r === state.resolution || !document.querySelector(`#resolutions button[data-res="${r}"]`)) return;
  state.resolution = r; syncUrl(false); load();
}
async function setSymbol(symbol, push = true) {
  const info = await (await fetch(`/udf/symbols?symbol=${encodeURIComponent(symbol)}`)).json();
  if (info.s === 'error') return;
  // Symbols differ in what they store: a full page load gets the right resolution set.
  const intradayNow = info.has_intraday;
  const buttons = document.querySelectorAll('#resolutions button');
  const hadIntraday = [...buttons].some((b) => /^\d+$/.test(b.dataset.res));
  if (intradayNow !== hadIntraday) { location.href = `/chart/${encodeURIComponent(info.name)}?res=1D&adj=${state.adjustment}`; return; }
  state.symbol = info.name; state.name = info.description; state.timezone = info.timezone === 'Etc/UTC' ? 'UTC' : info.timezone;
  state.session = info.session; state.pricescale = info.pricescale; offsetCache.clear();
  quote = null;
  if (compare) compare.remove(state.symbol);
  syncUrl(push); load(); refreshQuote();
  watchPanel.symbolChanged();
}
window.addEventListener('popstate', (e) => { if (e.state && e.state.symbol) setSymbol(e.state.symbol, false); });

document.getElementById('resolutions').addEventListener('click', (e) => { const r = e.target.dataset && e.target.dataset.res; if (r) setResolution(r); });
const adjSel = document.getElementById('adjustment');
adjSel.addEventListener('change', () => { state.adjustment = adjSel.value; syncUrl(false); load(); });
const maInput = document.getElementById('ma-periods');
maInput.value = state.maPeriods.join(',');
maInput.addEventListener('change', () => { state.maPeriods = parseMaPeriods(maInput.value); maInput.value = state.maPeriods.join(','); localStorage.setItem('quantdesk.ma', maInput.value); renderIndicators(); });
const colourSel = document.getElementById('colours');
colourSel.value = state.colours;
colourSel.addEventListener('change', () => { state.colours = colourSel.value; localStorage.setItem('quantdesk.colours', state.colours); applyColours(); render(); });
const themeSel = document.getElementById('theme');
themeSel.value = document.documentElement.dataset.theme || 'light';
themeSel.addEventListener('change', () => { document.documentElement.dataset.theme = themeSel.value; localStorage.setItem('quantdesk.theme', themeSel.value); });
// the chart follows the theme (followTheme), whether switched here or in another tab
new MutationObserver(() => { themeSel.value = document.documentElement.dataset.theme || 'light'; })
  .observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });

// ---- search with autocomplete
const search = document.getElementById('symbol-search');
const results = document.getElementById('search-results');
let searchTimer = null, selected = -1, found = [];
function closeSearch() { results.hidden = true; selected = -1; }
function showResults() {
  results.innerHTML = '';
  found.forEach((item, i) => {
    const li = document.createElement('li');
    li.setAttribute('role', 'option');
    li.setAttribute('aria-selected', String(i === selected));
    li.dataset.symbol = item.symbol;
    const code = document.createElement('b'); code.textContent = item.symbol;
    const name = document.createElement('span'); name.textContent = item.description;
    const ex = document.createElement('small'); ex.textContent = `${item.exchange} · ${item.type}`;
    li.append(code, name, ex);
    li.addEventListener('mousedown', (e) => { e.preventDefault(); pick(item.symbol); });
    results.append(li);
  });
  results.hidden = found.length === 0;
}
function pick(symbol) { closeSearch(); search.value = ''; search.blur(); setSymbol(symbol); }
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  const q = search.value.trim();
  if (!q) { found = []; closeSearch(); return; }
  searchTimer = setTimeout(async () => {
    found = await (await fetch(`/udf/search?query=${encodeURIComponent(q)}&limit=10`)).json();
    selected = found.length ? 0 : -1;
    showResults();
  }, 120);
});
search.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowDown') { selected = Math.min(found.length - 1, selected + 1); showResults(); e.preventDefault(); }
  else if (e.key === 'ArrowUp') { selected = Math.max(0, selected - 1); showResults(); e.preventDefault(); }
  else if (e.key === 'Enter' && found[selected]) { pick(found[selected].symbol); e.preventDefault(); }
  else if (e.key === 'Escape') { closeSearch(); search.blur(); }
});
search.addEventListener('blur', () => setTimeout(closeSearch, 100));

// ---- keyboard shortcuts
const KEYS = { '1': '1', '5': '5', f: '15', t: '30', h: '60', d: '1D', w: '1W', m: '1M' };
document.addEventListener('keydown', (e) => {
  const typing = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement && document.activeElement.tagName);
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === '/') { search.focus(); e.preventDefault(); return; }
  const r = KEYS[e.key.toLowerCase()];
  if (r) setResolution(r);
});

// ---- overlays: the plug-in point for Chan structures, trades and regime bands
const overlays = new Map();
let compare = null;
const ctx = {
  chart, candles, lib: { createSeriesMarkers, LineSeries, HistogramSeries }, symbol: () => state.symbol, resolution: () => state.resolution,
  adjustment: () => state.adjustment, colours, dayOf, displayTime, strings: S, precision,
  replaying: () => replay.active && replay.cursor !== null,
  // the exclusive end of what may be analysed: during a replay, the opening of the bar after the cursor
  until: () => {
    if (!replay.active || replay.cursor === null) return null;
    const next = state.bars[shownCount()];
    return next ? next.utc : null; // at the newest bar there is no future to hide
  },
};
function addOverlay(overlay) {
  removeOverlay(overlay.name);
  overlay.attach(ctx);
  overlays.set(overlay.name, overlay);
  if (shown.length && overlay.setData) overlay.setData(shown);
}
function removeOverlay(name) { const o = overlays.get(name); if (o) { o.detach(); overlays.delete(name); } }
// ---- replay controls (replay.js): they move the cursor; the chart redraws what it clips
function setReplay(active, cursor) {
  const range = chart.timeScale().getVisibleLogicalRange();
  const following = range && range.to >= shown.length - 1;
  replay.active = active; replay.cursor = active ? cursor : null;
  render();
  // keep the newest shown bar in view while stepping, unless the user scrolled away
  if (following) chart.timeScale().scrollToPosition(4, false);
  showLegend(null);
}
const replayCtl = setupReplay({ state, replay, setReplay, loadOlder, displayTime, strings: S });
window.quantdesk = { chart, candles, addOverlay, removeOverlay, state, replay, indicators: ind, indicatorSettings: indSettings, indicatorSeries: indSeries };
addOverlay(limitMarksOverlay());
const chan = chanOverlay();
addOverlay(chan);
window.quantdesk.chan = chan;
const regimes = regimesOverlay();
addOverlay(regimes);
window.quantdesk.regimes = regimes;
const backtest = new URLSearchParams(location.search).get('backtest');
if (backtest) addOverlay(tradesOverlay(backtest));
// ---- compare symbols (chart-compare.js), kept in the URL's `cmp`
compare = compareOverlay({ strings: S, onChange: () => syncUrl(false) });
addOverlay(compare);
window.quantdesk.compare = compare;
for (const sym of (new URLSearchParams(location.search).get('cmp') || '').split(',').filter(Boolean)) compare.add(sym);
const compareInput = document.getElementById('compare-input');
document.getElementById('compare-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (compare.add(compareInput.value)) compareInput.value = '';
});
// ---- the watchlist side panel (watch-panel.js)
const watchPanel = setupWatchPanel({ strings: S, symbol: () => state.symbol, setSymbol: (s) => setSymbol(s) });
window.quantdesk.watchPanel = watchPanel;
window.quantdesk.applyTail = applyTail;

syncUrl(false);
load();
