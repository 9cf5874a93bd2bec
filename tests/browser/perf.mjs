// Chart page speed, a measurement not a test (see docs/benchmarks.md):
//   QD_EMAIL=… QD_PASSWORD=… node tests/browser/perf.mjs BASE_URL SYMBOL [RUNS]   (bench/page.sh sets them)
// Prints, per run, the time from navigation start to the chart's first paint with data (the
// frame after the chart drew its first bars: chart.js marks it), and the bytes transferred.
// Cold runs use a fresh browser context (empty cache); a warm run reloads in the same context.
import { chromium } from 'playwright-core';

const [base, symbol, runs = '5'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
async function measure(page) {
  await page.goto(`${base}/chart/${symbol}?res=1D`);
  await page.waitForFunction(() => document.getElementById('chart').dataset.state === 'ready');
  await page.waitForFunction(() => performance.getEntriesByName('quantdesk:first-paint').length > 0);
  const r = await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => {
    // The chart marks the frame after it first drew data (chart.js).
    const paint = performance.getEntriesByName('quantdesk:first-paint')[0].startTime;
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    resolve({
      paint,
      bars: Number(document.getElementById('chart').dataset.bars),
      transferred: entries.reduce((n, e) => n + (e.transferSize || 0), 0),
      decoded: entries.reduce((n, e) => n + (e.decodedBodySize || 0), 0),
      requests: entries.length,
    });
  })));
  return r;
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(0);
const cold = [], warm = [];
for (let i = 0; i < Number(runs); i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  // Sign in first (not measured): the session cookie is then part of every request, as for a user.
  await page.goto(`${base}/login`);
  await page.fill('input[name=email]', process.env.QD_EMAIL);
  await page.fill('input[name=password]', process.env.QD_PASSWORD);
  await Promise.all([page.waitForURL(/\/chart/), page.click('#login-form button[type=submit]')]);
  await page.evaluate(() => performance.clearResourceTimings());
  const c = await measure(page);
  const w = await measure(page);
  cold.push(c.paint); warm.push(w.paint);
  console.log(`run ${i + 1}: first paint with ${c.bars} bars at ${c.paint.toFixed(0)} ms cold (${c.requests} requests, ${c.transferred} bytes transferred, ${c.decoded} decoded), ${w.paint.toFixed(0)} ms warm (${w.transferred} bytes transferred)`);
  await context.close();
}
console.log(`median first paint: ${median(cold)} ms cold, ${median(warm)} ms warm, over ${cold.length} runs`);
await browser.close();
