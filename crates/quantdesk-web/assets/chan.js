// Chan-theory (缠论) layers on the chart: strokes and segments as lines between their end points,
// pivots as ZD..ZG boxes, fractals as small triangles, buy/sell points as markers, and the pivots of
// the next higher resolution as boxes. The structures come from /api/v1/chan/{symbol} for the bars
// the chart shows (from its first loaded bar; with `until` during a replay), fetched only while
// the layer is switched on. Lines, boxes and fractals are drawn by one series primitive (canvas),
// so they never add times to the chart's time scale; buy/sell points are series markers.
// Structures still forming (unconfirmed) are dashed and faded. The panel's switches and the
// profile are remembered in localStorage. Counts of what is drawn are on #chart's dataset
// (chanStrokes, chanSegments, chanPivots, chanFractals, chanSignals, chanHigherPivots).

import { answerError, throttle } from './throttle.js';

const KEY = 'quantdesk.chan';
const DEFAULTS = { on: false, strokes: true, segments: true, pivots: true, fractals: false, signals: true, higher: false, profile: 'chanpy' };
const LAYERS = ['strokes', 'segments', 'pivots', 'fractals', 'signals', 'higher'];
/** The resolution whose pivots are shown as the higher level. */
export const HIGHER = { 1: '5', 5: '30', 15: '60', 30: '1D', 60: '1D', '1D': '1W', '1W': '1M' };
/** Colours per level; buy/sell points take the chart's up/down colours. */
export const PALETTE = {
  stroke: '#1c7ed6',
  segment: '#e8590c',
  strokePivot: { fill: 'rgba(28, 126, 214, 0.12)', stroke: '#1c7ed6' },
  segmentPivot: { fill: 'rgba(232, 89, 12, 0.10)', stroke: '#e8590c' },
  higherPivot: { fill: 'rgba(174, 62, 201, 0.10)', stroke: '#ae3ec9' },
  fractal: '#868e96',
};

export function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || '{}');
    const s = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS)) if (typeof saved[k] === typeof DEFAULTS[k]) s[k] = saved[k];
    if (!['chanpy', 'czsc'].includes(s.profile)) s.profile = 'chanpy';
    return s;
  } catch { return { ...DEFAULTS }; }
}
function saveSettings(s) { try { localStorage.setItem(KEY, JSON.stringify(s)); } catch { /* private mode */ } }

const utcOf = (iso) => Math.floor(Date.parse(iso) / 1000);
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ''));
/** #rrggbb with an alpha, or mixed towards black by `dark` (0..1). */
function shade(hex, { alpha = 1, dark = 0 } = {}) {
  const n = parseInt(hex.slice(1), 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => Math.round(c * (1 - dark)));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/** Bar lookups by UTC instant over the bars the chart shows. */
function indexer(bars) {
  const n = bars.length;
  // the last bar opening at or before t (-1 if none)
  const floor = (t) => { let lo = 0, hi = n - 1, r = -1; while (lo <= hi) { const m = (lo + hi) >> 1; if (bars[m].utc <= t) { r = m; lo = m + 1; } else hi = m - 1; } return r; };
  // the first bar opening at or after t (n if none)
  const ceil = (t) => { let lo = 0, hi = n - 1, r = n; while (lo <= hi) { const m = (lo + hi) >> 1; if (bars[m].utc >= t) { r = m; hi = m - 1; } else lo = m + 1; } return r; };
  return { floor, ceil };
}

/** When a bar of `res` opening at t ends (the next bucket's start, near enough for drawing). */
function barEnd(res, t) {
  if (/^\d+$/.test(res)) return t + Number(res) * 60;
  const d = new Date(t * 1000);
  if (res === '1D') return t + 86400;
  if (res === '1W') { const day0 = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) / 1000; return day0 + (((8 - d.getUTCDay()) % 7) || 7) * 86400; }
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000; // 1M
}
const PERIOD = { 5: 300, 30: 1800, 60: 3600, '1D': 86400, '1W': 7 * 86400, '1M': 31 * 86400 };

/** Lines, boxes and fractal triangles in logical (bar index) × price space, drawn on the canvas. */
class ChanPrimitive {
  constructor() { this.lines = []; this.boxes = []; this.dots = []; this._chart = null; this._series = null; this._request = null; }
  attached({ chart, series, requestUpdate }) { this._chart = chart; this._series = series; this._request = requestUpdate; }
  detached() { this._chart = null; this._series = null; this._request = null; }
  set({ lines, boxes, dots }) { this.lines = lines; this.boxes = boxes; this.dots = dots; if (this._request) this._request(); }
  updateAllViews() {}
  _draw(target, what) {
    if (!this._chart || !this._series) return;
    const ts = this._chart.timeScale(), series = this._series;
    const range = ts.getVisibleLogicalRange();
    if (!range) return;
    const visible = (i1, i2) => i2 >= range.from - 2 && i1 <= range.to + 2;
    target.useBitmapCoordinateSpace(({ context: ctx, horizontalPixelRatio: hr, verticalPixelRatio: vr }) => {
      const X = (i) => { const x = ts.logicalToCoordinate(i); return x === null ? null : x * hr; };
      const Y = (p) => { const y = series.priceToCoordinate(p); return y === null ? null : y * vr; };
      ctx.save();
      if (what === 'boxes') {
        for (const b of this.boxes) {
          if (!visible(b.i1, b.i2)) continue;
          const x1 = X(b.i1), x2 = X(b.i2), y1 = Y(b.top), y2 = Y(b.bottom);
          if (x1 === null || x2 === null || y1 === null || y2 === null) continue;
          const x = Math.min(x1, x2), y = Math.min(y1, y2), w = Math.max(Math.abs(x2 - x1), hr), h = Math.max(Math.abs(y2 - y1), vr);
          ctx.globalAlpha = b.forming ? 0.6 : 1;
          ctx.fillStyle = b.fill; ctx.fillRect(x, y, w, h);
          ctx.setLineDash(b.forming ? [4 * hr, 3 * hr] : []);
          ctx.strokeStyle = b.stroke; ctx.lineWidth = (b.width || 1) * hr;
          ctx.strokeRect(x, y, w, h);
        }
      } else {
        ctx.lineCap = 'round';
        for (const l of this.lines) {
          if (!visible(l.i1, l.i2)) continue;
          const x1 = X(l.i1), x2 = X(l.i2), y1 = Y(l.p1), y2 = Y(l.p2);
          if (x1 === null || x2 === null || y1 === null || y2 === null) continue;
          ctx.globalAlpha = l.forming ? 0.55 : 1;
          ctx.setLineDash(l.forming ? [5 * hr, 4 * hr] : []);
          ctx.strokeStyle = l.color; ctx.lineWidth = l.width * hr;
          ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke();
        }
        ctx.setLineDash([]);
        const s = 3.5 * hr, gap = 5 * vr;
        for (const d of this.dots) {
          if (!visible(d.i, d.i)) continue;
          const x = X(d.i), y = Y(d.p);
          if (x === null || y === null) continue;
          ctx.globalAlpha = d.forming ? 0.45 : 0.9;
          ctx.fillStyle = d.color;
          ctx.beginPath();
          if (d.top) { ctx.moveTo(x - s, y - gap - s * 1.6); ctx.lineTo(x + s, y - gap - s * 1.6); ctx.lineTo(x, y - gap); }
          else { ctx.moveTo(x - s, y + gap + s * 1.6); ctx.lineTo(x + s, y + gap + s * 1.6); ctx.lineTo(x, y + gap); }
          ctx.closePath(); ctx.fill();
        }
      }
      ctx.restore();
    });
  }
  paneViews() {
    return [
      { zOrder: () => 'bottom', renderer: () => ({ draw: (t) => this._draw(t, 'boxes') }) },
      { zOrder: () => 'normal', renderer: () => ({ draw: (t) => this._draw(t, 'lines') }) },
    ];
  }
}

/**
 * The Chan overlay. ctx (from chart.js) adds to the usual overlay context: adjustment(), until()
 * (the replay's exclusive end, or null) and precision.
 */
export function chanOverlay() {
  const settings = loadSettings();
  const el = document.getElementById('chart');
  const panel = document.getElementById('chan-panel');
  const master = document.getElementById('chan-on');
  const profileSel = document.getElementById('chan-profile');
  const status = document.getElementById('chan-status');
  const info = document.getElementById('chan-info');
  let ctx = null, primitive = null, markers = null, bars = [];
  let main = { key: '', data: null, error: null }, higher = { key: '', data: null, error: null };
  let drawn = { strokes: [], segments: [], pivots: [], fractals: [], signals: [], higher: [] };
  let requests = 0;
  // One analysis round at a time, at most one every 300 ms (a replay playing at 10× asks for a
  // new cursor every 100 ms; the round after the one in flight takes the latest cursor), and
  // after a 429 not before the server's Retry-After: what is drawn stays until newer data comes.
  const gate = throttle({ minGap: 300 });
  const S = () => ctx.strings;

  function syncPanel() {
    master.checked = settings.on;
    panel.dataset.on = String(settings.on);
    for (const input of panel.querySelectorAll('input[data-layer]')) input.checked = settings[input.dataset.layer];
    profileSel.value = settings.profile;
    const hi = HIGHER[ctx ? ctx.resolution() : ''];
    const higherBox = panel.querySelector('input[data-layer="higher"]');
    higherBox.disabled = !hi;
    higherBox.parentElement.title = hi ? fill(S().chanHigherLevel, { res: hi }) : S().chanNoHigher;
  }
  function onPanel(e) {
    const t = e.target;
    if (t === master) settings.on = master.checked;
    else if (t === profileSel) settings.profile = profileSel.value;
    else if (t.dataset && t.dataset.layer) settings[t.dataset.layer] = t.checked;
    else return;
    saveSettings(settings);
    syncPanel();
    update();
  }

  function requestKey(res) {
    if (!bars.length) return '';
    const until = ctx.until();
    let from = bars[0].utc;
    if (res !== ctx.resolution()) from -= PERIOD[res] || 0; // the higher bar holding the first bar
    return JSON.stringify([ctx.symbol(), res, ctx.adjustment(), settings.profile, from, until]);
  }
  async function fetchChan(key, signal) {
    const [symbol, resolution, adjustment, profile, from, until] = JSON.parse(key);
    const q = new URLSearchParams({ resolution, profile, adjustment, from: String(from) });
    if (until !== null && until !== undefined) q.set('until', String(until));
    requests++;
    el.dataset.chanRequests = String(requests);
    const res = await fetch(`/api/v1/chan/${encodeURIComponent(symbol)}?${q}`, { signal });
    if (res.status === 404) return null; // no bars in range: nothing to draw
    if (!res.ok) throw await answerError(res, 'chan');
    return res.json();
  }

  /** Fetches what is missing for the current bars and settings, then draws. */
  function update() {
    if (!ctx) return;
    if (!settings.on || !bars.length) { gate.idle(); draw(); return; }
    const wantMain = requestKey(ctx.resolution());
    const hiRes = settings.higher ? HIGHER[ctx.resolution()] : null;
    const wantHigher = hiRes ? requestKey(hiRes) : '';
    const missing = [];
    if (main.key !== wantMain) missing.push([main, wantMain]);
    if (wantHigher && higher.key !== wantHigher) missing.push([higher, wantHigher]);
    if (!missing.length) { gate.idle(); draw(); return; }
    el.dataset.chanState = 'loading';
    status.textContent = S().chanLoading;
    // (a round in flight makes `update` run again once it ends, for the latest cursor)
    gate.schedule(async (signal) => {
      try {
        const got = await Promise.all(missing.map(([, key]) => fetchChan(key, signal)));
        missing.forEach(([slot, key], i) => { slot.key = key; slot.data = got[i]; slot.error = null; });
        draw();
      } catch (e) {
        // an abort, or too many requests (keep what is drawn, wait as told, then ask again)
        if (e.name === 'AbortError' || e.status === 429 || e.status === 503) throw e;
        console.warn('chan', e);
        missing.forEach(([slot]) => { slot.key = ''; slot.data = null; });
        draw(String(e.message || e));
      }
    }, update);
  }

  function draw(error) {
    if (!ctx) return;
    const lines = [], boxes = [], dots = [], marks = [];
    drawn = { strokes: [], segments: [], pivots: [], fractals: [], signals: [], higher: [] };
    const a = settings.on ? main.data : null;
    const { floor, ceil } = indexer(bars);
    const c = ctx.colours();
    // structures of the chart's own resolution sit on its bars exactly; anything else (a bar not
    // shown, such as one after a replay's cursor) is not drawn
    const at = (iso) => { const t = utcOf(iso), i = floor(t); return i >= 0 && bars[i].utc === t ? i : -1; };
    if (a) {
      if (settings.strokes) for (const s of a.strokes) {
        const i1 = at(s.begin_time), i2 = at(s.end_time);
        if (i1 < 0 || i2 < 0) continue;
        const l = { i1, i2, p1: s.begin_price, p2: s.end_price, color: PALETTE.stroke, width: 1.5, forming: !s.confirmed, item: s, kind: 'stroke' };
        lines.push(l); drawn.strokes.push(l);
      }
      if (settings.segments) for (const s of a.segments) {
        const i1 = at(s.begin_time), i2 = at(s.end_time);
        if (i1 < 0 || i2 < 0) continue;
        const l = { i1, i2, p1: s.begin_price, p2: s.end_price, color: PALETTE.segment, width: 3, forming: !s.confirmed, item: s, kind: 'segment' };
        lines.push(l); drawn.segments.push(l);
      }
      if (settings.pivots) for (const p of a.pivots) {
        const i1 = at(p.begin_time), i2 = at(p.end_time);
        if (i1 < 0 || i2 < 0) continue;
        const colour = p.level === 'segment' ? PALETTE.segmentPivot : PALETTE.strokePivot;
        const b = { i1, i2, top: p.zg, bottom: p.zd, fill: colour.fill, stroke: colour.stroke, width: p.level === 'segment' ? 1.5 : 1, forming: !p.confirmed, item: p };
        boxes.push(b); drawn.pivots.push(b);
      }
      if (settings.fractals) for (const f of a.fractals) {
        const i = at(f.time);
        if (i < 0) continue;
        const d = { i, p: f.price, top: f.kind === 'top', color: PALETTE.fractal, forming: !f.confirmed, item: f };
        dots.push(d); drawn.fractals.push(d);
      }
      if (settings.signals) for (const s of a.signals) {
        const i = at(s.time);
        if (i < 0) continue;
        const buy = s.side === 'buy', seg = s.level === 'segment';
        const base = buy ? c.up : c.down;
        marks.push({
          time: bars[i].time, position: buy ? 'belowBar' : 'aboveBar', shape: buy ? 'arrowUp' : 'arrowDown',
          color: shade(base, { dark: seg ? 0.35 : 0, alpha: s.confirmed ? 1 : 0.5 }), text: s.label, size: seg ? 2 : 1,
          id: `chan-${s.level}-${s.side}-${s.bar}-${s.label}`,
        });
        drawn.signals.push({ i, item: s });
      }
    }
    const h = settings.on && settings.higher && HIGHER[ctx.resolution()] ? higher.data : null;
    if (h) {
      for (const p of h.pivots) {
        const t1 = utcOf(p.begin_time), t2 = barEnd(h.resolution, utcOf(p.end_time));
        const i1 = Math.max(0, ceil(t1)), i2 = floor(t2 - 1);
        if (i2 < 0 || i1 >= bars.length || i2 < i1) continue;
        const b = { i1, i2, top: p.zg, bottom: p.zd, fill: PALETTE.higherPivot.fill, stroke: PALETTE.higherPivot.stroke, width: 2, forming: !p.confirmed, item: p, higher: h.resolution };
        boxes.push(b); drawn.higher.push(b);
      }
    }
    marks.sort((x, y) => x.time - y.time);
    if (primitive) primitive.set({ lines, boxes, dots });
    if (markers) markers.setMarkers(marks);
    el.dataset.chanStrokes = String(drawn.strokes.length);
    el.dataset.chanSegments = String(drawn.segments.length);
    el.dataset.chanPivots = String(drawn.pivots.length);
    el.dataset.chanFractals = String(drawn.fractals.length);
    el.dataset.chanSignals = String(drawn.signals.length);
    el.dataset.chanHigherPivots = String(drawn.higher.length);
    if (!settings.on) { el.dataset.chanState = 'off'; status.textContent = ''; info.hidden = true; return; }
    if (error) { el.dataset.chanState = 'error'; status.textContent = `${S().chanError}: ${error}`; return; }
    el.dataset.chanState = 'ready';
    status.textContent = a ? fill(S().chanSummary, { strokes: a.strokes.length, segments: a.segments.length, pivots: a.pivots.length, signals: a.signals.length }) : '';
  }

  // ---- details of the structure under the crosshair
  function describe(param) {
    if (!settings.on || !param || param.logical === undefined || !param.point) { info.hidden = true; return; }
    const i = Math.round(param.logical);
    const y = param.point.y;
    const price = ctx.candles.coordinateToPrice(y);
    const p = (x) => Number(x).toFixed(ctx.precision);
    const level = (l) => (l === 'segment' ? S().chanSegmentLevel : S().chanStrokeLevel);
    const forming = (x) => (x.confirmed ? '' : ` · ${S().chanForming}`);
    const out = [];
    for (const s of drawn.signals) if (s.i === i) {
      const v = s.item;
      out.push(`${v.label} (${v.classes.join(', ')}) · ${level(v.level)} · ${p(v.price)}${forming(v)}\n${v.rule}`);
    }
    for (const f of drawn.fractals) if (f.i === i) out.push(`${f.top ? S().chanTop : S().chanBottom} ${p(f.item.price)}${forming(f.item)}`);
    if (price !== null) {
      for (const b of drawn.pivots) if (i >= b.i1 && i <= b.i2 && price <= b.item.zg && price >= b.item.zd) {
        const v = b.item;
        out.push(`${S().chanPivot} · ${level(v.level)} · ZG ${p(v.zg)} ZD ${p(v.zd)} · GG ${p(v.gg)} DD ${p(v.dd)}${forming(v)}`);
      }
      for (const b of drawn.higher) if (i >= b.i1 && i <= b.i2 && price <= b.item.zg && price >= b.item.zd) {
        const v = b.item;
        out.push(`${S().chanPivot} · ${fill(S().chanHigherLevel, { res: b.higher })} · ${level(v.level)} · ZG ${p(v.zg)} ZD ${p(v.zd)}${forming(v)}`);
      }
    }
    // a stroke or segment within a few pixels of the pointer
    for (const l of [...drawn.segments, ...drawn.strokes]) {
      if (i < Math.min(l.i1, l.i2) || i > Math.max(l.i1, l.i2)) continue;
      const f = l.i2 === l.i1 ? 0 : (param.logical - l.i1) / (l.i2 - l.i1);
      const ly = ctx.candles.priceToCoordinate(l.p1 + (l.p2 - l.p1) * f);
      if (ly === null || Math.abs(ly - y) > 6) continue;
      const v = l.item;
      const name = l.kind === 'segment' ? S().chanSegment : S().chanStroke;
      out.push(`${name} ${v.direction === 'up' ? S().chanUp : S().chanDown} · ${p(v.begin_price)} → ${p(v.end_price)}${forming(v)}`);
      break;
    }
    info.hidden = out.length === 0;
    info.textContent = out.join('\n');
  }

  return {
    name: 'chan',
    attach(c) {
      ctx = c;
      primitive = new ChanPrimitive();
      c.candles.attachPrimitive(primitive);
      markers = c.lib.createSeriesMarkers(c.candles, []);
      panel.addEventListener('change', onPanel);
      c.chart.subscribeCrosshairMove(describe);
      syncPanel();
      el.dataset.chanState = 'off';
    },
    setData(b) { bars = b; syncPanel(); update(); },
    /** For tests and the console: what is drawn. */
    drawn: () => drawn,
    settings: () => ({ ...settings }),
    detach() {
      gate.cancel();
      if (ctx) { ctx.candles.detachPrimitive(primitive); ctx.chart.unsubscribeCrosshairMove(describe); }
      if (markers) markers.detach();
      panel.removeEventListener('change', onPanel);
      ctx = null; primitive = null; markers = null;
    },
  };
}
