// The chart's technical indicators as pure functions of arrays of numbers (no chart, no DOM), so
// the browser tests can check them on hand-computed series. Every function returns an array as
// long as its input, with `undefined` where the indicator is not defined yet.

/** Simple moving average over `n` values; undefined for the first n−1. */
export function sma(values, n) {
  const out = new Array(values.length).fill(undefined);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= n) sum -= values[i - n];
    if (i >= n - 1) out[i] = sum / n;
  }
  return out;
}

/** Exponential moving average with α = 2/(n+1), seeded with the first value. */
export function ema(values, n) {
  const out = new Array(values.length);
  const k = 2 / (n + 1);
  values.forEach((v, i) => { out[i] = i === 0 ? v : v * k + out[i - 1] * (1 - k); });
  return out;
}

/**
 * Bollinger Bands: middle = SMA(close, n); upper/lower = middle ± k·σ, where σ is the population
 * standard deviation of the same n closes (Bollinger's definition, as TradingView draws it).
 * Undefined for the first n−1 bars.
 */
export function bollinger(closes, n, k) {
  const middle = sma(closes, n);
  const upper = new Array(closes.length).fill(undefined);
  const lower = new Array(closes.length).fill(undefined);
  for (let i = n - 1; i < closes.length; i++) {
    const m = middle[i];
    let ss = 0;
    for (let j = i - n + 1; j <= i; j++) ss += (closes[j] - m) ** 2;
    const sd = Math.sqrt(ss / n);
    upper[i] = m + k * sd;
    lower[i] = m - k * sd;
  }
  return { middle, upper, lower };
}

/**
 * RSI with Wilder's smoothing: the average gain and loss of the first n changes are their plain
 * means, then avg = (avg₋₁·(n−1) + x)/n; RSI = 100 − 100/(1 + avgGain/avgLoss). Defined from bar n
 * (the first n changes need n+1 closes). No losses gives 100, and a flat window (no gains either) 50.
 */
export function rsi(closes, n) {
  const out = new Array(closes.length).fill(undefined);
  if (closes.length <= n) return out;
  let gain = 0, loss = 0;
  for (let i = 1; i <= n; i++) {
    const d = closes[i] - closes[i - 1];
    if (d > 0) gain += d; else loss -= d;
  }
  gain /= n; loss /= n;
  const value = () => (loss === 0 ? (gain === 0 ? 50 : 100) : 100 - 100 / (1 + gain / loss));
  out[n] = value();
  for (let i = n + 1; i < closes.length; i++) {
    const d = closes[i] - closes[i - 1];
    gain = (gain * (n - 1) + Math.max(d, 0)) / n;
    loss = (loss * (n - 1) + Math.max(-d, 0)) / n;
    out[i] = value();
  }
  return out;
}

/**
 * KDJ in the Chinese broker convention (通达信 / 同花顺 KDJ(9,3,3)):
 *   RSV = (C − LLV(L, n)) / (HHV(H, n) − LLV(L, n)) × 100
 *   K   = SMA(RSV, m1, 1) = (m1−1)/m1 · K₋₁ + RSV/m1, with K₋₁ = 50 before the first bar
 *   D   = SMA(K, m2, 1)   = (m2−1)/m2 · D₋₁ + K/m2,   with D₋₁ = 50
 *   J   = 3K − 2D
 * As in those apps, LLV/HHV over the first bars use the bars there are (fewer than n), so K, D
 * and J are defined from the first bar. A window with no range (HHV = LLV) gives RSV = 50.
 */
export function kdj(highs, lows, closes, n, m1, m2) {
  const len = closes.length;
  const K = new Array(len), D = new Array(len), J = new Array(len);
  let k = 50, d = 50;
  for (let i = 0; i < len; i++) {
    let hh = -Infinity, ll = Infinity;
    for (let j = Math.max(0, i - n + 1); j <= i; j++) { hh = Math.max(hh, highs[j]); ll = Math.min(ll, lows[j]); }
    const rsv = hh === ll ? 50 : ((closes[i] - ll) / (hh - ll)) * 100;
    k = ((m1 - 1) * k + rsv) / m1;
    d = ((m2 - 1) * d + k) / m2;
    K[i] = k; D[i] = d; J[i] = 3 * k - 2 * d;
  }
  return { k: K, d: D, j: J };
}

// ---- parameters: what each indicator takes, its defaults and allowed ranges
export const PARAMS = {
  boll: { n: { def: 20, min: 2, max: 250, int: true }, k: { def: 2, min: 0.1, max: 10, int: false } },
  rsi: { n: { def: 14, min: 2, max: 250, int: true } },
  kdj: { n: { def: 9, min: 2, max: 250, int: true }, m1: { def: 3, min: 1, max: 50, int: true }, m2: { def: 3, min: 1, max: 50, int: true } },
  volma: { periods: { def: [5, 10], min: 1, max: 500, int: true, list: 4 } },
};

/**
 * The value of `text` for the parameter `spec`, or null when it is not one: a whole number (or,
 * for a non-integer parameter, a decimal number) within [min, max]; for a list, 1 to `list` of
 * them separated by commas or spaces.
 */
export function parseParam(spec, text) {
  const one = (s) => {
    if (!(spec.int ? /^\d+$/ : /^\d+(\.\d+)?$/).test(s)) return null;
    const v = Number(s);
    return v >= spec.min && v <= spec.max ? v : null;
  };
  const t = String(text).trim();
  if (!spec.list) return one(t);
  const parts = t.split(/[,\s]+/).filter((s) => s !== '');
  if (parts.length === 0 || parts.length > spec.list) return null;
  const vs = parts.map(one);
  return vs.includes(null) ? null : vs;
}

/** Indicator settings from stored JSON: every value that fails `parseParam` takes its default. */
export function loadSettings(json) {
  let stored = {};
  try { stored = JSON.parse(json) || {}; } catch { stored = {}; }
  const out = {};
  for (const [name, params] of Object.entries(PARAMS)) {
    const s = stored[name] && typeof stored[name] === 'object' ? stored[name] : {};
    out[name] = { on: s.on === true };
    for (const [p, spec] of Object.entries(params)) {
      const v = s[p] === undefined ? null : parseParam(spec, Array.isArray(s[p]) ? s[p].join(',') : String(s[p]));
      out[name][p] = v === null ? spec.def : v;
    }
  }
  return out;
}
