// What every browser test file shares: the server's address and API key (see run.sh), one
// chromium for the file, the demo account signed in once through the sign-in form, pages that
// collect script errors, and the wait for the chart to be drawn.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const BASE = process.env.BASE_URL;
export const ARTIFACTS = process.env.ARTIFACTS || '.';
export const AUTH = { authorization: `Bearer ${process.env.QD_TOKEN}` };
export const api = async (path) => (await fetch(BASE + path, { headers: AUTH })).json();

let browser;
/** The demo account's signed-in browser state (its session cookie), made once by the sign-in form. */
let signedIn;

before(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${BASE}/login`);
  await page.fill('input[name=email]', process.env.DEMO_EMAIL);
  await page.fill('input[name=password]', process.env.DEMO_PASSWORD);
  await Promise.all([page.waitForURL(/\/chart/), page.click('#login-form button[type=submit]')]);
  signedIn = await context.storageState();
  await context.close();
});
after(async () => { await browser.close(); });

/** A page in a browser context of its own (signed in unless `storageState` says otherwise) whose
 * script errors and console errors collect in `page.errors`. */
export async function newPage(locale = 'en-US', viewport = { width: 1280, height: 800 }, storageState = signedIn) {
  const context = await browser.newContext({ locale, viewport, storageState, extraHTTPHeaders: { 'Accept-Language': locale } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  return page;
}

/** The chart's dataset once it is drawn and every entry of `expect` holds. */
export async function chartReady(page, expect = {}) {
  await page.waitForFunction((e) => {
    const el = document.getElementById('chart');
    if (!el || el.dataset.state !== 'ready') return false;
    return Object.entries(e).every(([k, v]) => el.dataset[k] === v);
  }, expect, { timeout: 15000 });
  return page.evaluate(() => ({ ...document.getElementById('chart').dataset }));
}

/** A job of `kind` submitted through the API; its id. */
export async function submitJob(kind, params) {
  const res = await fetch(`${BASE}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ kind, params }),
  });
  const body = await res.json();
  assert.ok(res.ok, `${kind} job refused: ${JSON.stringify(body)}`);
  return body.id;
}

/** Waits (polling, at most 600 times 100 ms) for job `id` to succeed. */
export async function jobSucceeded(id) {
  for (let i = 0; i < 600; i++) {
    const { state } = await api(`/api/v1/jobs/${id}`);
    if (state === 'succeeded') return id;
    assert.ok(!['failed', 'cancelled'].includes(state), `job #${id} ${state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job #${id} did not finish`);
}

/** A backtest job run to its end through the API; its id. */
export async function finishedBacktest(params) {
  return jobSucceeded(await submitJob('backtest', params));
}
