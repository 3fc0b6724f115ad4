// The drain engine end to end: the release build in Chromium, the local
// gateway over PostgreSQL, and the demo agent, whose tally proves every
// event was delivered exactly once and in order.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { suiteWithAgent, openTable, logIn, drainedCount, fastestRate, screenshot } from './harness.mjs';
import { ANON, JWT_SECRET, freshTable, insertEvents, stamp, configureAgent, tally, setFaults, rotateSecret, eventually, sleep } from './backend.mjs';

const env = suiteWithAgent();
after(() => setFaults({}));

const ids = (rows) => rows.map((r) => String(r.id));
const ordered = (rows) => [...rows].sort((a, b) => (a.created_at === b.created_at ? a.id - b.id : Date.parse(a.created_at) - Date.parse(b.created_at)));

function assertOnce(t, rows) {
  for (const id of ids(rows)) assert.equal(t.counts[id], 1, `event ${id} delivered ${t.counts[id] ?? 0} times`);
  assert.equal(Object.keys(t.counts).length, rows.length, 'nothing else was delivered');
}

test('drains oldest first, each event exactly once, equal timestamps included', async () => {
  const table = await freshTable('order');
  const shared = stamp(-30_000);
  // Inserted out of order, four sharing one timestamp.
  const rows = await insertEvents(table, [stamp(-10_000), shared, stamp(-50_000), shared, shared, stamp(-20_000), shared]);
  const context = await env.browser.newContext();
  const { page, errors } = await openTable(context, env.server.url, table, ANON);
  await eventually(async () => (await drainedCount(page)) === rows.length, 20_000, 'all drained');
  const t = await tally(table);
  assertOnce(t, rows);
  assert.deepEqual(t.order, ids(ordered(rows)), 'oldest first, ties by key');
  assert.equal(await page.getByRole('region', { name: 'Gate' }).getAttribute('data-state'), 'passed');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a backlog larger than a page drains without stalling; new rows follow', async () => {
  await configureAgent({ latency_ms: 0, mode: 'json' });
  const table = await freshTable('backlog');
  const base = Date.now() - 600_000;
  // 230 rows over three timestamps: pages of 100 end inside runs of equal timestamps.
  const rows = await insertEvents(table, Array.from({ length: 230 }, (_, i) => new Date(base + (i % 3) * 1000).toISOString()));
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await fastestRate(page);
  await eventually(async () => (await drainedCount(page)) === 230, 60_000, '230 drained');
  const more = await insertEvents(table, [stamp(0), stamp(1)]);
  await eventually(async () => (await drainedCount(page)) === 232, 20_000, 'new rows drained');
  const t = await tally(table);
  assertOnce(t, [...rows, ...more]);
  assert.deepEqual(t.order, ids(ordered([...rows, ...more])));
  await context.close();
});

test('a reload mid-event resumes where it stopped, resending only the event at the gate', async () => {
  // Slow enough (a signal every 1.5 s, done after 6 s) that the reload
  // surely lands while the agent still works on the event.
  await configureAgent({ latency_ms: 6000, mode: 'ndjson', progress_steps: 3 });
  const table = await freshTable('reload');
  const rows = await insertEvents(table, [stamp(-5000), stamp(-4000), stamp(-3000), stamp(-2000)]);
  const [first, second, third, fourth] = ids(rows);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  const gate = page.getByRole('region', { name: 'Gate' });
  // Wait until the second event is at the gate, with progress shown.
  await eventually(async () => (await drainedCount(page)) === 1 && (await gate.getAttribute('data-state')) === 'processing', 30_000, 'second event at the gate');
  await page.locator('.gate__progress').waitFor();
  // In flight at the moment of the reload: at the gate, arrived at the agent, not done there.
  assert.equal(await gate.getAttribute('data-state'), 'processing');
  const before = await tally(table);
  assert.equal(before.counts[second], 1, 'the second event arrived at the agent');
  assert.equal(before.done[second], undefined, 'and is not done yet');
  await page.reload();
  await page.getByRole('region', { name: 'Gate' }).waitFor();
  await configureAgent({ latency_ms: 300, mode: 'ndjson', progress_steps: 3 });
  await eventually(async () => (await drainedCount(page)) === 4, 60_000, 'all drained after reload');
  const t = await tally(table);
  assert.equal(t.counts[first], 1);
  // Its first delivery was cut by the reload (never done); the reloaded page
  // sent it again, with the same Idempotency-Key, and it passed once.
  assert.deepEqual(t.timeline.filter(([k]) => k === second).map(([, what]) => what), ['arrived', 'arrived', 'done'], 'the in-flight event went again, once');
  assert.equal(t.counts[third], 1);
  assert.equal(t.counts[fourth], 1);
  assert.equal(t.done[second], 1, 'and completes once');
  await context.close();
});

test('a late row, older than the cursor, is handled once', async () => {
  const table = await freshTable('late');
  const rows = await insertEvents(table, [stamp(-60_000), stamp(-30_000), stamp(-1_000)]);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await fastestRate(page);
  await eventually(async () => (await drainedCount(page)) === 3, 20_000, 'first rows drained');
  // Commits now, stamped between the first two rows: behind the cursor.
  const late = await insertEvents(table, [stamp(-45_000)]);
  await eventually(async () => (await drainedCount(page)) === 4, 20_000, 'late row drained');
  await sleep(3_000);
  const t = await tally(table);
  assertOnce(t, [...rows, ...late]);
  assert.equal(t.order.at(-1), String(late[0].id));
  await context.close();
});

test('two tabs never drain the same table; the second takes over when the first closes', async () => {
  await configureAgent({ latency_ms: 300, mode: 'json' });
  const table = await freshTable('tabs');
  const rows = await insertEvents(table, [stamp(-3000), stamp(-2000)]);
  const context = await env.browser.newContext();
  const first = await openTable(context, env.server.url, table, ANON);
  await eventually(async () => (await drainedCount(first.page)) === 2, 20_000, 'first tab drained');
  const second = await openTable(context, env.server.url, table, ANON);
  await second.page.getByText('Another tab of this browser is draining this table').waitFor();
  await screenshot(second.page, 'drain-second-tab');
  const more = await insertEvents(table, [stamp(0)]);
  await eventually(async () => (await drainedCount(first.page)) === 3, 20_000, 'first tab keeps draining');
  await first.page.close();
  const last = await insertEvents(table, [stamp(1000)]);
  await eventually(async () => (await tally(table)).counts[String(last[0].id)] === 1, 20_000, 'second tab took over');
  assert.equal(await second.page.getByText('Another tab of this browser is draining').count(), 0);
  assertOnce(await tally(table), [...rows, ...more, ...last]);
  await context.close();
});

test('the gateway failing and dropping connections: the drain backs off, says so, and recovers', async () => {
  const table = await freshTable('faults');
  const rows = await insertEvents(table, [stamp(-2000)]);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await fastestRate(page);
  await eventually(async () => (await drainedCount(page)) === 1, 20_000, 'drained');
  await setFaults({ error_rate: 0.5, drop_rate: 0.5 });
  try {
    await page.getByText('Retrying').first().waitFor({ timeout: 15_000 });
    await screenshot(page, 'drain-retrying');
    assert.equal(await page.getByRole('region', { name: 'Gate' }).getAttribute('data-state'), 'offline');
  } finally {
    await setFaults({});
  }
  const more = await insertEvents(table, [stamp(0)]);
  await eventually(async () => (await drainedCount(page)) === 2, 90_000, 'recovered');
  assertOnce(await tally(table), [...rows, ...more]);
  await context.close();
});

test('a revoked key stops the drain with a clear message; a new login resumes it', async () => {
  const table = await freshTable('revoked');
  const rows = await insertEvents(table, [stamp(-2000)]);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await fastestRate(page);
  await eventually(async () => (await drainedCount(page)) === 1, 20_000, 'drained');
  // Rotating the JWT secret revokes the anon key, as in Supabase.
  await rotateSecret('a-brand-new-secret-that-is-at-least-32-characters');
  let more;
  try {
    await page.getByText('The project refused the API key (Invalid API key)').waitFor({ timeout: 20_000 });
    assert.equal(await page.getByRole('region', { name: 'Gate' }).getAttribute('data-state'), 'offline');
    await screenshot(page, 'drain-revoked-key');
    more = await insertEvents(table, [stamp(0)]);
    await sleep(1500);
    assert.equal((await tally(table)).counts[String(more[0].id)], undefined, 'nothing drained without a valid key');
  } finally {
    await rotateSecret(JWT_SECRET);
  }
  await page.getByRole('button', { name: 'Log out' }).click();
  await logIn(page, { key: ANON });
  await eventually(async () => (await tally(table)).counts[String(more[0].id)] === 1, 20_000, 'resumed');
  assertOnce(await tally(table), [...rows, ...more]);
  await context.close();
});

test('pause finishes the event at the gate; step admits exactly one; watch only drains nothing', async () => {
  // Each event takes 2 s at the agent: time enough to press Pause while the
  // first is at the gate, even on a slow machine.
  await configureAgent({ latency_ms: 2000, mode: 'json' });
  const table = await freshTable('pause');
  const rows = await insertEvents(table, [stamp(-5000), stamp(-4000), stamp(-3000), stamp(-2000)]);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  const gate = page.getByRole('region', { name: 'Gate' });
  await eventually(async () => (await gate.getAttribute('data-state')) === 'processing', 20_000, 'first at the gate');
  await page.getByRole('button', { name: 'Pause' }).click();
  await eventually(async () => (await drainedCount(page)) === 1, 20_000, 'the event at the gate finished');
  await sleep(1500);
  assert.equal(await drainedCount(page), 1, 'no new event admitted while paused');
  await page.getByRole('button', { name: 'Step' }).click();
  await eventually(async () => (await drainedCount(page)) === 2, 20_000, 'one step');
  await sleep(1500);
  assert.equal(await drainedCount(page), 2, 'exactly one');
  await page.getByRole('checkbox', { name: 'Watch only' }).check();
  await page.getByRole('button', { name: 'Resume' }).click();
  await sleep(2000);
  assert.equal(await drainedCount(page), 2, 'watching drains nothing');
  assert.match(await page.getByRole('region', { name: 'Source' }).innerText(), /next: OC/);
  await page.getByRole('checkbox', { name: 'Watch only' }).uncheck();
  await eventually(async () => (await drainedCount(page)) === 4, 20_000, 'the rest');
  assertOnce(await tally(table), rows);
  await context.close();
});
