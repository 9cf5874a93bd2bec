// Browser tests of the chart's toggleable indicators (the "Indicators" panel) against a running
// quantdesk with demo data (see run.sh): the math of assets/indicators.js against numbers worked
// out by hand; each of BOLL, RSI, KDJ and volume MA draws its series (RSI and KDJ in panes of their
// own) only while on; a bad parameter is refused with a message and the old value kept; the
// settings survive a reload; no script errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, AUTH, BASE, chartReady, newPage } from './common.mjs';

const dataset = (page) => page.evaluate(() => ({ ...document.getElementById('chart').dataset }));
const close = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} ≠ ${b}`);

/** Opens the chart out of any replay (the demo user's replay cursor is kept on the server). */
async function openChart(page, res = '1D') {
  const put = await fetch(`${BASE}/api/v1/auth/prefs/${encodeURIComponent(`quantdesk.replay.000858.SZ.${res}`)}`, {
    method: 'PUT', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ value: JSON.stringify({ cursor: null, at: Date.now() }) }),
  });
  assert.equal(put.status, 200);
  await page.goto(`${BASE}/chart/000858.SZ?res=${res}&adj=qfq`);
  return chartReady(page, { symbol: '000858.SZ', resolution: res, replay: '' });
}

test('the indicator math matches values worked out by hand', async () => {
  const page = await newPage();
  await openChart(page);
  const r = await page.evaluate(() => {
    const m = window.quantdesk.indicators;
    return {
      rsi: m.rsi([10, 11, 10.5, 11.5, 11, 12], 3),
      kdj: m.kdj([10, 12, 11, 9], [8, 9, 7, 8], [9, 12, 8, 9], 3, 3, 3),
      boll2: m.bollinger([2, 4, 4, 4, 5, 5, 7, 9], 8, 2),
      boll15: m.bollinger([2, 4, 4, 4, 5, 5, 7, 9], 8, 1.5),
      boll3: m.bollinger([1, 2, 3], 3, 2),
    };
  });
  // RSI(3) of 10, 11, 10.5, 11.5, 11, 12: changes +1, −0.5, +1, −0.5, +1.
  //  bar 3: avg gain (1+0+1)/3 = 2/3, avg loss 0.5/3 = 1/6, RS 4 → 100 − 100/5 = 80
  //  bar 4 (−0.5): gain (2/3·2)/3 = 4/9, loss (1/6·2 + 0.5)/3 = 5/18, RS 1.6 → 100 − 100/2.6
  //  bar 5 (+1): gain (4/9·2 + 1)/3 = 17/27, loss (5/18·2)/3 = 5/27, RS 3.4 → 100 − 100/4.4
  assert.ok(r.rsi.slice(0, 3).every((v) => v == null), 'undefined before n changes');
  close(r.rsi[3], 80, 'RSI bar 3');
  close(r.rsi[4], 100 - 100 / 2.6, 'RSI bar 4');
  close(r.rsi[5], 100 - 100 / 4.4, 'RSI bar 5');
  // KDJ(3,3,3) of H/L/C 10/8/9, 12/9/12, 11/7/8, 9/8/9:
  //  bar 0: RSV (9−8)/(10−8) = 50; K = (2·50 + 50)/3 = 50, D = 50, J = 50
  //  bar 1: RSV (12−8)/(12−8) = 100; K = (100+100)/3 = 200/3; D = (100 + 200/3)/3 = 500/9; J = 200 − 1000/9 = 800/9
  //  bar 2: RSV (8−7)/(12−7) = 20; K = (400/3 + 20)/3 = 460/9; D = (1000/9 + 460/9)/3 = 1460/27; J = 1380/9 − 2920/27 = 1220/27
  //  bar 3 (window bars 1–3): RSV (9−7)/(12−7) = 40; K = (920/9 + 40)/3 = 1280/27; D = (2920/27 + 1280/27)/3 = 4200/81; J = 3840/27 − 8400/81 = 3120/81
  const want = { k: [50, 200 / 3, 460 / 9, 1280 / 27], d: [50, 500 / 9, 1460 / 27, 4200 / 81], j: [50, 800 / 9, 1220 / 27, 3120 / 81] };
  for (const line of ['k', 'd', 'j']) want[line].forEach((v, i) => close(r.kdj[line][i], v, `KDJ ${line} bar ${i}`));
  // BOLL(8) of 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations 9+1+1+1+0+0+4+16 = 32, σ = √(32/8) = 2.
  assert.ok(r.boll2.middle.slice(0, 7).every((v) => v == null) && r.boll2.upper[6] == null, 'undefined before n bars');
  close(r.boll2.middle[7], 5, 'BOLL middle'); close(r.boll2.upper[7], 9, 'BOLL upper, k 2'); close(r.boll2.lower[7], 1, 'BOLL lower, k 2');
  close(r.boll15.upper[7], 8, 'BOLL upper, k 1.5'); close(r.boll15.lower[7], 2, 'BOLL lower, k 1.5');
  // BOLL(3) of 1, 2, 3: mean 2, σ = √(2/3).
  close(r.boll3.upper[2], 2 + 2 * Math.sqrt(2 / 3), 'BOLL(3) upper');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('each indicator draws only while on, refuses a bad parameter, and its settings survive a reload', async () => {
  const page = await newPage();
  let ds = await openChart(page);
  assert.equal(ds.indicators, '', 'all off at first');
  assert.equal(ds.panes, '3', 'price, volume and MACD');
  const toggles = [['boll', 3, 3], ['rsi', 1, 4], ['kdj', 3, 5], ['volma', 2, 5]];
  const on = [];
  let count = 0;
  for (const [name, series, panes] of toggles) {
    await page.check(`#ind-panel input[data-ind="${name}"]`);
    on.push(name); count += series;
    await page.waitForFunction((v) => document.getElementById('chart').dataset.indicators === v, on.join(','));
    ds = await dataset(page);
    assert.equal(ds.indicatorSeries, String(count), `${name}: its series`);
    assert.equal(ds.panes, String(panes), `${name}: panes`);
  }
  // The series hold the bars shown: RSI within 0–100 and defined from bar 14, BOLL's bands around
  // its middle, the volume MA on the volume pane and RSI/KDJ in panes of their own.
  const drawn = await page.evaluate(() => {
    const s = window.quantdesk.indicatorSeries;
    const values = (x) => x.data().filter((p) => p.value !== undefined).map((p) => p.value);
    return {
      bars: Number(document.getElementById('chart').dataset.bars),
      rsiFirst: s.rsi[0].data().find((p) => p.value !== undefined).time === window.quantdesk.state.bars[14].time, rsi: values(s.rsi[0]),
      upper: values(s.boll[0]), middle: values(s.boll[1]), lower: values(s.boll[2]),
      panes: { boll: s.boll[0].getPane().paneIndex(), rsi: s.rsi[0].getPane().paneIndex(), kdj: s.kdj[0].getPane().paneIndex(), volma: s.volma[0].getPane().paneIndex() },
      volma: s.volma.map((x) => values(x).length),
    };
  });
  assert.ok(drawn.bars > 100);
  assert.ok(drawn.rsiFirst, 'RSI(14) starts at bar 14');
  assert.equal(drawn.rsi.length, drawn.bars - 14);
  assert.ok(drawn.rsi.every((v) => v >= 0 && v <= 100));
  assert.equal(drawn.middle.length, drawn.bars - 19);
  assert.ok(drawn.upper.every((u, i) => u >= drawn.middle[i] && drawn.lower[i] <= drawn.middle[i]));
  assert.deepEqual(drawn.panes, { boll: 0, rsi: 3, kdj: 4, volma: 1 });
  assert.deepEqual(drawn.volma, [drawn.bars - 4, drawn.bars - 9]);
  await page.screenshot({ path: `${ARTIFACTS}/indicators-on.png` });

  // A bad value: refused with a message next to the field; the old value is kept and stored.
  const err = page.locator('#ind-panel [data-error-for="rsi.n"]');
  assert.equal(await err.isHidden(), true);
  for (const bad of ['abc', '1', '1.5', '251', '']) {
    await page.fill('#ind-panel input[data-param="rsi.n"]', bad);
    await page.press('#ind-panel input[data-param="rsi.n"]', 'Enter');
    await err.waitFor({ state: 'visible' });
    const text = await err.textContent();
    assert.match(text, /2\D+250/, `${JSON.stringify(bad)}: the range`);
    assert.match(text, /\b14\b/, `${JSON.stringify(bad)}: the kept value`);
    assert.equal(await page.evaluate(() => window.quantdesk.indicatorSettings.rsi.n), 14);
    assert.equal(await page.getAttribute('#ind-panel input[data-param="rsi.n"]', 'aria-invalid'), 'true');
  }
  assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('quantdesk.indicators')).rsi.n), 14);
  for (const [param, bad] of [['volma.periods', '5,10,20,30,60'], ['volma.periods', '5,x'], ['boll.k', '0'], ['kdj.m1', '0']]) {
    const before = await page.evaluate(() => JSON.stringify(window.quantdesk.indicatorSettings));
    await page.fill(`#ind-panel input[data-param="${param}"]`, bad);
    await page.press(`#ind-panel input[data-param="${param}"]`, 'Enter');
    await page.locator(`#ind-panel [data-error-for="${param}"]`).waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => JSON.stringify(window.quantdesk.indicatorSettings)), before, `${param} ${bad}`);
  }
  // Good values: taken, the message goes, the lines are redrawn with them.
  for (const [param, good] of [['rsi.n', '6'], ['boll.k', '2.5'], ['kdj.m1', '4'], ['volma.periods', '5, 20, 60']]) {
    await page.fill(`#ind-panel input[data-param="${param}"]`, good);
    await page.press(`#ind-panel input[data-param="${param}"]`, 'Enter');
    await page.locator(`#ind-panel [data-error-for="${param}"]`).waitFor({ state: 'hidden' });
  }
  ds = await dataset(page);
  assert.equal(ds.indicatorSeries, String(3 + 1 + 3 + 3), 'three volume MAs now');
  const rsiPoints = await page.evaluate(() => window.quantdesk.indicatorSeries.rsi[0].data().filter((p) => p.value !== undefined).length);
  assert.equal(rsiPoints, Number(ds.bars) - 6, 'RSI(6)');

  // Switched off, RSI's series and pane go; the rest stays.
  await page.uncheck('#ind-panel input[data-ind="rsi"]');
  await page.waitForFunction(() => document.getElementById('chart').dataset.indicators === 'boll,kdj,volma');
  ds = await dataset(page);
  assert.equal(ds.panes, '4');
  assert.equal(ds.indicatorSeries, String(3 + 3 + 3));

  // A reload keeps it all.
  await page.reload();
  ds = await chartReady(page, { symbol: '000858.SZ', replay: '' });
  assert.equal(ds.indicators, 'boll,kdj,volma');
  assert.equal(ds.panes, '4');
  const form = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#ind-panel input')].map((i) => [i.dataset.ind || i.dataset.param, i.type === 'checkbox' ? i.checked : i.value])));
  assert.deepEqual(form, {
    boll: true, 'boll.n': '20', 'boll.k': '2.5', rsi: false, 'rsi.n': '6',
    kdj: true, 'kdj.n': '9', 'kdj.m1': '4', 'kdj.m2': '3', volma: true, 'volma.periods': '5,20,60',
  });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

/** For each indicator on: its series' first defined point and last point as indexes of the bars shown. */
const extent = (page) => page.evaluate(() => {
  const q = window.quantdesk;
  const shown = Number(document.getElementById('chart').dataset.bars);
  const index = new Map(q.state.bars.slice(0, shown).map((b, i) => [b.time, i]));
  const out = { shown };
  for (const [name, series] of Object.entries(q.indicatorSeries)) {
    out[name] = series.map((s) => {
      const d = s.data().filter((p) => p.value !== undefined);
      return [index.get(d[0].time), index.get(d[d.length - 1].time) ?? 'beyond the bars shown', d.length];
    });
  }
  return out;
});

test('during a replay the indicators stop at the cursor; older bars extend them', async () => {
  const page = await newPage();
  await openChart(page);
  for (const name of ['boll', 'rsi', 'kdj', 'volma']) await page.check(`#ind-panel input[data-ind="${name}"]`);
  await page.waitForFunction(() => document.getElementById('chart').dataset.indicators === 'boll,rsi,kdj,volma');
  const loaded = Number((await dataset(page)).loaded);
  await page.click('#replay-toggle');
  await page.waitForSelector('#replay-bar:not([hidden])');
  await page.waitForFunction(() => document.getElementById('chart').dataset.replay !== '');
  let e = await extent(page);
  assert.ok(e.shown < loaded, `the replay hides bars: ${e.shown} of ${loaded}`);
  const last = e.shown - 1;
  // first defined bar: BOLL(20) 19, RSI(14) 14, KDJ 0, MAVOL5/10 4/9; all end at the cursor's bar
  assert.deepEqual(e.boll, [[19, last, last - 18], [19, last, last - 18], [19, last, last - 18]]);
  assert.deepEqual(e.rsi, [[14, last, last - 13]]);
  assert.deepEqual(e.kdj, [[0, last, e.shown], [0, last, e.shown], [0, last, e.shown]]);
  assert.deepEqual(e.volma, [[4, last, last - 3], [9, last, last - 8]]);
  await page.click('#replay-forward');
  await page.waitForFunction((n) => Number(document.getElementById('chart').dataset.bars) === n, e.shown + 1);
  e = await extent(page);
  assert.deepEqual(e.rsi, [[14, last + 1, last - 12]], 'a step forward draws one more bar');
  await page.click('#replay-exit');
  await page.waitForFunction(() => document.getElementById('chart').dataset.replay === '');
  e = await extent(page);
  assert.deepEqual(e.rsi, [[14, loaded - 1, loaded - 14]]);
  assert.deepEqual(page.errors, []);

  // 1-minute bars come in pages: scrolling left prepends older ones and the indicators are
  // recomputed over them all (settings are the page's, kept in localStorage).
  let ds = await openChart(page, '1');
  assert.equal(Number(ds.bars), 2000);
  e = await extent(page);
  assert.deepEqual(e.rsi, [[14, 1999, 1986]]);
  await page.evaluate(() => window.quantdesk.chart.timeScale().setVisibleLogicalRange({ from: -50, to: 100 }));
  await page.waitForFunction(() => Number(document.getElementById('chart').dataset.bars) > 2000, null, { timeout: 15000 });
  await page.waitForTimeout(100);
  ds = await dataset(page);
  const n = Number(ds.bars);
  e = await extent(page);
  assert.equal(e.shown, n);
  assert.deepEqual(e.rsi, [[14, n - 1, n - 14]], 'RSI over the older bars too');
  assert.deepEqual(e.boll[1], [19, n - 1, n - 19]);
  assert.deepEqual(e.kdj[0], [0, n - 1, n]);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the panel is in Chinese on a Chinese page', async () => {
  const page = await newPage('zh-CN');
  await openChart(page);
  const text = await page.locator('#ind-panel').innerText();
  assert.match(text, /指标/);
  assert.match(text, /成交量均线/);
  assert.doesNotMatch(text, /Indicators|Volume|periods/);
  await page.fill('#ind-panel input[data-param="kdj.n"]', '1');
  await page.press('#ind-panel input[data-param="kdj.n"]', 'Enter');
  const err = page.locator('#ind-panel [data-error-for="kdj.n"]');
  await err.waitFor({ state: 'visible' });
  assert.match(await err.textContent(), /整数.*9/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
