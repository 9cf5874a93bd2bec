// The regime (market-dynamics) layer on the chart: one translucent band per run of a label behind
// the candles, coloured from bearish (the chart's down colour) through a neutral grey to bullish
// (its up colour), a legend with each label's meaning and statistics, and optionally the filtered
// key indicator as a line. Labels come from /api/v1/regimes/{symbol} for the chart's symbol,
// resolution and adjustment, fetched only while the layer is on. During a replay the request asks
// for causal labels (each bar's label from that bar and the ones before it) and only the bars up to
// the cursor are drawn, with statistics of those bars alone: what a user would have seen at the
// cursor. The switches are remembered in localStorage. What is drawn is on #chart's dataset
// (regimeState, regimeBands, regimeFilter).
import { answerError, throttle } from './throttle.js';

const KEY = 'quantdesk.regimes';
const DEFAULTS = { on: false, dynamics: 3, minLength: 12, filtered: false };
const NEUTRAL = '#868e96';
const ALPHA = 0.18;

export function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || '{}');
    const s = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS)) if (typeof saved[k] === typeof DEFAULTS[k]) s[k] = saved[k];
    s.dynamics = Math.min(5, Math.max(2, Math.round(s.dynamics) || 3));
    s.minLength = Math.min(500, Math.max(3, Math.round(s.minLength) || 12));
    return s;
  } catch { return { ...DEFAULTS }; }
}
function saveSettings(s) { try { localStorage.setItem(KEY, JSON.stringify(s)); } catch { /* private mode */ } }

const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ''));
const rgb = (hex) => { const n = parseInt(hex.slice(1), 16); return [(n >> 16) & 255, (n >> 8) & 255, n & 255]; };
const mix = (a, b, t) => a.map((x, i) => Math.round(x + (b[i] - x) * t));
/** The colour of label k of K: the down colour, through grey in the middle, to the up colour. */
export function labelColour(k, K, { up, down }) {
  const t = K <= 1 ? 0.5 : k / (K - 1);
  const c = t <= 0.5 ? mix(rgb(down), rgb(NEUTRAL), t * 2) : mix(rgb(NEUTRAL), rgb(up), (t - 0.5) * 2);
  return c;
}

/** Full-height bands over bar index ranges, drawn behind the candles. */
class BandsPrimitive {
  constructor() { this.bands = []; this._chart = null; this._request = null; }
  attached({ chart, requestUpdate }) { this._chart = chart; this._request = requestUpdate; }
  detached() { this._chart = null; this._request = null; }
  set(bands) { this.bands = bands; if (this._request) this._request(); }
  updateAllViews() {}
  paneViews() {
    return [{
      zOrder: () => 'bottom',
      renderer: () => ({
        draw: (target) => {
          if (!this._chart || !this.bands.length) return;
          const ts = this._chart.timeScale();
          const range = ts.getVisibleLogicalRange();
          if (!range) return;
          const i0 = Math.round(range.from), a = ts.logicalToCoordinate(i0), z = ts.logicalToCoordinate(i0 + 1);
          const half = a === null || z === null ? 0 : (z - a) / 2;
          target.useBitmapCoordinateSpace(({ context: ctx, horizontalPixelRatio: hr, bitmapSize }) => {
            for (const b of this.bands) {
              if (b.i2 < range.from - 1 || b.i1 > range.to + 1) continue;
              // from half a bar before the first bar to half a bar after the last (the library
              // takes whole logical indices only)
              const x1 = ts.logicalToCoordinate(b.i1), x2 = ts.logicalToCoordinate(b.i2);
              if (x1 === null || x2 === null) continue;
              const l = Math.round((x1 - half) * hr), r = Math.round((x2 + half) * hr);
              ctx.fillStyle = b.fill;
              ctx.fillRect(l, 0, Math.max(r - l, 1), bitmapSize.height);
            }
          });
        },
      }),
    }];
  }
}

/** The regime overlay; ctx is chart.js's overlay context (until() is the replay's exclusive end). */
export function regimesOverlay() {
  const settings = loadSettings();
  const el = document.getElementById('chart');
  const panel = document.getElementById('regime-panel');
  const master = document.getElementById('regime-on');
  const dynamicsSel = document.getElementById('regime-dynamics');
  const minLengthInput = document.getElementById('regime-min-length');
  const filteredBox = document.getElementById('regime-filtered');
  const status = document.getElementById('regime-status');
  const legendEl = document.getElementById('regime-legend');
  let ctx = null, primitive = null, line = null, bars = [];
  let got = { key: '', data: null, error: null };
  let drawn = [];
  let requests = 0;
  const S = () => ctx.strings;
  const gate = throttle({ minGap: 300 });

  function syncPanel() {
    master.checked = settings.on;
    panel.dataset.on = String(settings.on);
    dynamicsSel.value = String(settings.dynamics);
    minLengthInput.value = String(settings.minLength);
    filteredBox.checked = settings.filtered;
  }
  function onPanel(e) {
    const t = e.target;
    if (t === master) settings.on = master.checked;
    else if (t === dynamicsSel) settings.dynamics = Number(dynamicsSel.value) || 3;
    else if (t === minLengthInput) {
      const v = parseInt(minLengthInput.value, 10);
      settings.minLength = Number.isFinite(v) ? Math.min(500, Math.max(3, v)) : DEFAULTS.minLength;
    } else if (t === filteredBox) settings.filtered = filteredBox.checked;
    else return;
    saveSettings(settings);
    syncPanel();
    update();
  }

  function requestKey() {
    // during a replay causal labels, even at the newest bar (the same labels as a step before it)
    const causal = ctx.replaying();
    return JSON.stringify([ctx.symbol(), ctx.resolution(), ctx.adjustment(), settings.dynamics, settings.minLength, causal]);
  }

  /** Fetches the labels the current settings and cursor ask for (if not at hand), then draws. */
  function update() {
    if (!ctx) return;
    if (!settings.on || !bars.length) { gate.cancel(); draw(); return; }
    const want = requestKey();
    if (got.key === want) { gate.idle(); draw(); return; }
    el.dataset.regimeState = 'loading';
    status.textContent = S().regimeLoading;
    gate.schedule(async (signal) => {
      const key = requestKey();
      if (!settings.on || got.key === key) { draw(); return; }
      const [symbol, resolution, adjustment, dynamics, minLength, causal] = JSON.parse(key);
      const q = new URLSearchParams({
        resolution, adjustment, dynamics: String(dynamics), min_length: String(minLength), max_length: '120', causal: String(causal),
      });
      requests++;
      el.dataset.regimeRequests = String(requests);
      try {
        const res = await fetch(`/api/v1/regimes/${encodeURIComponent(symbol)}?${q}`, { signal });
        if (!res.ok) throw await answerError(res, 'regimes');
        const data = await res.json();
        // UTC seconds of the rows, parsed once (a replay redraws at every step)
        data.utc = data.rows.map((r) => Math.floor(Date.parse(r.time) / 1000));
        got = { key, data, error: null };
      } catch (e) {
        // an abort, or too many requests: the throttle waits (as told) and asks again
        if (e.name === 'AbortError' || e.status === 429 || e.status === 503) throw e;
        // a refusal (422: too few bars, …) or a failure is kept for these settings: shown as a
        // status text and asked again only when they change
        console.warn('regimes', e);
        got = { key, data: null, error: String(e.message || e) };
      }
      draw();
    }, update);
  }

  function setLine(points) {
    if (!points) { if (line) { ctx.chart.removeSeries(line); line = null; } return; }
    if (!line) {
      line = ctx.chart.addSeries(ctx.lib.LineSeries, {
        color: '#5f3dc4', lineWidth: 2, lineStyle: 2, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
      }, 0);
    }
    line.setData(points);
  }

  function draw() {
    if (!ctx) return;
    drawn = [];
    const until = ctx.until();
    // labels of another symbol, resolution, adjustment or kind (ex-post while a replay asks for
    // causal ones) are never drawn, not even while newer ones load
    const same = (a, b) => { try { const x = JSON.parse(a), y = JSON.parse(b); return [0, 1, 2, 5].every((i) => x[i] === y[i]); } catch { return false; } };
    const data = settings.on && got.data && same(got.key, requestKey()) ? got.data : null;
    const byTime = new Map();
    if (data) {
      data.rows.forEach((r, i) => { const t = data.utc[i]; if (until === null || t < until) byTime.set(t, r); });
    }
    // runs of a label over the bars shown (during a replay: the bars up to the cursor)
    const K = data ? data.options.dynamics : settings.dynamics;
    const c = ctx.colours();
    let run = null;
    for (let i = 0; i < bars.length; i++) {
      const r = byTime.get(bars[i].utc);
      const label = r && r.label !== null && r.label !== undefined ? r.label : null;
      if (run && label === run.label && run.i2 === i - 1) { run.i2 = i; continue; }
      if (label === null) { run = null; continue; }
      run = { i1: i, i2: i, label, fill: `rgba(${labelColour(label, K, c).join(', ')}, ${ALPHA})` };
      drawn.push(run);
    }
    if (primitive) primitive.set(drawn);
    setLine(data && settings.filtered
      ? bars.map((b) => { const r = byTime.get(b.utc); return r ? { time: b.time, value: r.key_indicator_filtered } : { time: b.time }; })
      : null);
    el.dataset.regimeBands = String(drawn.length);
    el.dataset.regimeFilter = data ? data.filter : '';
    panel.dataset.filter = data ? data.filter : '';
    if (!settings.on) {
      el.dataset.regimeState = 'off'; status.textContent = ''; legendEl.hidden = true; legendEl.textContent = '';
      return;
    }
    if (got.error && got.key === requestKey()) {
      el.dataset.regimeState = 'error';
      status.textContent = `${S().regimeError}: ${got.error}`;
      legendEl.hidden = true;
      return;
    }
    if (!data) return; // still loading
    el.dataset.regimeState = 'ready';
    const replaying = ctx.replaying();
    status.textContent = replaying ? S().regimeCausal : S().regimeExPost;
    legend(data, [...byTime.values()], replaying, K, c);
  }

  /** Each label's colour, meaning and statistics: the answer's, or during a replay those of the
   * rows before the cursor (the answer's would count bars after it). */
  function legend(data, rows, replaying, K, c) {
    const stats = [];
    for (let k = 0; k < K; k++) stats.push({ runs: 0, bars: 0, ret: null });
    if (!replaying) {
      for (const s of data.statistics) if (stats[s.label]) stats[s.label] = { runs: s.runs, bars: s.bars, ret: s.return_mean };
    } else {
      const sums = new Array(K).fill(0);
      let prev = null;
      for (const r of rows) {
        if (r.label === null || r.label === undefined || !stats[r.label]) { prev = null; continue; }
        const s = stats[r.label];
        if (r.label !== prev) s.runs++;
        s.bars++;
        sums[r.label] += r.pct_return;
        prev = r.label;
      }
      stats.forEach((s, k) => { s.ret = s.bars ? sums[k] / s.bars : null; });
    }
    const names = K === 3 ? S().regimeNames3 : Array.from({ length: K }, (_, k) => fill(S().regimeState, { n: k + 1 }));
    legendEl.textContent = '';
    stats.forEach((s, k) => {
      const item = document.createElement('span');
      item.className = 'regime-item';
      item.dataset.label = String(k);
      const sw = document.createElement('i');
      sw.className = 'swatch box';
      sw.style.background = `rgba(${labelColour(k, K, c).join(', ')}, 0.45)`;
      sw.style.borderColor = `rgb(${labelColour(k, K, c).join(', ')})`;
      const name = document.createElement('b');
      name.textContent = names[k];
      const ret = s.ret === null ? '—' : `${s.ret >= 0 ? '+' : ''}${(s.ret * 100).toFixed(2)}`;
      item.append(sw, name, ' ', fill(S().regimeStats, { runs: s.runs, bars: s.bars, ret }));
      legendEl.append(item);
    });
    legendEl.hidden = false;
  }

  return {
    name: 'regimes',
    attach(c) {
      ctx = c;
      primitive = new BandsPrimitive();
      c.candles.attachPrimitive(primitive);
      panel.addEventListener('change', onPanel);
      syncPanel();
      el.dataset.regimeState = 'off';
      el.dataset.regimeBands = '0';
    },
    setData(b) { bars = b; update(); },
    /** For tests and the console: the bands drawn. */
    drawn: () => drawn.map(({ i1, i2, label, fill: f }) => ({ i1, i2, label, fill: f })),
    settings: () => ({ ...settings }),
    detach() {
      gate.cancel();
      if (ctx) { ctx.candles.detachPrimitive(primitive); setLine(null); }
      panel.removeEventListener('change', onPanel);
      ctx = null; primitive = null;
    },
  };
}
