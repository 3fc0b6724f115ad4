// The rail and the gate end to end: the gate follows the demo agent's own
// signals (progress, retries, rejections), dead letters keep refused events,
// the pill respects reduced motion, and each gate state is photographed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suiteWithAgent, openApp, openTable, followLink, logIn, deadLettersKey, drainedCount, saveAgent, screenshot } from './harness.mjs';
import { ANON, freshTable, insertEvents, stamp, configureAgent, tally, eventually, sleep } from './backend.mjs';

const env = suiteWithAgent();

const gateState = (page) => page.getByRole('region', { name: 'Gate' }).getAttribute('data-state');

test('the gate follows the agent\'s progress signals live; the pill names the event', async () => {
  await configureAgent({ latency_ms: 3000, mode: 'ndjson', progress_steps: 4 });
  const table = await freshTable('progress');
  const [row] = await insertEvents(table, [stamp(-1000)], 'payment.captured');
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await eventually(async () => (await gateState(page)) === 'processing', 20_000, 'processing');
  const pill = page.getByRole('img', { name: new RegExp(`^Event ${row.id} \\(payment\\.captured\\)`) });
  assert.equal(await pill.innerText(), 'PC');
  const progress = page.locator('.gate__progress');
  const seen = new Set();
  const until = Date.now() + 10_000;
  while (Date.now() < until && (await gateState(page)) === 'processing') {
    const value = await progress.getAttribute('value').catch(() => null);
    if (value) seen.add(Number(value));
    await sleep(100);
  }
  assert.ok(seen.size >= 3, `progress moved through several values: ${[...seen]}`);
  assert.equal(await gateState(page), 'passed');
  assert.equal(await page.locator('[aria-live="polite"].visually-hidden').innerText(), `Event ${row.id} (payment.captured) passed`, 'announced politely');
  await screenshot(page, 'gate-passed');
  const sizes = await page.evaluate(() => ['.pill', '.node--source', '.node--drain'].map((s) => document.querySelector(s).getBoundingClientRect().width));
  assert.equal(sizes[0], sizes[1], 'the pill is as wide as the source node');
  assert.equal(sizes[1], sizes[2]);
  assert.equal(await pill.getAttribute('data-at'), 'drain');
  assert.deepEqual((await tally(table)).done, { [String(row.id)]: 1 });
  await context.close();
});

test('transient failures are retried with backoff, then dead-lettered; a refusal is dead-lettered at once', async () => {
  await configureAgent({ latency_ms: 0, mode: 'json', error_rate: 1, retry_after_s: 1 });
  const table = await freshTable('failures');
  const [busy] = await insertEvents(table, [stamp(-2000)]);
  const context = await env.browser.newContext();
  const { page } = await openApp(context, `${env.server.url}?table=${table}`);
  await saveAgent(page, { attempts: '3' });
  await logIn(page, { key: ANON });
  await eventually(async () => (await gateState(page)) === 'retrying', 20_000, 'retrying');
  assert.match(await page.getByRole('region', { name: 'Gate' }).innerText(), /attempt 2 · the agent failed \(HTTP 503\): demo agent is busy \(injected 503\) · next try at \d\d:\d\d:\d\d/);
  await screenshot(page, 'gate-retrying');
  await eventually(async () => (await gateState(page)) === 'rejected', 30_000, 'given up');
  assert.match(await page.getByRole('region', { name: 'Gate' }).innerText(), /gave up after 3 attempts/);
  // The next event is refused for good by the agent.
  await configureAgent({ latency_ms: 0, mode: 'json', reject_rate: 1 });
  const [refused] = await insertEvents(table, [stamp(0)]);
  await eventually(async () => (await tally(table)).rejected[String(refused.id)] === 1, 20_000, 'refused');
  await eventually(async () => /of which 2 dead-lettered/.test(await page.getByRole('region', { name: 'Drain' }).innerText()), 10_000, 'two dead letters');
  await screenshot(page, 'gate-rejected');
  const t = await tally(table);
  assert.equal(t.counts[String(busy.id)], 3, 'three attempts, as configured');
  assert.equal(t.counts[String(refused.id)], 1, 'a refusal is not retried');
  const letters = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)), deadLettersKey(table));
  assert.deepEqual(letters.map((l) => [l.key, l.attempts]), [[String(busy.id), 3], [String(refused.id), 1]]);
  assert.match(letters[1].reason, /designed reject/);
  assert.equal(await drainedCount(page), 2, 'dead letters count as handled: the drain moves on');
  await context.close();
});

test('an agent that dies mid-event or answers HTML is retried; one that never answers is offline; each passes once it answers properly', async () => {
  const table = await freshTable('flaky');
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await saveAgent(page, { timeout: '2', attempts: '10' });
  for (const [fault, state, message] of [
    [{ midstream_fail_rate: 1 }, 'retrying', /broke off before its final signal/],
    [{ garbage_rate: 1 }, 'retrying', /outside the protocol/],
    [{ timeout_rate: 1 }, 'offline', /agent offline: the agent did not answer within 2 s/],
  ]) {
    await configureAgent({ latency_ms: 300, mode: 'ndjson', progress_steps: 2, ...fault });
    const [row] = await insertEvents(table, [stamp(0)]);
    await eventually(async () => (await gateState(page)) === state, 20_000, `${state} after ${JSON.stringify(fault)}`);
    assert.match(await page.getByRole('region', { name: 'Gate' }).innerText(), message);
    // The agent is back.
    await configureAgent({ latency_ms: 50, mode: 'ndjson', progress_steps: 2 });
    await eventually(async () => (await tally(table)).done[String(row.id)] === 1, 30_000, 'passed once the agent recovered');
  }
  // Nothing listens at the address: the event waits, however few the
  // attempts, and goes once the address is fixed.
  await saveAgent(page, { url: 'http://127.0.0.1:9/', timeout: '2', attempts: '1' });
  const [waiting] = await insertEvents(table, [stamp(0)]);
  await eventually(async () => (await gateState(page)) === 'offline', 30_000, 'offline');
  assert.match(await page.getByRole('region', { name: 'Gate' }).innerText(), /the agent could not be reached/);
  await sleep(3_000);
  assert.equal(await page.evaluate((key) => localStorage.getItem(key), deadLettersKey(table)), null, 'nothing dead-lettered');
  await saveAgent(page, { timeout: '2', attempts: '1' });
  await eventually(async () => (await tally(table)).done[String(waiting.id)] === 1, 30_000, 'delivered once the address is fixed');
  await context.close();
});

test('with pass-through chosen the gate passes events without an agent and says so', async () => {
  const table = await freshTable('passthrough');
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await saveAgent(page, { url: '', passThrough: true });
  assert.ok(await page.getByText('Pass-through: events pass the gate without an agent.').isVisible());
  await insertEvents(table, [stamp(0)]);
  await eventually(async () => (await drainedCount(page)) === 1, 20_000, 'passed through');
  assert.match(await page.getByRole('region', { name: 'Gate' }).innerText(), /pass-through/);
  assert.deepEqual((await tally(table)).order, []);
  await page.reload();
  assert.ok(await page.getByLabel('Pass-through (no agent)').isChecked(), 'remembered');
  await context.close();
});

test('agent settings are validated before they are saved', async () => {
  const context = await env.browser.newContext();
  const { page } = await openApp(context, env.server.url);
  await saveAgent(page, { url: 'ftp://agent.example' });
  assert.match(await page.getByRole('alert').innerText(), /http:\/\/ or https:\/\//);
  await saveAgent(page, { attempts: '0' });
  assert.match(await page.getByRole('alert').innerText(), /Attempts must be between 1 and 20/);
  assert.equal(await page.evaluate(() => localStorage.getItem('sluice:v1:agent')), null, 'nothing invalid was saved');
  await context.close();
});

test('the pill slides with one transform transition, and jumps under reduced motion', async () => {
  const table = await freshTable('motion');
  await insertEvents(table, [stamp(0)]);
  for (const [reducedMotion, expected] of [['no-preference', '0.35s'], ['reduce', '0s']]) {
    const context = await env.browser.newContext({ reducedMotion });
    const { page } = await openTable(context, env.server.url, table, ANON);
    const pill = page.locator('.pill');
    await pill.waitFor();
    const style = await pill.evaluate((el) => [getComputedStyle(el).transitionProperty, getComputedStyle(el).transitionDuration]);
    assert.deepEqual(style, ['transform', expected], reducedMotion);
    await context.close();
  }
});

test('the gate in its remaining states: idle, processing, paused, offline', async () => {
  const context = await env.browser.newContext();
  const { page } = await openApp(context, env.server.url);
  assert.equal(await gateState(page), 'idle');
  await screenshot(page, 'gate-idle');
  await configureAgent({ latency_ms: 4000, mode: 'ndjson', progress_steps: 4 });
  const table = await freshTable('states');
  await insertEvents(table, [stamp(-1000)]);
  await page.goto(`${env.server.url}?table=${table}`);
  await followLink(page, table);
  await logIn(page, { key: ANON });
  await eventually(async () => (await gateState(page)) === 'processing', 20_000, 'processing');
  await sleep(1500);
  await screenshot(page, 'gate-processing');
  await page.getByRole('button', { name: 'Pause' }).click();
  await eventually(async () => (await gateState(page)) === 'paused', 20_000, 'paused once the event finished');
  await screenshot(page, 'gate-paused');
  await page.goto(`${env.server.url}?table=no_such_table`);
  await followLink(page, 'no_such_table');
  await eventually(async () => (await gateState(page)) === 'offline', 20_000, 'offline');
  await screenshot(page, 'gate-offline');
  await context.close();
});
