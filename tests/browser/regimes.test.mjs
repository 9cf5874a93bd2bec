// Browser tests of the chart's regime layer against a running quantdesk with demo data (see
// run.sh): nothing is fetched while it is off; switched on, one band per run of a label is drawn
// behind the candles from /api/v1/regimes with the page's resolution and adjustment, with a legend
// of the labels' statistics and an optional filtered line; switched off, the bands go; during a
// replay the labels are causal and stop at the cursor; a refusal (422) is a status text; after a
// 429 the next request waits for Retry-After. The backtest page splits a run by regime and its
// button starts the dynamics test, whose page shows the radar and the tables (issue 17).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, AUTH, BASE, api, chartReady, newPage as plainPage, submitJob } from './common.mjs';

/** A signed-in page that records regime requests. */
async function newPage(locale = 'en-US') {
  const page = await plainPage(locale);
  page.regimeRequests = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/regimes/')) page.regimeRequests.push(new URL(r.url())); });
  return page;
}
const dataset = (page) => page.evaluate(() => ({ ...document.getElementById('chart').dataset }));
const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
async function regimeState(page, state, extra = {}) {
  await page.waitForFunction(([s, e]) => {
    const d = document.getElementById('chart').dataset;
    return d.regimeState === s && Object.entries(e).every(([k, v]) => d[k] === v);
  }, [state, extra], { timeout: 20000 });
  await frames(page);
  return dataset(page);
}

/** Opens a chart out of any replay: the demo user's replay cursor is kept on the server (and
 * another test file may leave one), so it is set to none first. */
async function openChart(page, path, expect) {
  const [symbol, res] = [expect.symbol, new URL(path, BASE).searchParams.get('res')];
  const put = await fetch(`${BASE}/api/v1/auth/prefs/${encodeURIComponent(`quantdesk.replay.${symbol}.${res}`)}`, {
    method: 'PUT', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ value: JSON.stringify({ cursor: null, at: Date.now() }) }),
  });
  assert.equal(put.status, 200);
  await page.goto(`${BASE}${path}`);
  return chartReady(page, { ...expect, replay: '' });
}

/** Pixels close to an RGB colour on the canvases of the chart's price pane. */
async function pixels(page, [R, G, B], tolerance = 4) {
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
/** An rgba() fill over the white background of the light theme. */
function overWhite(fill) {
  const [r, g, b, a] = fill.match(/[\d.]+/g).map(Number);
  return [r, g, b].map((c) => Math.round(c * a + 255 * (1 - a)));
}

/** Runs of equal labels of the rows from `from` to `to` (UTC seconds, inclusive); a null label ends a run. */
function runs(rows, from, to) {
  const out = [];
  let prev = null;
  for (const r of rows) {
    const t = Date.parse(r.time) / 1000;
    if (t < from || t > to) continue;
    if (r.label === null) { prev = null; continue; }
    if (r.label !== prev) out.push(r.label);
    prev = r.label;
  }
  return out;
}

test('the regime layer draws label bands behind the candles, with a legend, and only while on', async () => {
  const page = await newPage();
  let ds = await openChart(page, '/chart/000858.SZ?res=1D&adj=qfq', { symbol: '000858.SZ', resolution: '1D' });
  assert.equal(ds.regimeState, 'off');
  await page.waitForTimeout(400);
  assert.equal(page.regimeRequests.length, 0, 'nothing is fetched while the layer is off');

  await page.check('#regime-on');
  ds = await regimeState(page, 'ready');
  assert.equal(page.regimeRequests.length, 1);
  const q = page.regimeRequests[0];
  assert.equal(q.pathname, '/api/v1/regimes/000858.SZ');
  assert.equal(q.searchParams.get('resolution'), '1D');
  assert.equal(q.searchParams.get('adjustment'), 'qfq');
  assert.equal(q.searchParams.get('dynamics'), '3');
  assert.equal(q.searchParams.get('min_length'), '12');
  assert.equal(q.searchParams.get('causal'), 'false');
  const want = await api(`${q.pathname}${q.search}`);
  assert.equal(want.filter, 'zero_phase');
  const expected = runs(want.rows, Number(ds.firstTime), Number(ds.lastTime));
  assert.ok(expected.length > 1, `the demo data has several runs: ${expected.length}`);
  assert.equal(Number(ds.regimeBands), expected.length, 'one band per run of a label');
  const drawn = await page.evaluate(() => window.quantdesk.regimes.drawn());
  assert.deepEqual(drawn.map((b) => b.label), expected);
  assert.equal(ds.regimeFilter, 'zero_phase');
  assert.match(await page.textContent('#regime-status'), /Ex-post/);
  // the legend: the three labels' meanings with the answer's run counts
  const items = await page.$$eval('#regime-legend .regime-item', (els) => els.map((e) => e.textContent));
  assert.equal(items.length, 3);
  ['Bear', 'Sideways', 'Bull'].forEach((name, k) => {
    assert.ok(items[k].startsWith(name), items[k]);
    const s = want.statistics.find((x) => x.label === k);
    assert.ok(items[k].includes(`${s.runs} runs`) && items[k].includes(`${s.bars} bars`), items[k]);
  });

  // the bands are on the price pane's canvas: a bearish band takes the chart's down colour
  await page.evaluate(() => window.quantdesk.chart.timeScale().fitContent());
  await frames(page);
  const bear = drawn.find((b) => b.label === 0);
  const bull = drawn.find((b) => b.label === 2);
  assert.notEqual(bear.fill, bull.fill);
  const bearColour = overWhite(bear.fill), bullColour = overWhite(bull.fill);
  await page.screenshot({ path: `${ARTIFACTS}/chart-regimes.png` });
  const onBear = await pixels(page, bearColour), onBull = await pixels(page, bullColour);
  assert.ok(onBear > 1000 && onBull > 1000, `band pixels: ${onBear} bear, ${onBull} bull ${bearColour} ${bullColour}`);

  // the filtered line, from the same answer
  await page.check('#regime-filtered');
  await frames(page);
  assert.ok(await pixels(page, [0x5f, 0x3d, 0xc4], 12) > 100, 'the filtered line is drawn');
  assert.equal(page.regimeRequests.length, 1);
  await page.uncheck('#regime-filtered');

  // off: the bands go, nothing is fetched
  await page.uncheck('#regime-on');
  ds = await regimeState(page, 'off');
  assert.equal(ds.regimeBands, '0');
  assert.ok(await pixels(page, bearColour) < 50, 'no bearish band is left');
  assert.ok(await pixels(page, bullColour) < 50, 'no bullish band is left');
  assert.ok(await page.isHidden('#regime-legend'));
  assert.equal(page.regimeRequests.length, 1);

  // the switch survives a reload
  await page.reload();
  await chartReady(page, { symbol: '000858.SZ' });
  assert.equal(await page.isChecked('#regime-on'), false);
  await page.check('#regime-on');
  await regimeState(page, 'ready');
  await page.reload();
  await chartReady(page, { symbol: '000858.SZ' });
  assert.equal(await page.isChecked('#regime-on'), true);
  ds = await regimeState(page, 'ready');
  assert.equal(Number(ds.regimeBands), expected.length);
  assert.deepEqual(page.errors, []);
  await page.uncheck('#regime-on');
  await page.context().close();
});

test('during a replay the labels are causal and stop at the cursor; a refusal is a status text', async () => {
  const page = await newPage();
  await openChart(page, '/chart/000858.SZ?res=1D&adj=qfq', { symbol: '000858.SZ', resolution: '1D' });
  await page.check('#regime-on');
  await regimeState(page, 'ready', { regimeFilter: 'zero_phase' });

  await page.click('#replay-toggle');
  await page.waitForSelector('#replay-bar:not([hidden])');
  let ds = await regimeState(page, 'ready', { regimeFilter: 'causal' });
  const q = page.regimeRequests[page.regimeRequests.length - 1];
  assert.equal(q.searchParams.get('causal'), 'true', 'a replay asks for causal labels');
  assert.match(await page.textContent('#regime-status'), /Causal/);
  const want = await api(`${q.pathname}${q.search}`);
  assert.equal(want.filter, 'causal');
  const cursor = Number(ds.replay);
  assert.equal(Number(ds.lastTime), cursor);
  const expected = runs(want.rows, Number(ds.firstTime), cursor);
  assert.ok(expected.length > 0);
  assert.equal(Number(ds.regimeBands), expected.length, 'the bands stop at the cursor');
  const drawn = await page.evaluate(() => window.quantdesk.regimes.drawn());
  // the last band ends at the cursor's bar (which has a causal label), not after it
  const atCursor = want.rows.find((r) => Date.parse(r.time) / 1000 === cursor);
  assert.notEqual(atCursor.label, null);
  assert.equal(drawn[drawn.length - 1].i2, Number(ds.bars) - 1);
  assert.equal(drawn[drawn.length - 1].label, atCursor.label);
  // the legend counts the bars up to the cursor, not the answer's whole series
  const items = await page.$$eval('#regime-legend .regime-item', (els) => els.map((e) => e.textContent));
  const bars = items.reduce((n, t) => n + Number(t.match(/(\d+) bars/)[1]), 0);
  const labeled = want.rows.filter((r) => r.label !== null && Date.parse(r.time) / 1000 <= cursor).length;
  assert.equal(bars, labeled);

  // stepping within the loaded labels asks for nothing new
  const before = page.regimeRequests.length;
  await page.click('#replay-forward');
  ds = await regimeState(page, 'ready', { replay: String(want.rows.map((r) => Date.parse(r.time) / 1000).find((t) => t > cursor)) });
  assert.equal(Number(ds.regimeBands), runs(want.rows, Number(ds.firstTime), Number(ds.replay)).length);
  assert.equal(page.regimeRequests.length, before);
  await page.screenshot({ path: `${ARTIFACTS}/chart-regimes-replay.png` });
  await page.click('#replay-exit');
  await regimeState(page, 'ready', { regimeFilter: 'zero_phase' });
  assert.deepEqual(page.errors, []);

  // a minimum length longer than the series: the server refuses (422), the control says so
  await openChart(page, '/chart/000858.SZ?res=1M&adj=qfq', { symbol: '000858.SZ', resolution: '1M' });
  await regimeState(page, 'ready');
  await page.fill('#regime-min-length', '400');
  await page.dispatchEvent('#regime-min-length', 'change');
  ds = await regimeState(page, 'error');
  assert.equal(ds.regimeBands, '0');
  assert.match(await page.textContent('#regime-status'), /^No regime labels: ./);
  // the browser itself logs the refused request; nothing else is an error
  assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), []);
  await page.fill('#regime-min-length', '12');
  await page.dispatchEvent('#regime-min-length', 'change');
  await regimeState(page, 'ready');
  await page.uncheck('#regime-on');
  await page.context().close();
});

test('the regime control speaks Chinese on a Chinese page', async () => {
  const page = await newPage('zh-CN');
  await openChart(page, '/chart/000858.SZ?res=1D&adj=qfq', { symbol: '000858.SZ' });
  assert.match(await page.textContent('#regime-panel'), /市场状态/);
  await page.check('#regime-on');
  await regimeState(page, 'ready');
  const items = await page.$$eval('#regime-legend .regime-item', (els) => els.map((e) => e.textContent));
  assert.deepEqual(items.map((t) => t.split(' ')[0]), ['熊市', '震荡', '牛市']);
  await page.selectOption('#regime-dynamics', '4');
  await regimeState(page, 'ready');
  const four = await page.$$eval('#regime-legend .regime-item', (els) => els.map((e) => e.textContent.split(' ').slice(0, 2).join(' ')));
  assert.deepEqual(four, ['状态 1', '状态 2', '状态 3', '状态 4']);
  assert.equal(page.regimeRequests[page.regimeRequests.length - 1].searchParams.get('dynamics'), '4');
  await page.selectOption('#regime-dynamics', '3');
  await regimeState(page, 'ready');
  await page.uncheck('#regime-on');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a 429 keeps the layer waiting for Retry-After, then it draws', async () => {
  const page = await newPage();
  await openChart(page, '/chart/000858.SZ?res=1D&adj=qfq', { symbol: '000858.SZ', resolution: '1D' });
  const seen = [];
  await page.route('**/api/v1/regimes/**', async (route) => {
    seen.push(Date.now());
    if (seen.length === 1) {
      await route.fulfill({ status: 429, headers: { 'retry-after': '2', 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 'rate_limited', message: 'too many requests' } }) });
    } else await route.continue();
  });
  await page.check('#regime-on');
  await page.waitForTimeout(1000);
  assert.equal(seen.length, 1, 'no second request before Retry-After');
  assert.equal((await dataset(page)).regimeState, 'loading', 'a 429 is not an error shown to the user');
  const ds = await regimeState(page, 'ready');
  assert.equal(seen.length, 2);
  assert.ok(seen[1] - seen[0] >= 1900, `asked again after ${seen[1] - seen[0]} ms`);
  assert.ok(Number(ds.regimeBands) > 0);
  // the browser itself logs the refused request; nothing else is an error
  assert.deepEqual(page.errors.filter((e) => !/status of 429/.test(e)), []);
  await page.uncheck('#regime-on');
  await page.context().close();
});

/** A number as the pages show it (quantdesk_backtest::metrics::shown): never "-0.00". */
const shown = (x, digits) => { const s = x.toFixed(digits); return /^-[0.]+$/.test(s) ? s.slice(1) : s; };

test('a backtest page splits the run by regime, and its dynamics test opens as a radar page', async () => {
  const page = await plainPage();
  // Opened while the run may still be going: the page is rendered again once it has finished.
  const id = await submitJob('backtest', { symbols: ['000858.SZ'], strategy: 'sma_cross', params: { fast: 5, slow: 20 } });
  await page.addInitScript(() => localStorage.setItem('quantdesk.theme', 'dark'));
  await page.goto(`${BASE}/backtests/${id}`);
  await page.waitForSelector('.backtest-page[data-ready="true"]', { timeout: 60000 });
  const job = await api(`/api/v1/jobs/${id}`);
  const split = job.result.regimes;
  assert.equal(split.symbol, '000858.SZ');
  assert.equal(split.figures.rows.length, 3);
  // The whole period, then one row per state, with the job's figures.
  const rows = await page.locator('#bt-regimes-table tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.dataset.row, ...[...tr.cells].map((c) => c.textContent.trim())]));
  assert.deepEqual(rows.map((r) => r[0]), ['all', '0', '1', '2']);
  assert.deepEqual(rows.slice(1).map((r) => r[1]), ['Bear', 'Sideways', 'Bull']);
  split.figures.rows.forEach((f, k) => {
    assert.equal(rows[k + 1][2], String(f.bars));
    assert.equal(rows[k + 1][3], f.total_return === null ? '—' : shown(f.total_return * 100, 2));
  });
  assert.equal(Number(rows[0][2]), split.figures.rows.reduce((n, r) => n + r.bars, 0) + split.figures.unlabeled_bars);
  assert.ok(await page.isVisible('#bt-regimes'), 'the split is shown beside the metrics');
  assert.match(await page.textContent('#bt-regimes'), /Ex-post labels/);
  await page.screenshot({ path: `${ARTIFACTS}/backtest-regimes-dark.png`, fullPage: true });

  // The dynamics test of the run's strategy: its page follows the job, then shows the radar.
  await Promise.all([page.waitForURL(/\/dynamics\/\d+$/), page.click('#bt-dynamics')]);
  const dyn = page.url().split('/').pop();
  await page.waitForSelector('.dynamics-page[data-state="succeeded"]', { timeout: 60000 });
  const result = (await api(`/api/v1/jobs/${dyn}`)).result;
  assert.equal(result.agent, 'sma_cross');
  const tested = result.labels.filter((l) => l.tables);
  assert.ok(tested.length > 0, JSON.stringify(result));
  assert.equal(await page.locator('.dynamics-label .radar svg').count(), tested.length, 'one radar per tested state');
  for (const l of tested) {
    const tr = await page.locator(`#dyn-${l.label}-tm tr[data-row="tr"] td`).allTextContents();
    const agent = l.tables.trademaster.find((m) => m.metric === 'tr').agent;
    assert.equal(tr[1], agent === null ? '—' : shown(agent, 4));
  }
  assert.match(await page.textContent('.dynamics-page'), /TradeMaster's metrics/);
  // In the dark theme the radar's words take the page's text colour.
  const [text, body] = await page.evaluate(() => [getComputedStyle(document.querySelector('.radar svg text')).fill, getComputedStyle(document.body).color]);
  assert.equal(text, body);
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await page.screenshot({ path: `${ARTIFACTS}/dynamics-dark.png`, fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
