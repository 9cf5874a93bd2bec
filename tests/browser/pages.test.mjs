// Browser tests against a running quantdesk with demo data (see run.sh): the chart draws, switches
// symbol and resolution, loads older bars when scrolled; the import page reports a line-numbered
// error and imports a good file; the instruments table filters; both languages render.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { ARTIFACTS, AUTH, BASE, api, chartReady, finishedBacktest, newPage } from './common.mjs';

/** Pixels of the candle colours on the chart's canvases: a blank chart has none. */
async function candlePixels(page) {
  return page.evaluate(() => {
    let n = 0;
    for (const c of document.querySelectorAll('#chart canvas')) {
      if (c.width === 0 || c.height === 0) continue;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
        if ((r > 200 && g < 80 && b < 80) || (r < 70 && g > 120 && g < 160 && b < 90)) n++;
      }
    }
    return n;
  });
}

test('the chart page draws candles, volume and indicators', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/chart/000998.SH`);
  const ds = await chartReady(page, { symbol: '000998.SH', resolution: '1D' });
  const last = await api(`/udf/history?symbol=000998.SH&resolution=1D&to=4102444800&countback=1`);
  assert.equal(Number(ds.lastTime), last.t[0], 'the last bar is the datafeed\'s last bar');
  assert.ok(Number(ds.bars) >= 1000, `bars: ${ds.bars}`);
  assert.equal(Number(ds.bars), (await api('/udf/history?symbol=000998.SH&resolution=1D&to=4102444800&countback=2000')).t.length);
  assert.ok(await candlePixels(page) > 2000, 'the canvas is not blank');
  const legend = await page.textContent('#legend');
  assert.match(legend, /O .*H .*L .*C /);
  // The freshest price: without live quotes, the stored close, said to be stored.
  await page.waitForSelector('#legend .quote[data-source="stored"]');
  const quote = await api('/udf/quotes?symbols=000998.SH');
  assert.equal(quote.d[0].v.source, 'stored');
  assert.match(await page.textContent('#legend .quote'), new RegExp(`Last ${quote.d[0].v.lp.toFixed(2)} · stored`));
  await page.screenshot({ path: `${ARTIFACTS}/chart-1D.png` });
  assert.deepEqual(page.errors, []);
});

test('switching symbol and resolution redraws with the right data', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/chart/000998.SH`);
  await chartReady(page, { symbol: '000998.SH' });
  await page.keyboard.press('/');
  await page.keyboard.type('YSJY');
  await page.waitForSelector('#search-results li[data-symbol="000858.SZ"]');
  await page.keyboard.press('Enter');
  let ds = await chartReady(page, { symbol: '000858.SZ', resolution: '1D' });
  let want = await api(`/udf/history?symbol=000858.SZ&resolution=1D&to=4102444800&countback=2000`);
  assert.equal(Number(ds.lastTime), want.t[want.t.length - 1]);
  assert.equal(Number(ds.firstTime), want.t[0]);
  assert.match(page.url(), /\/chart\/000858\.SZ\?res=1D/);
  await page.click('#resolutions button[data-res="60"]');
  ds = await chartReady(page, { symbol: '000858.SZ', resolution: '60' });
  want = await api(`/udf/history?symbol=000858.SZ&resolution=60&to=4102444800&countback=2000`);
  assert.equal(Number(ds.bars), want.t.length);
  assert.equal(Number(ds.lastTime), want.t[want.t.length - 1]);
  assert.ok(await candlePixels(page) > 500);
  // keyboard: W switches to weekly
  await page.click('#chart');
  await page.keyboard.press('w');
  ds = await chartReady(page, { resolution: '1W' });
  want = await api(`/udf/history?symbol=000858.SZ&resolution=1W&to=4102444800&countback=2000`);
  assert.equal(Number(ds.bars), want.t.length);
  await page.screenshot({ path: `${ARTIFACTS}/chart-switched.png` });
  assert.deepEqual(page.errors, []);
});

test('scrolling left loads older bars', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/chart/000858.SZ?res=1`);
  const first = await chartReady(page, { resolution: '1' });
  assert.equal(Number(first.bars), 2000, 'one page of 1-minute bars');
  await page.evaluate(() => window.quantdesk.chart.timeScale().setVisibleLogicalRange({ from: -50, to: 100 }));
  await page.waitForFunction(() => Number(document.getElementById('chart').dataset.bars) > 2000, null, { timeout: 15000 });
  const more = await page.evaluate(() => ({ ...document.getElementById('chart').dataset }));
  assert.ok(Number(more.firstTime) < Number(first.firstTime), 'older bars were prepended');
  const want = await api(`/udf/history?symbol=000858.SZ&resolution=1&to=${first.firstTime}&countback=2000`);
  assert.equal(Number(more.firstTime), want.t[0]);
  assert.equal(Number(more.bars), 2000 + want.t.length);
  assert.deepEqual(page.errors, []);
});

test('the import page shows a line-numbered error, then imports a good file', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/import`);
  const bad = 'date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10,9,11,10,100\n';
  await page.fill('#symbol', '600000.SH');
  await page.setInputFiles('#file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await page.waitForSelector('#preview select');
  assert.equal(await page.inputValue('#preview select[data-column="date"]'), 'time');
  assert.equal(await page.inputValue('#preview select[data-column="volume"]'), 'volume');
  await page.click('#import-button');
  const err = await page.waitForSelector('#import-result .error');
  const text = await err.textContent();
  assert.match(text, /bad\.csv:3/);
  assert.match(text, /below low/);
  await page.screenshot({ path: `${ARTIFACTS}/import-error.png` });
  const none = await api('/udf/symbols?symbol=600000.SH');
  assert.equal(none.s, 'error', 'nothing was written');

  // a good file whose columns need a changed mapping: "px" is the close
  const good = 'day,open,high,low,px,qty\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,10,11,200\n2024-01-04,11,11.5,10.5,11.2,150\n';
  await page.setInputFiles('#file', { name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
  await page.waitForSelector('#preview select[data-column="px"]');
  // Issue 21, item 10: a file without a close column is stopped at the preview, in words for
  // people (no command-line flags), not after the upload.
  assert.ok(await page.isDisabled('#import-button'), 'no close column: nothing to import yet');
  assert.match(await page.textContent('#import-result .error'), /close/);
  await page.fill('#symbol', '');
  await page.selectOption('#preview select[data-column="px"]', 'close');
  assert.ok(await page.isDisabled('#import-button'), 'no symbol: nothing to import yet');
  const needSymbol = await page.textContent('#import-result .error');
  assert.match(needSymbol, /symbol/);
  assert.doesNotMatch(needSymbol, /--/);
  await page.fill('#symbol', '600000.SH');
  assert.ok(await page.isEnabled('#import-button'));
  await page.selectOption('#preview select[data-column="qty"]', 'volume');
  await page.click('#import-button');
  const ok = await page.waitForSelector('#import-result .ok');
  assert.match(await ok.textContent(), /3/);
  const bars = await api('/udf/history?symbol=600000.SH&resolution=1D&from=0&to=4102444800');
  assert.deepEqual(bars.c, [10.5, 11, 11.2]);
  assert.deepEqual(bars.v, [100, 200, 150]);
  await page.screenshot({ path: `${ARTIFACTS}/import-ok.png` });
  // Issue 21, item 10: the same file again says that it changed nothing.
  assert.doesNotMatch(await ok.textContent(), /Nothing changed/);
  await page.click('#import-button');
  await page.waitForFunction(() => /Nothing changed/.test(document.querySelector('#import-result .ok')?.textContent || ''));
  // the browser logs the refused upload's 422 as a console error; nothing else may appear
  assert.deepEqual(page.errors.filter((e) => !e.includes('status of 422')), []);
});

test('the instruments table filters as one types and links to charts', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/instruments`);
  const before = await page.locator('table.instruments tbody tr').count();
  assert.ok(before >= 7);
  await page.fill('#q', 'ysk');
  await page.waitForFunction(() => document.querySelectorAll('table.instruments tbody tr').length === 1);
  assert.match(await page.textContent('table.instruments tbody'), /300059\.SZ/);
  assert.match(page.url(), /q=ysk/);
  await page.screenshot({ path: `${ARTIFACTS}/instruments.png` });
  await page.click('table.instruments tbody a');
  await chartReady(page, { symbol: '300059.SZ' });
  assert.deepEqual(page.errors, []);
});

test('Chinese and English pages render, and the switch remembers the choice', async () => {
  const zh = await newPage('zh-CN');
  await zh.goto(`${BASE}/chart/000998.SH`);
  await chartReady(zh);
  assert.equal(await zh.getAttribute('html', 'lang'), 'zh-CN');
  assert.match(await zh.textContent('header nav'), /图表/);
  assert.match(await zh.textContent('#legend'), /开 .*收 /);
  await zh.screenshot({ path: `${ARTIFACTS}/chart-zh.png` });
  const en = await newPage('en-US');
  await en.goto(`${BASE}/instruments`);
  assert.match(await en.textContent('header nav'), /Instruments/);
  await en.click('#lang-switch');
  await en.waitForURL(/\/instruments/);
  assert.match(await en.textContent('header nav'), /证券列表/);
  assert.equal(await en.getAttribute('html', 'lang'), 'zh-CN');
  // a phone-width layout still shows the chart
  const phone = await newPage('en-US', { width: 390, height: 844 });
  await phone.goto(`${BASE}/chart/000998.SH`);
  await chartReady(phone);
  assert.ok(await candlePixels(phone) > 500);
  await phone.screenshot({ path: `${ARTIFACTS}/chart-phone.png` });
  // errors people see are sentences, not stack traces
  const missing = await newPage('en-US');
  const res = await missing.goto(`${BASE}/chart/NOPE.SH`);
  assert.equal(res.status(), 404);
  assert.match(await missing.textContent('main'), /no instrument with this symbol/);
});

test('the jobs page follows a running job live, and cancels another', async () => {
  const submit = async (params) => (await (await fetch(`${BASE}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ kind: 'echo', params }),
  })).json()).id;
  const quick = await submit({ sleep_ms: 1500, value: 'done' });
  const slow = await submit({ sleep_ms: 120000 });
  const page = await newPage();
  await page.goto(`${BASE}/jobs`);
  await page.waitForSelector(`tr[data-job="${quick}"]`);
  // the quick job's row turns to succeeded with a full progress bar, without a reload
  await page.waitForFunction((id) => document.querySelector(`tr[data-job="${id}"]`).dataset.state === 'succeeded', quick, { timeout: 30000 });
  const bar = await page.evaluate((id) => { const p = document.querySelector(`tr[data-job="${id}"] progress`); return [p.value, p.max]; }, quick);
  assert.equal(bar[0], bar[1]);
  // cancel the slow one from the page
  await page.waitForFunction((id) => document.querySelector(`tr[data-job="${id}"]`).dataset.state === 'running', slow, { timeout: 30000 });
  await page.click(`tr[data-job="${slow}"] button[data-action="cancel"]`);
  await page.waitForFunction((id) => document.querySelector(`tr[data-job="${id}"]`).dataset.state === 'cancelled', slow, { timeout: 30000 });
  await page.screenshot({ path: `${ARTIFACTS}/jobs.png` });
  // a schedule switched off from the page
  await fetch(`${BASE}/api/v1/schedules/nightly-echo`, { method: 'PUT', headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ cron: '0 2 * * *', kind: 'echo', params: {} }) });
  await page.goto(`${BASE}/jobs`);
  await page.click('tr[data-schedule="nightly-echo"] input[data-action="toggle"]');
  await page.waitForFunction(() => JSON.parse(document.querySelector('tr[data-schedule="nightly-echo"]').dataset.json).enabled === false);
  const saved = (await api('/api/v1/schedules')).find((x) => x.name === 'nightly-echo');
  assert.equal(saved.enabled, false);
  const detail = await newPage();
  await detail.goto(`${BASE}/jobs/${quick}`);
  assert.match(await detail.textContent('pre.json'), /"value": "done"/);
  assert.deepEqual(page.errors, []);
});

test('a schedule made from the jobs page\'s form shows in the list; a bad cron is refused with the API\'s reason', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/jobs`);
  const name = `form-${Date.now()}`;
  await page.fill('#schedule-form input[name="name"]', name);
  // A cron expression the scheduler cannot read: refused, the reason names it, nothing is saved.
  await page.fill('#schedule-form input[name="cron"]', '61 25 * * *');
  await page.selectOption('#schedule-form select[name="kind"]', 'echo');
  await page.click('#schedule-form button[type="submit"]');
  await page.waitForFunction(() => document.getElementById('schedule-error').textContent.length > 0);
  assert.match(await page.textContent('#schedule-error'), /61 25 \* \* \*.*not a valid cron expression/);
  assert.equal(new URL(page.url()).pathname, '/jobs');
  assert.ok(!(await api('/api/v1/schedules')).some((x) => x.name === name), 'nothing saved');
  assert.equal(await page.locator(`tr[data-schedule="${name}"]`).count(), 0);
  // Parameters that are not a JSON object never leave the page.
  await page.fill('#schedule-form input[name="cron"]', '30 17 * * 1-5');
  await page.fill('#schedule-form textarea[name="params"]', '[1, 2]');
  await page.click('#schedule-form button[type="submit"]');
  assert.match(await page.textContent('#schedule-error'), /JSON object/);
  // A good one: saved, and the page comes back with it listed.
  await page.fill('#schedule-form textarea[name="params"]', '{"value": "from the form"}');
  await page.check('#schedule-form input[name="catch_up"]');
  await Promise.all([page.waitForURL(/\/jobs\?saved=/), page.click('#schedule-form button[type="submit"]')]);
  const row = page.locator(`tr[data-schedule="${name}"]`);
  assert.equal(await row.count(), 1);
  assert.match(await row.textContent(), /30 17 \* \* 1-5\s+Asia\/Shanghai/);
  assert.match(await page.textContent('#schedule-saved'), new RegExp(name));
  const saved = (await api('/api/v1/schedules')).find((x) => x.name === name);
  assert.deepEqual([saved.cron, saved.timezone, saved.kind, saved.params, saved.enabled, saved.catch_up],
    ['30 17 * * 1-5', 'Asia/Shanghai', 'echo', { value: 'from the form' }, true, true]);
  await page.screenshot({ path: `${ARTIFACTS}/schedule-form.png`, fullPage: true });
  await fetch(`${BASE}/api/v1/schedules/${name}`, { method: 'DELETE', headers: AUTH });
  // The browser reports the refused request (422) as a console error: that one was expected.
  assert.deepEqual(page.errors, ['Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)']);
});

test('a backtest from the form: progress, equity and drawdown, metrics, trades, and trades on the chart', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/backtests`);
  await page.fill('input[name="symbols"]', '000858.SZ');
  // Each strategy shows its own declared parameters; a refused value is named next to its field.
  await page.selectOption('select[name="strategy"]', 'rsi');
  assert.ok(await page.isVisible('fieldset[data-strategy="rsi"] input[data-param="period"]'));
  assert.ok(!(await page.isVisible('fieldset[data-strategy="sma_cross"]')));
  await page.selectOption('select[name="strategy"]', 'sma_cross');
  await page.fill('fieldset[data-strategy="sma_cross"] input[data-param="fast"]', '5');
  await page.fill('fieldset[data-strategy="sma_cross"] input[data-param="slow"]', '20');
  await page.fill('input[name="commission"]', '5');
  await page.click('#backtest-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('[data-error-for="config.costs.commission_rate"]').textContent.length > 0);
  assert.match(await page.textContent('[data-error-for="config.costs.commission_rate"]'), /0\.1/);
  assert.equal(new URL(page.url()).pathname, '/backtests', 'nothing was submitted');
  // The browser logs the refused request (422) as a console error: that one was expected.
  assert.deepEqual(page.errors.splice(0), ['Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)']);
  await page.fill('input[name="commission"]', '0.0003');
  await page.fill('input[name="from"]', '2023-01-01');
  await page.fill('input[name="to"]', '2024-12-31');
  await page.fill('input[name="benchmark"]', '000998.SH');
  await page.click('#backtest-form button[type="submit"]');
  await page.waitForURL(/\/backtests\/\d+$/);
  await page.waitForFunction(() => document.querySelector('.backtest-page').dataset.ready === 'true', null, { timeout: 60000 });
  const id = page.url().split('/').pop();
  const job = await api(`/api/v1/jobs/${id}`);
  assert.equal(job.state, 'succeeded');
  assert.equal(job.params.params.fast, 5);
  const rows = await page.locator('#bt-metrics tr').count();
  assert.equal(rows, 8);
  const trades = await page.locator('#bt-trades tbody tr').count();
  assert.equal(trades, job.result.trades);
  const canvases = await page.evaluate(() => document.querySelectorAll('#bt-equity canvas').length);
  assert.ok(canvases > 0);
  // The run used only its dates, and the page shows the benchmark and a year per monthly row.
  assert.equal(job.params.from, '2023-01-01');
  assert.equal(job.params.benchmark, '000998.SH');
  const result = await api(`/api/v1/jobs/${id}/artifacts/result.json`);
  assert.ok(result.equity_curve[0][0] >= Date.UTC(2023, 0, 1) / 1000);
  assert.ok(result.equity_curve.at(-1)[0] < Date.UTC(2025, 0, 1) / 1000);
  assert.equal(result.benchmark.symbol, '000998.SH');
  const years = await page.locator('#bt-monthly tbody tr th, #bt-monthly tbody tr td:first-child').allTextContents();
  assert.deepEqual(years, ['2023', '2024']);
  assert.equal(await page.locator('#bt-monthly thead th').count(), 14);
  await page.screenshot({ path: `${ARTIFACTS}/backtest.png`, fullPage: true });
  // the chart shows the run's bars as it saw them (qfq daily), not unadjusted ones
  assert.match(await page.getAttribute('#bt-on-chart', 'href'), /[?&]res=1D&adj=qfq&backtest=\d+$/);
  await page.click('#bt-on-chart');
  await chartReady(page, { symbol: '000858.SZ' });
  await page.waitForFunction(() => Number(document.getElementById('chart').dataset.tradeMarkers || 0) > 0, null, { timeout: 15000 });
  await page.screenshot({ path: `${ARTIFACTS}/chart-trades.png` });
  // the list shows the run
  await page.goto(`${BASE}/backtests`);
  assert.match(await page.textContent('table.jobs'), new RegExp(`#${id}`));
  assert.deepEqual(page.errors, []);
});

/** The colour most of the opaque pixels of the canvases under `selector` have (the chart's
 * background), as "r,g,b", once it equals `want` (or, after 10 s, whatever it is). */
async function chartBackground(page, selector, want) {
  let seen;
  for (let i = 0; i < 100; i++) {
    seen = await page.evaluate((sel) => {
      const counts = new Map();
      for (const c of document.querySelectorAll(`${sel} canvas`)) {
        if (c.width === 0 || c.height === 0) continue;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3] !== 255) continue;
          const k = `${d[i]},${d[i + 1]},${d[i + 2]}`;
          counts.set(k, (counts.get(k) || 0) + 1);
        }
      }
      return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    }, selector);
    if (seen === want) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}

test('at 1366×768: Revoke buttons fit, form buttons size to their content, equity charts take the theme', async () => {
  const [a, b] = [await finishedBacktest({ symbols: ['000858.SZ'], strategy: 'sma_cross' }), await finishedBacktest({ symbols: ['600900.SH'], strategy: 'sma_cross' })];
  const page = await newPage('en-US', { width: 1366, height: 768 });
  // The API key run.sh made for these tests is live: each page lists it with a Revoke button.
  for (const path of ['/settings', '/admin']) {
    await page.goto(`${BASE}${path}`);
    const revoke = page.locator('button.danger', { hasText: 'Revoke' }).first();
    const box = await revoke.boundingBox();
    assert.ok(box, `${path}: a Revoke button`);
    assert.ok(box.x >= 0 && box.x + box.width <= 1366 && box.y >= 0, `${path}: Revoke at ${JSON.stringify(box)} lies within the 1366 px viewport`);
    // …and is not clipped by the box its table scrolls in
    const wrap = await revoke.evaluate((el) => { const r = el.closest('.table-wrap').getBoundingClientRect(); return { left: r.left, right: r.right }; });
    assert.ok(box.x >= wrap.left && box.x + box.width <= wrap.right, `${path}: Revoke at ${JSON.stringify(box)} is visible in its table's box ${JSON.stringify(wrap)}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, `${path}: the page does not scroll sideways`);
  }
  await page.screenshot({ path: `${ARTIFACTS}/admin-1366.png`, fullPage: true });
  for (const [path, button] of [['/backtests', '#backtest-form button[type="submit"]'], ['/decisions', '#decide-form button[type="submit"]']]) {
    await page.goto(`${BASE}${path}`);
    const { width } = await page.locator(button).boundingBox();
    assert.ok(width < 300, `${path}: ${button} is ${width} px wide`);
  }
  // Dark theme: the equity charts are drawn on the theme's background, not white.
  const dark = '13,17,23', light = '255,255,255';
  await page.addInitScript(() => localStorage.setItem('quantdesk.theme', 'dark'));
  await page.goto(`${BASE}/backtests/${a}`);
  await page.waitForFunction(() => document.querySelector('.backtest-page').dataset.ready === 'true', null, { timeout: 30000 });
  assert.equal(await chartBackground(page, '#bt-equity', dark), dark, 'a backtest\'s equity chart in the dark theme');
  await page.screenshot({ path: `${ARTIFACTS}/backtest-dark.png`, fullPage: true });
  await page.goto(`${BASE}/backtests/compare?ids=${a}&ids=${b}`);
  await page.waitForFunction(() => document.querySelector('.compare-page').dataset.ready === '2', null, { timeout: 30000 });
  assert.equal(await chartBackground(page, '#compare-equity', dark), dark, 'the comparison\'s equity chart in the dark theme');
  // The theme switched on the chart page in another tab: the open comparison follows.
  const other = await page.context().newPage();
  await other.goto(`${BASE}/chart/000858.SZ`);
  await chartReady(other);
  await other.selectOption('#theme', 'light');
  assert.equal(await chartBackground(page, '#compare-equity', light), light, 'the chart follows a theme switched while the page is open');
  assert.equal(await chartBackground(other, '#chart', light), light, 'and so does the chart page\'s own');
  assert.deepEqual(page.errors, []);
});

test('decide now: the voting engine on a watchlist, today\'s decision with every vote', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/decisions`);
  await page.fill('#decide-form input[name="symbols"]', '000858.SZ, 600900.SH');
  await page.click('#decide-form button[type="submit"]');
  await page.waitForSelector('table.decisions tbody tr', { timeout: 60000 });
  const rows = await page.locator('table.decisions tbody tr').allTextContents();
  assert.equal(rows.length, 2);
  for (const r of rows) assert.match(r, /(BUY|SELL|HOLD)/);
  assert.match(rows.join(' '), /000858\.SZ/);
  assert.ok((await page.locator('table.decisions tbody tr td:last-child').first().textContent()).includes(':'), 'votes listed');
  await page.screenshot({ path: `${ARTIFACTS}/decisions.png` });
  assert.deepEqual(page.errors, []);
});

test('a sweep\'s runs sort by any column and fill a heat map over two parameters', async () => {
  const res = await fetch(`${BASE}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ kind: 'sweep', params: { symbols: ['000858.SZ'], grid: ['fast=5:9:2', 'slow=20,30,40'], metric: 'sharpe' } }),
  });
  const { id } = await res.json();
  for (let i = 0; i < 600; i++) {
    if ((await api(`/api/v1/jobs/${id}`)).state === 'succeeded') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const page = await newPage();
  await page.goto(`${BASE}/jobs/${id}`);
  await page.click(`a[href="/sweeps/${id}"]`);
  await page.waitForFunction(() => document.querySelector('.sweep-page').dataset.ready === '9', null, { timeout: 30000 });
  assert.equal(await page.locator('#sw-rows tbody tr').count(), 9);
  assert.equal(await page.getAttribute('.sweep-page', 'data-heat-cells'), '9', '3 fast × 3 slow');
  assert.equal(await page.locator('#sw-heat tbody tr').count(), 3);
  // Sorted by the sweep's metric, best first; one click on "fast" sorts by it (descending), another ascending.
  const rows = JSON.parse(await (await fetch(`${BASE}/api/v1/jobs/${id}/artifacts/sweep.json`, { headers: AUTH })).text());
  const best = Math.max(...rows.map((r) => r.metrics.sharpe)).toFixed(3);
  const sharpeCol = await page.evaluate(() => [...document.querySelectorAll('#sw-rows thead th')].findIndex((th) => th.textContent === 'Sharpe'));
  assert.equal(await page.locator(`#sw-rows tbody tr:first-child td:nth-child(${sharpeCol + 1})`).textContent(), best);
  await page.click('#sw-rows thead th:first-child');
  assert.equal(await page.locator('#sw-rows tbody tr:first-child td:first-child').textContent(), '9');
  await page.click('#sw-rows thead th:first-child');
  assert.equal(await page.locator('#sw-rows tbody tr:first-child td:first-child').textContent(), '5');
  await page.selectOption('#sw-axes select[name="metric"]', 'total_return');
  assert.equal(await page.getAttribute('.sweep-page', 'data-heat-cells'), '9');
  await page.screenshot({ path: `${ARTIFACTS}/sweep.png`, fullPage: true });
  assert.deepEqual(page.errors, []);
});

test('sign up with the mailed code, sign in, make an API key, sign out', async () => {
  const page = await newPage('en-US', { width: 1280, height: 800 }, { cookies: [], origins: [] });
  // Signed out, a page leads to the sign-in form, and from there to sign-up.
  await page.goto(`${BASE}/backtests`);
  assert.match(page.url(), /\/login\?next=\/backtests$/);
  await page.click('a[href="/signup"]');
  const email = `new-${Date.now()}@example.com`;
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', 'password');
  await page.click('#signup-form button[type=submit]');
  assert.match(await page.textContent('#auth-error'), /most commonly used/);
  await page.fill('input[name=password]', 'granite-tulip-93');
  await Promise.all([page.waitForURL(/\/verify\?/), page.click('#signup-form button[type=submit]')]);
  // The code comes from the development mailbox, as it would from an inbox. Its files are named
  // by a hash of the address (Mailbox::file_tag), never the address itself.
  const tag = createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32);
  const files = readdirSync(process.env.MAILBOX).filter((f) => f.endsWith(`-${tag}.eml`)).sort();
  const message = readFileSync(`${process.env.MAILBOX}/${files.at(-1)}`, 'utf8');
  const code = message.match(/code is (\d{6})/)[1];
  await page.fill('input[name=code]', code);
  await Promise.all([page.waitForURL(/\/login\?/), page.click('#verify-form button[type=submit]')]);
  assert.match(await page.textContent('.notice'), /confirmed/);
  await page.fill('input[name=password]', 'granite-tulip-93');
  await Promise.all([page.waitForURL(/\/chart/), page.click('#login-form button[type=submit]')]);
  assert.equal(await page.textContent('#current-user'), email);
  // A new account sees none of the demo account's jobs.
  await page.goto(`${BASE}/jobs`);
  assert.equal(await page.locator('tr[data-job]').count(), 0);
  // An API key: shown once, and it works.
  await page.goto(`${BASE}/settings`);
  await page.fill('#key-form input[name=name]', 'notebook');
  await page.click('#key-form button[type=submit]');
  const token = (await page.textContent('#new-token')).trim();
  const me = await (await fetch(`${BASE}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })).json();
  assert.equal(me.email, email);
  assert.deepEqual(me.scopes, ['read']);
  await page.screenshot({ path: `${ARTIFACTS}/settings.png` });
  // Post/redirect/get: a reload shows no token and makes no second key.
  assert.match(page.url(), /\/settings\?done=key$/);
  await page.reload();
  assert.equal(await page.locator('#new-token').count(), 0);
  assert.equal(await page.locator('td', { hasText: 'notebook' }).count(), 1);
  await Promise.all([page.waitForURL(/\/login$/), page.click('#logout')]);
  await page.goto(`${BASE}/settings`);
  assert.match(page.url(), /\/login\?next=\/settings$/);
  // The refused common password answered 422, which the browser reports; nothing else went wrong.
  assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), []);
});
