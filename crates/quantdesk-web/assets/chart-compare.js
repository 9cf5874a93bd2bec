// Compare symbols on the chart (issue 21): each compared symbol is a line on the price pane,
// rebased to the main series' close: at the first bar shown (the leftmost visible bar that both
// series have) the line starts at the candle's close, and it moves by the compared symbol's own
// percentage changes from there, on the same price scale. Bars come from the same UDF endpoint
// as the chart's, at its resolution and adjustment, and are matched by bar time. The overlay
// follows the chart's overlay interface (attach, setData, detach; see overlays.js).

const COLOURS = ['#0b7285', '#e8590c', '#862e9c'];
export const MAX_COMPARE = 3;

/** The rebasing (pure): `main` and `other` are bars [{time, close}] in time order; `from` is the
 * index in `main` to rebase at. Returns the points of `other` within `main`'s time span, scaled
 * so that at the first time at or after main[from] that both have, the value is main's close; an
 * empty array when they share no time. */
export function rebase(main, other, from) {
  if (!main.length || !other.length) return [];
  const byTime = new Map(other.map((b) => [b.time, b.close]));
  let factor = null;
  for (let i = Math.max(0, from); i < main.length; i++) {
    const c = byTime.get(main[i].time);
    if (c) { factor = main[i].close / c; break; }
  }
  if (factor === null) return [];
  const first = main[0].time, last = main[main.length - 1].time;
  return other.filter((b) => b.time >= first && b.time <= last).map((b) => ({ time: b.time, value: b.close * factor }));
}

export function compareOverlay({ onChange, strings }) {
  let ctx = null, bars = [], frame = 0;
  const lines = new Map(); // symbol → { series, bars, key, from, to, colour }
  const status = document.getElementById('compare-status');
  const list = document.getElementById('compare-list');
  const say = (text) => { if (status) status.textContent = text || ''; };

  function draw() {
    frame = 0;
    if (!ctx) return;
    const range = ctx.chart.timeScale().getVisibleLogicalRange();
    const from = range ? Math.max(0, Math.ceil(range.from)) : 0;
    for (const l of lines.values()) {
      const points = rebase(bars, l.bars || [], from);
      l.points = points.length;
      l.series.setData(points);
      if (l.chip) l.chip.dataset.points = String(points.length);
    }
  }
  const schedule = () => { if (!frame) frame = requestAnimationFrame(draw); };

  async function load(symbol, l) {
    if (!bars.length) return;
    const step = 86400 * 2;
    const from = bars[0].utc, to = bars[bars.length - 1].utc + step;
    const key = `${ctx.resolution()}|${ctx.adjustment()}`;
    if (l.bars && l.key === key && l.from <= from && l.to >= to) { schedule(); return; }
    const q = new URLSearchParams({ symbol, resolution: ctx.resolution(), from: String(from), to: String(to), adjustment: ctx.adjustment() });
    try {
      const v = await (await fetch(`/udf/history?${q}`)).json();
      if (!lines.has(symbol) || lines.get(symbol) !== l) return;
      if (v.s !== 'ok' || !v.t || !v.t.length) {
        say(strings.compareNone.replace('{symbol}', symbol));
        remove(symbol);
        return;
      }
      l.bars = v.t.map((t, i) => ({ time: ctx.displayTime(t), close: v.c[i] }));
      l.key = key; l.from = from; l.to = to;
      schedule();
    } catch (e) {
      say(String(e.message || e));
    }
  }

  function chip(symbol, colour) {
    const span = document.createElement('span');
    span.className = 'compare-chip';
    span.dataset.symbol = symbol;
    const sw = document.createElement('i');
    sw.className = 'swatch';
    sw.style.background = colour;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'link';
    b.textContent = '×';
    b.title = `${strings.compareRemove} ${symbol}`;
    b.setAttribute('aria-label', b.title);
    b.addEventListener('click', () => remove(symbol));
    span.append(sw, ` ${symbol} `, b);
    if (list) list.append(span);
    return span;
  }

  function add(raw) {
    const symbol = String(raw || '').trim().toUpperCase();
    if (!symbol || !ctx || symbol === ctx.symbol() || lines.has(symbol)) return false;
    if (lines.size >= MAX_COMPARE) { say(strings.compareMax.replace('{n}', MAX_COMPARE)); return false; }
    say('');
    const used = new Set([...lines.values()].map((l) => l.colour));
    const colour = COLOURS.find((c) => !used.has(c)) || COLOURS[0];
    const series = ctx.chart.addSeries(ctx.lib.LineSeries, {
      color: colour, lineWidth: 2, priceLineVisible: false, lastValueVisible: true, crosshairMarkerVisible: false, title: symbol,
    }, 0);
    const l = { series, bars: null, colour, points: 0 };
    l.chip = chip(symbol, colour);
    lines.set(symbol, l);
    load(symbol, l);
    if (onChange) onChange();
    return true;
  }

  function remove(symbol) {
    const l = lines.get(symbol);
    if (!l) return;
    if (ctx) ctx.chart.removeSeries(l.series);
    if (l.chip) l.chip.remove();
    lines.delete(symbol);
    if (onChange) onChange();
  }

  return {
    name: 'compare',
    attach(c) {
      ctx = c;
      ctx.chart.timeScale().subscribeVisibleLogicalRangeChange(schedule);
    },
    setData(shown) {
      bars = shown;
      for (const [symbol, l] of lines) load(symbol, l);
      schedule();
    },
    detach() {
      if (!ctx) return;
      ctx.chart.timeScale().unsubscribeVisibleLogicalRangeChange(schedule);
      for (const symbol of [...lines.keys()]) remove(symbol);
      ctx = null;
    },
    add,
    remove,
    symbols: () => [...lines.keys()],
    points: (symbol) => (lines.get(symbol) ? lines.get(symbol).points : 0),
    series: (symbol) => (lines.get(symbol) ? lines.get(symbol).series : null),
  };
}
