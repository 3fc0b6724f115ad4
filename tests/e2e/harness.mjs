// Shared by the end-to-end tests: serves the release build in dist/ and
// launches Debian's headless Chromium through playwright-core.
import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import { extname, join, normalize, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after, beforeEach } from 'node:test';
import { chromium } from 'playwright-core';
import { configureAgent, eventually } from './backend.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The demo agent over HTTPS with HTTP/2 (self-signed: contexts that use it
 * pass `ignoreHTTPSErrors`), for more lanes than HTTP/1.1 gives connections. */
export const AGENT_H2 = 'https://127.0.0.1:54331/';
export const SCREENSHOTS = join(ROOT, 'target', 'screenshots');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** Serves dist/ on a free loopback port; resolves to { url, close }. */
export async function serveDist() {
  const dist = join(ROOT, 'dist');
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(dist, path.endsWith('/') ? join(path, 'index.html') : path);
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(ok)) };
}

/** Headless Chromium with the flags this machine needs (no network beyond loopback). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Opens a page that fails the test on any uncaught error in the app; a
 * `?table=` link is followed as an operator would (saying yes to a table
 * not yet in the list). */
export async function openApp(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  await page.goto(url);
  await page.getByRole('region', { name: 'Gate' }).waitFor();
  const table = new URL(url).searchParams.get('table');
  if (table) await followLink(page, table);
  return { page, errors };
}

/** Once the page has read its `?table=` link: says yes if it asks. */
export async function followLink(page, table) {
  const offer = page.getByRole('button', { name: `Drain ${table}`, exact: true });
  const source = page.getByRole('region', { name: 'Source', exact: true });
  await eventually(async () => (await offer.isVisible()) || (await source.innerText()).includes(table), 20_000, `the link to ${table}`);
  if (await offer.isVisible()) await offer.click();
}

export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Opens the app on `table` (a deep link) and logs in with `key`. */
export async function openTable(context, baseUrl, table, key) {
  const { page, errors } = await openApp(context, `${baseUrl}?table=${table}`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  return { page, errors };
}

/** Fills in and saves the agent settings form. */
export async function saveAgent(page, { url = 'http://127.0.0.1:54330/', passThrough = false, token = '', timeout = '30', attempts = '5', lanes = '1', partitionKey = '' }) {
  const form = page.getByRole('form', { name: 'Agent settings' });
  await form.getByLabel('Agent URL').fill(url);
  await form.getByLabel('Pass-through (no agent)').setChecked(passThrough);
  await form.getByLabel('Token').fill(token);
  await form.getByLabel('Timeout (s)').fill(timeout);
  await form.getByLabel('Attempts').fill(attempts);
  await form.getByLabel('Lanes').fill(lanes);
  if (await form.getByLabel('Partition key').isEnabled()) await form.getByLabel('Partition key').fill(partitionKey);
  await form.getByRole('button', { name: 'Save agent' }).click();
}

/** How many events the Drain region says were drained. */
export async function drainedCount(page) {
  const text = await page.getByRole('region', { name: 'Drain' }).innerText();
  return Number(/(\d+) drained/.exec(text)?.[1] ?? NaN);
}

/** Sets the consumption rate slider to its fastest (0.1 s) step. */
export async function fastestRate(page) {
  await page.getByRole('slider', { name: 'Consumption rate' }).focus();
  await page.keyboard.press('Home');
}

/** A browser context whose storage already holds a remembered login
 * (`session`, as stored), agent settings and `queue` chosen, draining it at
 * the fastest rate as soon as a page opens: an operator, for the benchmark
 * and the soak. */
export async function queueOperatorContext(browser, { session, queue, agent }) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await context.addInitScript(({ session, agent, queue }) => {
    localStorage.setItem('sluice:v1:session', session);
    localStorage.setItem('sluice:v1:agent', JSON.stringify(agent));
    localStorage.setItem('sluice:v1:queues', JSON.stringify([{ queue, dead_letter_queue: `${queue}_dlq` }]));
    localStorage.setItem('sluice:v1:selected-table', JSON.stringify(`queue:${queue}`));
    localStorage.setItem('sluice:v1:rate', JSON.stringify(100));
  }, { session, queue, agent: { pass_through: false, token: '', ...agent } });
  return context;
}

/** Logs in once with "Remember me" and returns the session as stored. */
export async function rememberedSession(browser, url, key) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByLabel('API key').fill(key);
  await page.getByLabel('Remember me').check();
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  const session = await page.evaluate(() => localStorage.getItem('sluice:v1:session'));
  await context.close();
  return session;
}

/**
 * Registers the hooks most end-to-end files share: the release build served,
 * one browser, and the demo agent reset to `agent` before each test (and to
 * its defaults at the end). Returns `{ server, browser }`, filled in by then.
 */
export function suiteWithAgent(agent = { latency_ms: 20, mode: 'json' }) {
  const env = {};
  before(async () => {
    env.server = await serveDist();
    env.browser = await launchBrowser();
  });
  after(async () => {
    await configureAgent({});
    await env.browser?.close();
    await env.server?.close();
  });
  beforeEach(() => configureAgent(agent));
  return env;
}
