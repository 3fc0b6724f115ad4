// Logging in and out against the local stack, the source dialog by keyboard,
// and "Remember me" across a browser restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { GATEWAY, suiteWithAgent, openApp, openTable, logIn, tryLogin, drainedCount, screenshot } from './harness.mjs';
import { ANON, freshTable, insertEvents, stamp, configureAgent, tally, eventually, sql } from './backend.mjs';
import { SERVICE_ROLE, OPERATOR, signJwt } from '../contract/stack.mjs';

const env = suiteWithAgent();

test('the local anon key logs in; the key never lands in the URL or localStorage', async () => {
  const context = await env.browser.newContext();
  const { page, errors } = await openApp(context, env.server.url);
  await page.waitForFunction(() => document.querySelector('input[name="project-url"]')?.value !== '');
  await screenshot(page, 'login');
  await logIn(page, { key: ANON });
  assert.ok(!page.url().includes(ANON.slice(-12)));
  const local = await page.evaluate(() => JSON.stringify(localStorage));
  assert.ok(!local.includes(ANON.slice(-12)), 'not kept beyond the session without "Remember me"');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the key alone drains a table the project opens to the anon role', async () => {
  const open = await freshTable('open_to_anon', 'bigint', 'timestamptz', { openToAnon: true });
  const rows = await insertEvents(open, [stamp(-2000), stamp(-1000)]);
  const context = await env.browser.newContext();
  const { page, errors } = await openApp(context, `${env.server.url}?table=${open}`);
  await logIn(page, { key: ANON, email: '', password: '' });
  assert.doesNotMatch(await page.locator('.login__project').textContent(), /@/, 'no operator named');
  await eventually(async () => {
    const t = await tally(open);
    return rows.every((r) => t.done[String(r.id)] === 1);
  }, 30_000, 'both rows done with the key alone');
  assert.deepEqual(errors, []);
  await context.close();
});

test('each refusal says what is wrong', async () => {
  const context = await env.browser.newContext();
  const { page } = await openApp(context, env.server.url);
  const alert = page.getByRole('alert');
  const cases = [
    ['wrong-key', GATEWAY, signJwt({ role: 'anon', exp: 4102444800 }, 'not-the-project-secret-but-long-enough!'), /refused this API key \(Invalid API key\)/],
    ['service-role', GATEWAY, SERVICE_ROLE, /secret key \(a service_role JWT\).*never be used in a browser/s],
    ['unreachable', 'http://127.0.0.1:9', ANON, /could not be reached/],
    ['not-supabase', env.server.url, ANON, /not like a Supabase project's REST API \(HTTP 404\)/],
    ['cors', env.server.url.replace('127.0.0.1', 'localhost'), ANON, /blocked the reply \(CORS\)/],
  ];
  for (const [name, url, key, message] of cases) {
    await tryLogin(page, { projectUrl: url, key });
    await eventually(async () => message.test(await alert.innerText()), 15_000, name);
    await screenshot(page, `login-${name}`);
    assert.equal(await page.getByRole('button', { name: 'Log out' }).count(), 0, `${name}: not logged in`);
    assert.ok(!(await alert.innerText()).includes(key.slice(-12)), `${name}: the key is not echoed`);
  }
  await context.close();
});

test('the source dialog works by keyboard alone, names unknown tables and columns, and returns focus', async () => {
  const table = await freshTable('dialog');
  await insertEvents(table, [stamp(-1000), stamp(0)]);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, 'events', ANON);
  const dialog = page.getByRole('dialog', { name: 'Select source' });
  const source = page.getByRole('button', { name: 'Source' });
  await source.focus();
  await page.keyboard.press('Enter');
  await dialog.waitFor();
  await eventually(async () => /staff_room_events\s*— \d+ handled\s*· \d+ waiting/.test(await dialog.innerText()), 10_000, 'backlog shown');
  const add = async (name, ts = 'created_at') => {
    await dialog.getByLabel('Table', { exact: true }).fill(name);
    await dialog.getByLabel('Timestamp column').fill(ts);
    await dialog.getByLabel('Timestamp column').press('Enter');
  };
  await add('no_such_table');
  await dialog.getByText('The table no_such_table does not exist').waitFor();
  await add(table, 'inserted_at');
  await dialog.getByText(`column ${table}.inserted_at does not exist`).waitFor();
  await screenshot(page, 'dialog-errors');
  await add(table);
  await eventually(async () => dialog.getByRole('radio', { name: new RegExp(`^${table}`) }).isChecked(), 10_000, 'added and selected');
  await screenshot(page, 'dialog');
  // Arrow keys move between radios, as in any radio group.
  await dialog.getByRole('radio', { name: new RegExp(`^${table}`) }).focus();
  await page.keyboard.press('ArrowUp');
  assert.ok(await dialog.getByRole('radio', { name: /^trello_events/ }).isChecked());
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Escape');
  assert.equal(await dialog.isVisible(), false);
  assert.ok(await source.evaluate((b) => b === document.activeElement), 'focus is back on Source');
  await eventually(async () => (await drainedCount(page)) === 2, 20_000, 'the added table drains');
  await context.close();
});

test('logging out mid-event lets the gate finish; logging in again drains the rest; nothing lost or doubled', async () => {
  // 3 s at the agent: time enough to press Log out while the first event is
  // at the gate, even on a slow machine.
  await configureAgent({ latency_ms: 3000, mode: 'ndjson', progress_steps: 3 });
  const table = await freshTable('logout');
  const rows = await insertEvents(table, [stamp(-3000), stamp(-2000), stamp(-1000)]);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await eventually(async () => (await page.getByRole('region', { name: 'Gate' }).getAttribute('data-state')) === 'processing', 20_000, 'at the gate');
  await page.getByRole('button', { name: 'Log out' }).click();
  await eventually(async () => Object.keys((await tally(table)).done).length === 1, 10_000, 'the event at the gate finished');
  await new Promise((ok) => setTimeout(ok, 2500));
  assert.equal((await tally(table)).order.length, 1, 'nothing else was admitted after logging out');
  await logIn(page);
  await eventually(async () => Object.keys((await tally(table)).done).length === 3, 20_000, 'the rest after logging in');
  const t = await tally(table);
  for (const row of rows) assert.equal(t.counts[String(row.id)], 1, `event ${row.id}`);
  await context.close();
});

test('"Remember me" keeps the login across a browser restart; without it the login ends with the browser', async () => {
  for (const remember of [true, false]) {
    const profile = await mkdtemp(join(tmpdir(), 'sluice-profile-'));
    const launch = () => chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    let context = await launch();
    let { page } = await openApp(context, env.server.url);
    await logIn(page, { remember });
    await context.close();
    context = await launch();
    ({ page } = await openApp(context, env.server.url));
    await page.getByRole('button', { name: remember ? 'Log out' : 'Log in' }).waitFor({ timeout: 10_000 });
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
});

test('an operator signs in with email and password and drains a table only operators may read; the key alone may not; a wrong password says so; Log out ends the Auth session', async () => {
  const table = await freshTable('operators_only');
  // Protected as docs/queues.md tells operators to protect theirs: nothing
  // for anon, the table for signed-in users whose app_metadata marks them.
  await sql(`revoke all on public.${table} from anon;
    alter table public.${table} enable row level security;
    grant select on public.${table} to authenticated;
    create policy operators_read on public.${table} for select to authenticated
      using ((select auth.jwt() -> 'app_metadata' ->> 'sluice_operator') = 'true');`);
  const rows = await insertEvents(table, [stamp(-2000), stamp(-1000)]);
  await configureAgent({ latency_ms: 0, mode: 'json' });
  const context = await env.browser.newContext();
  const { page, errors } = await openApp(context, `${env.server.url}?table=${table}`);
  await tryLogin(page, { key: ANON, email: OPERATOR.email, password: 'not-the-password' });
  await page.getByText('Wrong email or password.').waitFor();
  await tryLogin(page, { key: ANON, email: OPERATOR.email, password: '' });
  await page.getByText('Enter both an email and a password').waitFor();
  await logIn(page, { key: ANON, email: OPERATOR.email, password: OPERATOR.password });
  assert.match(await page.locator('.login__project').textContent(), new RegExp(OPERATOR.email.replace('.', '\\.')));
  await eventually(async () => {
    const t = await tally(table);
    return rows.every((r) => t.done[String(r.id)] === 1);
  }, 30_000, 'both rows done, read as the operator');
  const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
  assert.ok(stored.includes('refresh_token'), 'the tokens are kept for the tab');
  // The history names who handled each event: the audit trail.
  await page.getByRole('region', { name: 'History' }).getByRole('button').first().click();
  const inspector = page.getByRole('complementary', { name: 'Inspector' });
  await inspector.getByText('Handled by').waitFor();
  assert.match(await inspector.innerText(), new RegExp(`Handled by\\s+${OPERATOR.email.replace('.', '\\.')}`));
  // Log out signs out of Auth: the refresh token no longer works.
  const refresh = JSON.parse(await page.evaluate(() => sessionStorage.getItem('sluice:v1:session'))).signed_in.refresh_token;
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  const again = await fetch(`${GATEWAY}/auth/v1/token?grant_type=refresh_token`, {
    method: 'POST', headers: { apikey: ANON, 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: refresh }),
  });
  assert.equal(again.status, 400, 'the session ended at Auth');
  // The key alone may not read the table: the page says so.
  await logIn(page, { key: ANON, email: '', password: '' });
  await page.getByText(new RegExp(`may not read ${table}`)).waitFor({ timeout: 20_000 });
  // The refusals above are answers the page expected, not page errors.
  assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  await context.close();
});
