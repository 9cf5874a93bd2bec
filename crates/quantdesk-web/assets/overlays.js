// Overlays: things drawn over the price chart (Chan strokes and pivots, backtest trades, regime
// bands, exchange marks). An overlay is an object with `attach(ctx)`, `setData(bars)` and
// `detach()`; the chart calls them and never needs to know what an overlay draws. ctx holds the
// chart, the candle series and the library. Boxes and shaded bands are series primitives.

/** A rectangle from (t1, p1) to (t2, p2); bands leave p1/p2 undefined to span the whole height. */
export class BoxesPrimitive {
  constructor() { this._boxes = []; this._chart = null; this._series = null; this._request = null; }
  attached({ chart, series, requestUpdate }) { this._chart = chart; this._series = series; this._request = requestUpdate; }
  detached() { this._chart = null; this._series = null; }
  setBoxes(boxes) { this._boxes = boxes; if (this._request) this._request(); }
  updateAllViews() {}
  paneViews() {
    const self = this;
    return [{
      zOrder: () => 'bottom',
      renderer: () => ({
        draw(target) {
          if (!self._chart || !self._series) return;
          const ts = self._chart.timeScale();
          target.useBitmapCoordinateSpace(({ context: ctx, horizontalPixelRatio: hr, verticalPixelRatio: vr, bitmapSize }) => {
            for (const b of self._boxes) {
              const x1 = ts.timeToCoordinate(b.t1), x2 = ts.timeToCoordinate(b.t2);
              if (x1 === null || x2 === null) continue;
              const y1 = b.p1 === undefined ? 0 : self._series.priceToCoordinate(b.p1) * vr;
              const y2 = b.p2 === undefined ? bitmapSize.height : self._series.priceToCoordinate(b.p2) * vr;
              ctx.fillStyle = b.fill || 'rgba(66, 133, 244, 0.15)';
              ctx.fillRect(Math.min(x1, x2) * hr, Math.min(y1, y2), Math.abs(x2 - x1) * hr, Math.abs(y2 - y1));
              if (b.stroke) {
                ctx.strokeStyle = b.stroke; ctx.lineWidth = hr;
                ctx.strokeRect(Math.min(x1, x2) * hr, Math.min(y1, y2), Math.abs(x2 - x1) * hr, Math.abs(y2 - y1));
              }
            }
          });
        },
      }),
    }];
  }
}

/** Limit-up / limit-down closes from the datafeed's marks, as markers above and below bars. */
export function limitMarksOverlay() {
  let markers = null, ctx = null, abort = null;
  // The marks fetched for a symbol from a start up to now: a replay stepping forward (bars up to
  // the cursor) and older pages within that range draw from them without asking again.
  let got = null; // { symbol, from, m }
  function draw(bars, m) {
    if (!m.time) return;
    const shown = new Set(bars.map((b) => ctx.dayOf(b.utc)));
    const list = [];
    m.time.forEach((t, i) => {
      const bar = bars.find((b) => ctx.dayOf(b.utc) === ctx.dayOf(t));
      if (!bar || !shown.has(ctx.dayOf(t)) || !String(m.id[i]).startsWith('limit-')) return;
      const up = m.label[i] === 'U';
      list.push({ time: bar.time, position: up ? 'aboveBar' : 'belowBar', shape: up ? 'arrowDown' : 'arrowUp',
        color: up ? ctx.colours().up : ctx.colours().down, text: up ? ctx.strings.limitUp : ctx.strings.limitDown });
    });
    markers.setMarkers(list);
  }
  return {
    name: 'limits',
    attach(c) { ctx = c; markers = c.lib.createSeriesMarkers(c.candles, []); },
    async setData(bars) {
      if (!ctx || bars.length === 0) return;
      const symbol = ctx.symbol(), from = bars[0].utc;
      if (got && got.symbol === symbol && got.from <= from) { draw(bars, got.m); return; }
      if (abort) abort.abort();
      abort = new AbortController();
      const to = Math.max(bars[bars.length - 1].utc, Math.floor(Date.now() / 1000)) + 86400;
      // only this overlay's kind: Chan buy/sell points are the Chan layer's, never limit days
      const url = `/udf/marks?symbol=${encodeURIComponent(symbol)}&from=${from}&to=${to}&resolution=1D&kinds=limit`;
      try {
        const m = await (await fetch(url, { signal: abort.signal })).json();
        got = { symbol, from, m };
        draw(bars, m);
      } catch (e) { if (e.name !== 'AbortError') console.warn('marks', e); }
    },
    detach() { if (markers) markers.detach(); markers = null; ctx = null; got = null; },
  };
}

/** A backtest's trades (from its job's result.json) as buy and sell markers. */
export function tradesOverlay(jobId) {
  let markers = null, ctx = null, trades = null;
  return {
    name: 'trades',
    attach(c) { ctx = c; markers = c.lib.createSeriesMarkers(c.candles, []); },
    async setData(bars) {
      if (!ctx || bars.length === 0) return;
      if (!trades) {
        const res = await fetch(`/api/v1/jobs/${encodeURIComponent(jobId)}/artifacts/result.json`);
        if (!res.ok) return;
        trades = (await res.json()).trades.filter((t) => t.symbol === ctx.symbol());
      }
      const byDay = new Map(bars.map((b) => [ctx.dayOf(b.utc), b.time]));
      const list = [];
      for (const t of trades) {
        const entry = byDay.get(ctx.dayOf(t.entry_time));
        if (entry !== undefined) list.push({ time: entry, position: 'belowBar', shape: 'arrowUp', color: '#1971c2', text: `B ${t.quantity}` });
        const exit = t.exit_time == null ? undefined : byDay.get(ctx.dayOf(t.exit_time));
        if (exit !== undefined) list.push({ time: exit, position: 'aboveBar', shape: 'arrowDown', color: '#f08c00', text: 'S' });
      }
      list.sort((a, b) => a.time - b.time);
      markers.setMarkers(list);
      const el = document.getElementById('chart');
      if (el) el.dataset.tradeMarkers = String(list.length);
    },
    detach() { if (markers) markers.detach(); markers = null; ctx = null; },
  };
}
