// Browser tests of the watchlists against a running quantdesk with demo data (see run.sh): the
// chart's side panel adds the chart's symbol and switches the chart to a symbol clicked in it;
// /watchlists lists them with prices; a compare symbol draws a second line rebased to the main
// close, kept in the URL; the indicators' values follow the crosshair and the last bar's update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, AUTH, BASE, chartReady, newPage } from './common.mjs';

const call = async (method, path, body) => {
  const res = await fetch(BASE + path, {
    method, headers: { ...AUTH, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
};

/** The demo account's default watchlist, emptied. */
async function emptyDefault() {
  const lists = await call('GET', '/api/v1/watchlists');
  assert.equal(lists.status, 200);
  const d = lists.body.find((l) => l.is_default);
  const detail = await call('GET', `/api/v1/watchlists/${d.id}`);
  for (const it of detail.body.items) assert.equal((await call('DELETE', `/api/v1/watchlists/${d.id}/items/${it.symbol}`)).status, 204);
  return d.id;
}

/** Opens a chart out of any replay (the demo user's replay cursor is kept on the server). */
async function openChart(page, symbol, query = '') {
  const put = await fetch(`${BASE}/api/v1/auth/prefs/${encodeURIComponent(`quantdesk.replay.${symbol}.1D`)}`, {
    method: 'PUT', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ value: JSON.stringify({ cursor: null, at: Date.now() }) }),
  });
  assert.equal(put.status, 200);
  await page.goto(`${BASE}/chart/${symbol}?res=1D&adj=qfq${query}`);
  return chartReady(page, { symbol, resolution: '1D', replay: '' });
}

test('the side panel adds the chart symbol, switches symbol on a click, and /watchlists lists them', async () => {
  const list = await emptyDefault();
  const page = await newPage();
  await openChart(page, '000858.SZ');
  await page.click('#watch-toggle');
  await page.waitForFunction(() => document.getElementById('watch-panel').dataset.count === '0');
  assert.equal(await page.isVisible('#watch-add'), true);
  await page.click('#watch-add');
  await page.waitForSelector('#watch-items li[data-symbol="000858.SZ"]');
  assert.equal(await page.isVisible('#watch-add'), false, 'in the list: the remove button instead');
  assert.equal(await page.isVisible('#watch-remove'), true);
  const item = await page.textContent('#watch-items li[data-symbol="000858.SZ"]');
  assert.match(item, /演示/, 'the name');
  assert.match(item, /[+-]?\d+\.\d\d%/, 'the change');
  // The server has it.
  const detail = await call('GET', `/api/v1/watchlists/${list}`);
  assert.deepEqual(detail.body.items.map((i) => i.symbol), ['000858.SZ']);
  // Another symbol added elsewhere; a click in the panel switches the chart to it.
  assert.equal((await call('POST', `/api/v1/watchlists/${list}/items`, { symbol: '600900.SH' })).status, 201);
  await page.evaluate(() => window.quantdesk.watchPanel.refresh());
  await page.waitForSelector('#watch-items li[data-symbol="600900.SH"]');
  await page.click('#watch-items li[data-symbol="600900.SH"] .watch-pick');
  await chartReady(page, { symbol: '600900.SH' });
  assert.match(page.url(), /\/chart\/600900\.SH\?/);
  assert.equal(await page.getAttribute('#watch-items li[data-symbol="600900.SH"]', 'aria-current'), 'true');
  await page.screenshot({ path: `${ARTIFACTS}/watch-panel.png` });

  await page.goto(`${BASE}/watchlists`);
  const rows = await page.$$eval('.watchlist[data-default] tr[data-symbol]', (trs) => trs.map((tr) => ({
    symbol: tr.dataset.symbol, price: tr.querySelector('[data-field=price]').textContent.trim(),
  })));
  assert.deepEqual(rows.map((r) => r.symbol), ['000858.SZ', '600900.SH']);
  assert.ok(rows.every((r) => Number(r.price) > 0), JSON.stringify(rows));
  await page.screenshot({ path: `${ARTIFACTS}/watchlists.png`, fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a compare symbol draws a second line rebased to the main close, kept in the URL', async () => {
  const page = await newPage();
  await openChart(page, '000858.SZ');
  await page.fill('#compare-input', '600900.SH');
  await page.click('#compare-add');
  await page.waitForFunction(() => window.quantdesk.compare.points('600900.SH') > 0);
  assert.match(page.url(), /cmp=600900\.SH/);
  assert.equal(await page.getAttribute('#chart', 'data-compare'), '600900.SH');
  const check = () => page.evaluate(() => {
    const q = window.quantdesk;
    const range = q.chart.timeScale().getVisibleLogicalRange();
    const from = Math.max(0, Math.ceil(range.from));
    const bar = q.state.bars[from];
    const line = q.compare.series('600900.SH').data();
    const at = line.find((p) => p.time === bar.time);
    return { close: bar.close, value: at && at.value, n: line.length, mainN: q.state.bars.length, distinct: new Set(line.map((p) => p.value.toFixed(4))).size };
  });
  let r = await check();
  assert.ok(r.value !== undefined && Math.abs(r.value - r.close) < 1e-6 * r.close, `rebased at the first bar shown: ${JSON.stringify(r)}`);
  assert.ok(r.n > 100 && r.distinct > 10, `a line, not a constant: ${JSON.stringify(r)}`);
  // Scrolled, it rebases at the new first bar.
  await page.evaluate(() => { const ts = window.quantdesk.chart.timeScale(); const v = ts.getVisibleLogicalRange(); ts.setVisibleLogicalRange({ from: v.from - 200, to: v.to - 200 }); });
  await page.waitForFunction(() => {
    const q = window.quantdesk;
    const from = Math.max(0, Math.ceil(q.chart.timeScale().getVisibleLogicalRange().from));
    const p = q.compare.series('600900.SH').data().find((x) => x.time === q.state.bars[from].time);
    return p && Math.abs(p.value - q.state.bars[from].close) < 1e-6 * p.value;
  });
  // A reload keeps it; the chip removes it.
  await page.reload();
  await chartReady(page, { symbol: '000858.SZ' });
  await page.waitForFunction(() => window.quantdesk.compare.points('600900.SH') > 0);
  await page.screenshot({ path: `${ARTIFACTS}/compare.png` });
  await page.click('#compare-list .compare-chip[data-symbol="600900.SH"] button');
  await page.waitForFunction(() => window.quantdesk.compare.symbols().length === 0);
  assert.doesNotMatch(page.url(), /cmp=/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the indicator values follow the crosshair and the last bar', async () => {
  const page = await newPage();
  await openChart(page, '000858.SZ');
  await page.check('#ind-panel input[data-ind="rsi"]');
  await page.waitForFunction(() => document.getElementById('chart').dataset.indicators.includes('rsi'));
  const legend = () => page.evaluate(() => {
    const el = document.getElementById('ind-legend');
    const value = (k) => { const s = el.querySelector(`[data-ind="${k}"] b`); return s ? s.textContent : null; };
    return { index: el.dataset.index, ma5: value('ma5'), rsi: value('rsi'), dif: value('macd.dif') };
  });
  const last = await page.evaluate(() => window.quantdesk.state.bars.length - 1);
  let off = await legend();
  assert.equal(off.index, String(last), 'off the chart: the last bar');
  const box = await page.locator('#chart').boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
  await page.waitForFunction((l) => document.getElementById('ind-legend').dataset.index !== String(l), last);
  const a = await legend();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.3);
  await page.waitForFunction((i) => document.getElementById('ind-legend').dataset.index !== i, a.index);
  const b = await legend();
  assert.ok(Number(a.index) < Number(b.index), `${a.index} < ${b.index}`);
  assert.notEqual(a.ma5, b.ma5, 'MA5 changes with the bar');
  assert.notEqual(a.rsi, b.rsi, 'RSI changes with the bar');
  // The legend shows the bar's own values: MA5 there is the mean of the five closes up to it.
  const ma5 = await page.evaluate((i) => { const c = window.quantdesk.state.bars.slice(i - 4, i + 1).map((x) => x.close); return c.reduce((s, x) => s + x, 0) / 5; }, Number(b.index));
  assert.ok(Math.abs(Number(b.ma5) - ma5) < 0.01, `${b.ma5} ≈ ${ma5}`);
  // Off the chart, then the last bar updates: the values are recomputed and redrawn.
  await page.mouse.move(box.x + box.width / 2, box.y - 60);
  await page.waitForFunction((l) => document.getElementById('ind-legend').dataset.index === String(l), last);
  off = await legend();
  await page.evaluate(() => {
    const q = window.quantdesk;
    const b = q.state.bars[q.state.bars.length - 1];
    q.applyTail([{ ...b, close: b.close * 1.1, high: Math.max(b.high, b.close * 1.1) }]);
  });
  const updated = await legend();
  assert.equal(updated.index, String(last));
  assert.notEqual(updated.ma5, off.ma5, 'MA5 of the updated last bar');
  assert.notEqual(updated.rsi, off.rsi, 'RSI of the updated last bar');
  await page.screenshot({ path: `${ARTIFACTS}/indicator-values.png` });
  await page.uncheck('#ind-panel input[data-ind="rsi"]');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
