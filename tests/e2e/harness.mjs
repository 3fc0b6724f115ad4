// Shared by the end-to-end tests: serves the release build in dist/ and
// launches Debian's headless Chromium through playwright-core.
import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import { extname, join, normalize, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after, beforeEach } from 'node:test';
import { chromium } from 'playwright-core';
import { ANON, configureAgent, eventually } from './backend.mjs';
import { GATEWAY, AGENT, OPERATOR } from '../contract/stack.mjs';

export { GATEWAY };
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The demo agent's webhook as the agent form takes it (SLUICE_AGENT_URL,
 * by default http://127.0.0.1:54330/). */
export const AGENT_URL = `${AGENT.replace(/\/+$/, '')}/`;
/** The demo agent over HTTPS with HTTP/2 (self-signed: contexts that use it
 * pass `ignoreHTTPSErrors`), for more lanes than HTTP/1.1 gives connections.
 * SLUICE_AGENT_H2_URL, by default https://127.0.0.1:54331/. */
export const AGENT_H2 = process.env.SLUICE_AGENT_H2_URL ?? 'https://127.0.0.1:54331/';

/** Where the app keeps `table`'s ledger head for the project the tests log in to. */
export const ledgerHeadKey = (table) => `sluice:v1:ledger:${GATEWAY}|${table}:head`;
/** Where the app keeps `table`'s dead letters for the project the tests log in to. */
export const deadLettersKey = (table) => `sluice:v1:dead:${GATEWAY}|${table}`;

/** dist/config.json as the tests serve it: the project and the agent are the
 * stack the tests run against (SLUICE_GATEWAY_URL, SLUICE_AGENT_URL), so
 * what the page pre-fills from it points there too. */
export async function distConfig() {
  const config = JSON.parse(await readFile(join(ROOT, 'dist', 'config.json'), 'utf8'));
  return JSON.stringify({ ...config, project_url: GATEWAY, agent_url: AGENT_URL }, null, 2);
}
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
      const body = file === join(dist, 'config.json') ? await distConfig() : await readFile(file);
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
  // Printed as they happen too: a test that times out waiting for a page
  // that crashed fails before it compares `errors`.
  page.on('pageerror', (error) => {
    errors.push(error.message);
    console.log(`# page error: ${error.message}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
    if (/panicked at/.test(msg.text())) console.log(`# page console: ${msg.text()}`);
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

/**
 * Fills in the login form and presses "Log in", without waiting for the
 * outcome (for tests of refusals): the project URL, the API key, "Email" and
 * "Password" (by default the stack's operator: its tables and queues answer
 * signed-in operators only; both '' for the key alone), and "Remember me"
 * ticked or not as asked.
 */
export async function tryLogin(page, { key = ANON, projectUrl = GATEWAY, remember = false, email = OPERATOR.email, password = OPERATOR.password } = {}) {
  await page.getByLabel('Project URL').fill(projectUrl);
  await page.getByLabel('API key').fill(key);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Remember me').setChecked(remember);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** Logs in as an operator would (see `tryLogin`) and waits until "Log out"
 * shows. A login is the set-up here, not what is tested (login.test.mjs
 * tests it): one that did not go through is pressed once more, as an
 * operator would, and what the page said is printed either way; a second
 * failure fails the test with both accounts. */
export async function logIn(page, { timeout = 30_000, ...form } = {}) {
  const accounts = [];
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    const consoleErrors = [];
    const onConsole = (msg) => msg.type() === 'error' && consoleErrors.push(msg.text());
    page.on('console', onConsole);
    try {
      await tryLogin(page, form);
      await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout });
      return;
    } catch (error) {
      const account = `login ${attempt} did not go through in ${timeout} ms: ${await whatThePageSaid(page)}; console errors: ${JSON.stringify(consoleErrors)}`;
      console.log(`# ${account}`);
      accounts.push(account);
      if (attempt === 2) {
        error.message = `${accounts.join('\n')}\n${error.message}`;
        throw error;
      }
    } finally {
      page.off('console', onConsole);
    }
  }
}

/** The page's address, the alert, whether "Log in" is busy, and a crash
 * banner's message. */
async function whatThePageSaid(page) {
  const quickly = { timeout: 1_000 };
  const alert = await page.locator('.alert').innerText(quickly).catch(() => '(no alert region)');
  const busy = await page.getByRole('button', { name: 'Log in' }).getAttribute('aria-busy', quickly).catch(() => '(no Log in button)');
  const crash = await page.locator('#sluice-crash textarea').inputValue(quickly).catch(() => '(none)');
  return `at ${page.url()} the alert said ${JSON.stringify(alert.trim())}; Log in aria-busy=${busy}; crash banner: ${crash}`;
}

/** What the drain shows: the Pause/Resume button, the status line, the
 * Source and Gate nodes and the alert, for a test's failure message. */
export async function drainState(page) {
  const quickly = { timeout: 1_000 };
  const text = (locator) => locator.innerText(quickly).then((t) => t.replace(/\s+/g, ' ').trim()).catch(() => '?');
  return JSON.stringify({
    button: await text(page.locator('.drain-controls .button').first()),
    status: await text(page.locator('p.status')),
    source: await text(page.getByRole('region', { name: 'Source', exact: true })),
    gate: await text(page.getByRole('region', { name: 'Gate', exact: true })),
    alert: await text(page.locator('.alert')),
  });
}

/** Opens the app on `table` (a deep link) and logs in with `key`. */
export async function openTable(context, baseUrl, table, key = ANON) {
  const { page, errors } = await openApp(context, `${baseUrl}?table=${table}`);
  await logIn(page, { key });
  return { page, errors };
}

/** An operator draining `queue`: a browser context of its own (its own
 * storage), logged in (with `login`'s form values: the key alone unless
 * told), `agent` saved, the queue added in the source dialog and chosen,
 * at the fastest rate. */
export async function queueOperator(env, queue, agent, login = { key: ANON }) {
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  const { page, errors } = await openApp(context, env.server.url);
  await logIn(page, login);
  await saveAgent(page, agent);
  await fastestRate(page);
  await page.getByRole('button', { name: 'Source', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Select source' });
  const adding = dialog.getByRole('form', { name: 'Add a queue' });
  await adding.getByLabel('Queue', { exact: true }).fill(queue);
  await adding.getByRole('button', { name: 'Add queue' }).click();
  const option = dialog.getByRole('radio', { name: new RegExp(`^${queue}`) });
  await option.waitFor();
  if (!(await option.isChecked())) throw new Error(`the added queue ${queue} is not chosen`);
  await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  return { context, page, errors };
}

/** Where a confirmed reset of a table's history waits for its gate to empty. */
export const pendingResetKey = (table) => `sluice:v1:reset:${GATEWAY}|${table}`;

/** Fills in and saves the agent settings form. */
export async function saveAgent(page, { url = AGENT_URL, passThrough = false, token = '', timeout = '30', attempts = '5', lanes = '1', partitionKey = '' }) {
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
  await logIn(page, { key, remember: true });
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
