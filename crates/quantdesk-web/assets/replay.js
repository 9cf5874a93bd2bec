// Replay (回放): a cursor over the loaded bars. While it is on, the chart shows only the bars
// opening at or before the cursor, and the Chan layers are analysed with `until` = the opening of
// the next bar, so nothing from the future is drawn. Controls: a start time, step back/forward by N
// bars, play/pause at a speed, and a seek slider. The cursor is kept per symbol and resolution for
// the signed-in user (the server's /api/v1/auth/prefs, so it follows the user to another browser)
// and in this browser's localStorage (so a reload shows it at once); the newer of the two wins.

const storeKey = (symbol, res) => `quantdesk.replay.${symbol}.${res}`;
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ''));

export function setupReplay({ state, replay, setReplay, loadOlder, strings: S }) {
  const $ = (id) => document.getElementById(id);
  const bar = $('replay-bar'), toggle = $('replay-toggle'), start = $('replay-start');
  const back = $('replay-back'), forward = $('replay-forward'), play = $('replay-play');
  const stepInput = $('replay-step'), speedSel = $('replay-speed'), seek = $('replay-seek');
  const status = $('replay-status'), exit = $('replay-exit');
  let timer = null;

  const key = () => storeKey(state.symbol, state.resolution);
  const step = () => Math.max(1, Math.min(500, parseInt(stepInput.value, 10) || 1));
  /** The last loaded bar opening at or before utc (0 if none). */
  function indexAt(utc, field = 'utc') {
    let lo = 0, hi = state.bars.length - 1, r = 0;
    while (lo <= hi) { const m = (lo + hi) >> 1; if (state.bars[m][field] <= utc) { r = m; lo = m + 1; } else hi = m - 1; }
    return r;
  }
  const current = () => (replay.active && replay.cursor !== null ? indexAt(replay.cursor) : state.bars.length - 1);
  // bar times as the chart shows them (exchange time for intraday bars) in the start picker
  const toInput = (b) => new Date(b.time * 1000).toISOString().slice(0, 16);

  const prefUrl = (k) => `/api/v1/auth/prefs/${encodeURIComponent(k)}`;
  let pushTimer = null;
  function save() {
    const value = replay.active
      ? { cursor: replay.cursor, step: step(), speed: speedSel.value, at: Date.now() }
      : { cursor: null, at: Date.now() };
    try { localStorage.setItem(key(), JSON.stringify(value)); } catch { /* private mode */ }
    // To the server at once (keepalive: a reload right after still sends it); while playing,
    // after a pause, so playing does not send a request per bar.
    const k = key();
    const send = () => fetch(prefUrl(k), {
      method: 'PUT', keepalive: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: JSON.stringify(value) }),
    }).catch(() => {});
    clearTimeout(pushTimer);
    if (timer !== null) pushTimer = setTimeout(send, 1000); else send();
  }
  function sync() {
    toggle.setAttribute('aria-pressed', String(replay.active));
    bar.hidden = !replay.active;
    const i = current(), n = state.bars.length;
    seek.max = String(Math.max(0, n - 1));
    seek.value = String(i);
    status.textContent = n ? fill(S.replayStatus, { n: i + 1, total: n }) : '';
    if (n && state.bars[i]) start.value = toInput(state.bars[i]);
    play.setAttribute('aria-pressed', String(timer !== null));
    play.textContent = timer !== null ? S.replayPause : S.replayPlay;
  }
  function go(index) {
    if (!state.bars.length) return;
    const i = Math.max(0, Math.min(state.bars.length - 1, index));
    setReplay(true, state.bars[i].utc);
    save(); sync();
  }
  // Pausing stores the cursor at once (while playing, saves wait for a pause in the steps).
  function pause() { if (timer !== null) { clearInterval(timer); timer = null; save(); } sync(); }
  function stepBy(n) {
    go(current() + n);
    if (timer !== null && current() >= state.bars.length - 1) pause();
  }
  function begin() {
    const n = state.bars.length;
    go(n - 1 - Math.min(200, Math.floor(n / 2)));
  }
  function end() { pause(); setReplay(false, null); save(); sync(); }
  /** Loads older pages until the bar at `value` (of `field`) is loaded, or there are no more. */
  async function reach(value, field) {
    for (let i = 0; i < 50 && state.bars.length && state.bars[0][field] > value && !state.exhausted; i++) {
      const before = state.bars.length;
      await loadOlder();
      if (state.bars.length === before) await new Promise((r) => setTimeout(r, 100));
    }
  }

  toggle.addEventListener('click', () => (replay.active ? end() : begin()));
  exit.addEventListener('click', end);
  back.addEventListener('click', () => stepBy(-step()));
  forward.addEventListener('click', () => stepBy(step()));
  seek.addEventListener('input', () => go(parseInt(seek.value, 10)));
  play.addEventListener('click', () => {
    if (timer !== null) { pause(); return; }
    if (current() >= state.bars.length - 1) return;
    timer = setInterval(() => stepBy(step()), 1000 / (Number(speedSel.value) || 1));
    sync();
  });
  speedSel.addEventListener('change', () => { if (timer !== null) { pause(); play.click(); } save(); });
  stepInput.addEventListener('change', () => { stepInput.value = String(step()); save(); });
  start.addEventListener('change', async () => {
    const t = Date.parse(`${start.value}Z`) / 1000;
    if (!Number.isFinite(t)) return;
    await reach(t, 'time');
    go(indexAt(t, 'time'));
  });

  return {
    /** After a fresh load of bars: takes up this symbol and resolution's saved cursor, if any. */
    restore() {
      if (timer !== null) { clearInterval(timer); timer = null; }
      let saved = null;
      try { saved = JSON.parse(localStorage.getItem(key()) || 'null'); } catch { saved = null; }
      apply(saved);
      // The user's cursor on the server, if newer (set in another browser).
      const k = key();
      fetch(prefUrl(k)).then((r) => (r.ok ? r.json() : null)).then((p) => {
        let remote = null;
        try { remote = p && p.value ? JSON.parse(p.value) : null; } catch { remote = null; }
        if (!remote || k !== key() || (remote.at || 0) <= ((saved && saved.at) || 0)) return;
        try { localStorage.setItem(k, JSON.stringify(remote)); } catch { /* private mode */ }
        apply(remote);
        // The bars are drawn already: redraw them at the cursor (or in full).
        setReplay(replay.active, replay.active ? replay.cursor : null);
        sync();
      }).catch(() => {});
    },
  };

  function apply(saved) {
      if (timer !== null) { clearInterval(timer); timer = null; }
      if (saved && Number.isFinite(saved.cursor) && state.bars.length) {
        replay.active = true; replay.cursor = saved.cursor;
        if (saved.step) stepInput.value = String(saved.step);
        if (saved.speed) speedSel.value = String(saved.speed);
        if (saved.cursor < state.bars[0].utc) {
          // the cursor is older than the first page: load back to it, then redraw there
          reach(saved.cursor, 'utc').then(() => { if (replay.active) { setReplay(true, saved.cursor); sync(); } });
        }
      } else { replay.active = false; replay.cursor = null; }
      sync();
  }
}
