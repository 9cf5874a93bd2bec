// Browser tests of the chart's Chan layers and replay against a running quantdesk with demo data
// (see run.sh): nothing is fetched until the layer is switched on; then strokes, segments, pivot
// boxes and buy/sell points are drawn from /api/v1/chan with the page's resolution and adjustment;
// a switched-off layer disappears, and the switches survive a reload; the higher level's pivots;
// the details of a buy/sell point under the pointer; a replay clips bars and structures to its
// cursor, steps, and survives a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, AUTH, BASE, api, chartReady, newPage as plainPage } from './common.mjs';

/** A signed-in page (one browser context: localStorage survives reloads) that records Chan requests. */
async function newPage(locale = 'en-US') {
  const page = await plainPage(locale);
  page.chanRequests = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/chan/')) page.chanRequests.push(new URL(r.url())); });
  return page;
}

const dataset = (page) => page.evaluate(() => ({ ...document.getElementById('chart').dataset }));
/** Waits until the Chan layer has drawn what the current settings ask for. */
async function chanReady(page) {
  await page.waitForFunction(() => document.getElementById('chart').dataset.chanState === 'ready', null, { timeout: 15000 });
  // the canvas repaints on the next frame
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return dataset(page);
}

/** Pixels close to an RGB colour on the canvases of the chart's price pane. */
async function pixels(page, [R, G, B], tolerance = 12) {
  return page.evaluate(([R, G, B, tol]) => {
    let n = 0;
    for (const c of document.querySelectorAll('#chart table tr:first-child canvas')) {
      if (c.width === 0 || c.height === 0) continue;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 200 && Math.abs(d[i] - R) < tol && Math.abs(d[i + 1] - G) < tol && Math.abs(d[i + 2] - B) < tol) n++;
      }
    }
    return n;
  }, [R, G, B, tolerance]);
}
const STROKE = [0x1c, 0x7e, 0xd6], SEGMENT = [0xe8, 0x59, 0x0c];

test('the Chan layer draws strokes, segments, pivots and buy/sell points, and remembers its switches', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/chart/000858.SZ?res=1D&adj=qfq`);
  let ds = await chartReady(page, { symbol: '000858.SZ', resolution: '1D' });
  assert.equal(ds.chanState, 'off');
  await page.waitForTimeout(300);
  assert.equal(page.chanRequests.length, 0, 'nothing is analysed until the layer is switched on');
  // (a few anti-aliased pixels of other lines can come close to the stroke colour)
  assert.ok(await pixels(page, STROKE) < 20);

  await page.check('#chan-on');
  ds = await chanReady(page);
  assert.equal(page.chanRequests.length, 1);
  const q = page.chanRequests[0];
  assert.equal(q.pathname, '/api/v1/chan/000858.SZ');
  assert.equal(q.searchParams.get('resolution'), '1D');
  assert.equal(q.searchParams.get('adjustment'), 'qfq');
  assert.equal(q.searchParams.get('profile'), 'chanpy');
  assert.equal(q.searchParams.get('from'), ds.firstTime, 'the analysis starts at the first bar shown');
  assert.equal(q.searchParams.get('until'), null);
  const want = await api(`${q.pathname}${q.search}`);
  assert.equal(Number(ds.chanStrokes), want.strokes.length);
  assert.equal(Number(ds.chanSegments), want.segments.length);
  assert.equal(Number(ds.chanPivots), want.pivots.length);
  assert.equal(Number(ds.chanSignals), want.signals.length);
  assert.equal(Number(ds.chanFractals), 0, 'fractals are off by default');
  assert.ok(want.strokes.length > 10 && want.pivots.length > 0 && want.signals.length > 0, 'the demo data has structures');
  // every bar in view, so that confirmed (solid) lines are there to count
  await page.evaluate(() => new Promise((r) => { window.quantdesk.chart.timeScale().fitContent(); requestAnimationFrame(() => requestAnimationFrame(r)); }));
  assert.ok(await pixels(page, STROKE) > 200, 'stroke lines are on the canvas');
  assert.ok(await pixels(page, SEGMENT) > 200, 'segment lines are on the canvas');
  assert.match(await page.textContent('#chan-status'), new RegExp(`${want.strokes.length} strokes`));
  // the markers carry the points' labels, in the chart's up (buy) and down (sell) colours
  const markers = await page.evaluate(() => window.quantdesk.chan.drawn().signals.map((s) => s.item.label));
  assert.deepEqual(markers, want.signals.map((s) => s.label));
  await page.screenshot({ path: `${ARTIFACTS}/chart-chan.png` });

  // the details of a buy/sell point under the pointer, with the rule that produced it
  const signal = want.signals[want.signals.length - 1];
  const frames = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.evaluate((time) => {
    const s = window.quantdesk.chan.drawn().signals.find((x) => x.item.time === time);
    window.quantdesk.chart.timeScale().setVisibleLogicalRange({ from: s.i - 60, to: s.i + 20 });
  }, signal.time);
  await frames();
  const spot = await page.evaluate((time) => {
    const { chart, candles, chan } = window.quantdesk;
    const s = chan.drawn().signals.find((x) => x.item.time === time);
    const box = document.getElementById('chart').getBoundingClientRect();
    return { x: box.left + chart.timeScale().logicalToCoordinate(s.i), y: box.top + candles.priceToCoordinate(s.item.price) };
  }, signal.time);
  // the crosshair follows the pointer; nudge it until the chart reports the bar
  for (let i = 0; i < 5 && await page.isHidden('#chan-info'); i++) {
    await page.mouse.move(spot.x + (i % 2), spot.y);
    await frames();
  }
  await page.waitForSelector('#chan-info:not([hidden])', { timeout: 5000 });
  const text = await page.textContent('#chan-info');
  assert.ok(text.includes(signal.label) && text.includes(signal.rule), text);
  await page.screenshot({ path: `${ARTIFACTS}/chart-chan-info.png` });
  await page.mouse.move(5, 5);

  // a layer switched off disappears, without another request
  await page.uncheck('#chan-layers input[data-layer="strokes"]');
  ds = await chanReady(page);
  assert.equal(ds.chanStrokes, '0');
  assert.equal(Number(ds.chanSegments), want.segments.length);
  assert.ok(await pixels(page, STROKE) < 20, 'no stroke line is left');
  await page.check('#chan-layers input[data-layer="fractals"]');
  ds = await chanReady(page);
  assert.equal(Number(ds.chanFractals), want.fractals.length);
  assert.equal(page.chanRequests.length, 1);

  // the switches survive a reload
  await page.reload();
  await chartReady(page, { symbol: '000858.SZ' });
  ds = await chanReady(page);
  assert.equal(await page.isChecked('#chan-on'), true);
  assert.equal(await page.isChecked('#chan-layers input[data-layer="strokes"]'), false);
  assert.equal(ds.chanStrokes, '0');
  assert.equal(Number(ds.chanSegments), want.segments.length);
  assert.equal(Number(ds.chanFractals), want.fractals.length);

  // another profile, resolution and adjustment each ask again
  page.chanRequests.length = 0;
  await page.selectOption('#chan-profile', 'czsc');
  await chanReady(page);
  assert.equal(page.chanRequests.at(-1).searchParams.get('profile'), 'czsc');
  await page.selectOption('#adjustment', 'hfq');
  await chartReady(page, { adjustment: 'hfq' });
  await chanReady(page);
  assert.equal(page.chanRequests.at(-1).searchParams.get('adjustment'), 'hfq');
  await page.click('#resolutions button[data-res="1W"]');
  await chartReady(page, { resolution: '1W' });
  ds = await chanReady(page);
  assert.equal(page.chanRequests.at(-1).searchParams.get('resolution'), '1W');
  const weekly = await api(`/api/v1/chan/000858.SZ?resolution=1W&adjustment=hfq&profile=czsc&from=${ds.firstTime}`);
  assert.equal(Number(ds.chanSegments), weekly.segments.length);

  // switched off: nothing drawn, and the choice is remembered
  await page.uncheck('#chan-on');
  ds = await dataset(page);
  assert.equal(ds.chanState, 'off');
  assert.equal(ds.chanSegments, '0');
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const left = await pixels(page, SEGMENT);
  assert.ok(left < 20, `segment-coloured pixels: ${left}`);
  await page.reload();
  ds = await chartReady(page);
  assert.equal(ds.chanState, 'off');
  assert.deepEqual(page.errors, []);
});

test('the pivots of the next higher resolution are drawn as boxes', async () => {
  const page = await newPage('zh-CN');
  await page.goto(`${BASE}/chart/000858.SZ?res=1&adj=qfq`);
  const first = await chartReady(page, { resolution: '1' });
  // The higher layer first, then the master switch: one load with both analyses (switching the
  // layer on after the main analysis is ready would race the 60 ms debounce of the next load).
  await page.check('#chan-layers input[data-layer="higher"]');
  await page.check('#chan-on');
  const ds = await chanReady(page);
  const higher = page.chanRequests.find((u) => u.searchParams.get('resolution') === '5');
  assert.ok(higher, 'the 5-minute analysis was asked for');
  assert.ok(Number(higher.searchParams.get('from')) <= Number(first.firstTime));
  const want = await api(`${higher.pathname}${higher.search}`);
  assert.ok(want.pivots.length > 0);
  assert.ok(Number(ds.chanHigherPivots) > 0 && Number(ds.chanHigherPivots) <= want.pivots.length, ds.chanHigherPivots);
  assert.match(await page.textContent('#chan-panel'), /缠论.*笔.*线段.*中枢/s);
  await page.screenshot({ path: `${ARTIFACTS}/chart-chan-higher.png` });
  assert.deepEqual(page.errors, []);
});

test('a replay shows nothing after its cursor, steps, and survives a reload', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/chart/000858.SZ?res=1D&adj=qfq`);
  const full = await chartReady(page, { symbol: '000858.SZ', resolution: '1D' });
  await page.check('#chan-on');
  await chanReady(page);
  await page.click('#replay-toggle');
  await page.waitForSelector('#replay-bar:not([hidden])');
  let ds = await dataset(page);
  const loaded = Number(full.bars);
  assert.equal(Number(ds.bars), loaded - 200, 'the replay starts 200 bars back');
  assert.equal(ds.replay, ds.lastTime, 'the last bar drawn is the cursor');
  const history = await api(`/udf/history?symbol=000858.SZ&resolution=1D&to=4102444800&countback=2000&adjustment=qfq`);
  const cursorIndex = history.t.indexOf(Number(ds.replay));
  assert.equal(cursorIndex, Number(ds.bars) - 1);
  // the Chan analysis ends before the next bar opens
  await page.waitForFunction((t) => performance.getEntriesByType('resource').some((e) => e.name.includes('/api/v1/chan/') && e.name.includes(`until=${t}`)), history.t[cursorIndex + 1]);
  ds = await chanReady(page);
  const asOf = await api(`/api/v1/chan/000858.SZ?resolution=1D&adjustment=qfq&profile=chanpy&from=${ds.firstTime}&until=${history.t[cursorIndex + 1]}`);
  assert.equal(Number(ds.chanSegments), asOf.segments.length);
  assert.equal(Number(ds.chanSignals), asOf.signals.length);
  const latest = await page.evaluate(() => {
    const d = window.quantdesk.chan.drawn();
    return Math.max(...[...d.strokes, ...d.segments, ...d.pivots].map((x) => x.i2), ...d.signals.map((x) => x.i));
  });
  assert.ok(latest <= cursorIndex, 'no structure reaches past the cursor');
  await page.screenshot({ path: `${ARTIFACTS}/chart-replay.png` });

  // step forward by 5 bars, then back by 5, then seek
  await page.fill('#replay-step', '5');
  await page.dispatchEvent('#replay-step', 'change');
  await page.click('#replay-forward');
  ds = await dataset(page);
  assert.equal(Number(ds.replay), history.t[cursorIndex + 5]);
  assert.match(await page.textContent('#replay-status'), new RegExp(`${cursorIndex + 6} of ${loaded}`));
  await page.click('#replay-back');
  assert.equal(Number((await dataset(page)).replay), history.t[cursorIndex]);
  await page.evaluate(() => { const s = document.getElementById('replay-seek'); s.value = '100'; s.dispatchEvent(new Event('input')); });
  ds = await dataset(page);
  assert.equal(Number(ds.replay), history.t[100]);
  assert.equal(Number(ds.bars), 101);
  // play moves on by itself; pause stops it
  await page.selectOption('#replay-speed', '10');
  await page.click('#replay-play');
  await page.waitForFunction((t) => Number(document.getElementById('chart').dataset.replay) > t, history.t[110], { timeout: 10000 });
  await page.click('#replay-play');
  await page.waitForSelector('#replay-play[aria-pressed="false"]');
  const paused = (await dataset(page)).replay;
  await page.waitForTimeout(400);
  assert.equal((await dataset(page)).replay, paused);

  // the cursor survives a reload
  await page.reload();
  ds = await chartReady(page, { replay: paused });
  assert.equal(ds.lastTime, paused);
  assert.equal(await page.isHidden('#replay-bar'), false);
  // and follows the user to another browser (kept on the server, not only in localStorage)
  const pref = await (await fetch(`${BASE}/api/v1/auth/prefs/quantdesk.replay.000858.SZ.1D`, { headers: AUTH })).json();
  assert.equal(JSON.parse(pref.value).cursor, Number(paused));
  const elsewhere = await newPage();
  await elsewhere.goto(`${BASE}/chart/000858.SZ?res=1D&adj=qfq`);
  const there = await chartReady(elsewhere, { replay: paused });
  assert.equal(there.lastTime, paused);
  await elsewhere.context().close();
  // a start time picked in the past
  const day = new Date(history.t[50] * 1000).toISOString().slice(0, 16);
  await page.fill('#replay-start', day);
  await page.dispatchEvent('#replay-start', 'change');
  await page.waitForFunction((t) => document.getElementById('chart').dataset.replay === String(t), history.t[50]);
  // leaving the replay shows every bar again
  await page.click('#replay-exit');
  ds = await dataset(page);
  assert.equal(ds.replay, '');
  assert.equal(Number(ds.bars), loaded);
  assert.equal(ds.lastTime, full.lastTime);
  await page.reload();
  ds = await chartReady(page);
  assert.equal(ds.replay, '');
  assert.deepEqual(page.errors, []);
});

test('a replay at 10× with the Chan layers on plays for 60 s without a failed request', async () => {
  // Issue 21, item 6: four requests a step (two analyses, the marks, the cursor) used to exceed
  // the per-user rate limit within 15 s, and the layers vanished with "too many requests".
  const page = await newPage();
  const failed = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  await page.goto(`${BASE}/chart/000858.SZ?res=1D&adj=qfq`);
  await chartReady(page, { symbol: '000858.SZ', resolution: '1D' });
  await page.check('#chan-on');
  await page.check('#chan-panel input[data-layer="higher"]');
  await chanReady(page);
  await page.click('#replay-toggle');
  await page.waitForSelector('#replay-bar:not([hidden])');
  await page.fill('#replay-step', '1');
  await page.dispatchEvent('#replay-step', 'change');
  await page.selectOption('#replay-speed', '10');
  const seekToStart = () => page.evaluate(() => { const s = document.getElementById('replay-seek'); s.value = '0'; s.dispatchEvent(new Event('input')); });
  await seekToStart();
  const before = page.chanRequests.length;
  const started = Date.now();
  let steps = 0, last = (await dataset(page)).replay;
  while (Date.now() - started < 60000) {
    // at the last bar the replay pauses: go back to the start and play on
    if (await page.getAttribute('#replay-play', 'aria-pressed') !== 'true') { await seekToStart(); await page.click('#replay-play'); }
    await page.waitForTimeout(500);
    const now = (await dataset(page)).replay;
    if (now !== last) { steps++; last = now; }
  }
  await page.click('#replay-play');
  assert.ok(steps > 60, `the replay moved on (${steps} of 120 samples)`);
  await chanReady(page);
  assert.deepEqual(failed, [], 'no request failed');
  const analyses = page.chanRequests.length - before;
  assert.ok(analyses < 450, `fewer analyses than steps (${analyses} in 60 s at 10 steps a second)`);
  assert.deepEqual(page.errors, []);
});
