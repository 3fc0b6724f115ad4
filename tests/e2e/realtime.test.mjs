// Supabase Realtime as a wake-up, end to end: the release build in
// Chromium, subscribed through the stack's /realtime/v1/websocket to a
// table of the `supabase_realtime` publication. Rows come from psql (the
// database itself, not the gateway); the agent's tally proves each event
// was handled once whatever the socket did; the stack's fault switch kills,
// closes or mutes the socket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { suiteWithAgent, openTable, drainedCount, queueOperator, screenshot, AGENT_H2 } from './harness.mjs';
import { GATEWAY } from '../contract/stack.mjs';
import { freshTable, freshQueue, describeQueue, configureAgent, tally, eventually, sql, sleep, setTokenLifetime } from './backend.mjs';

const env = suiteWithAgent({ latency_ms: 5, mode: 'json' });

async function realtimeControl(path, body) {
  const r = await fetch(`${GATEWAY}/_admin/realtime${path}`, {
    method: body ? (path ? 'POST' : 'PUT') : 'GET',
    headers: { 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`realtime control ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
after(() => realtimeControl('', { enabled: true }));

/** A fresh table in the publication: live once a page subscribes. */
async function liveTable(label) {
  const table = await freshTable(label);
  await sql(`alter publication supabase_realtime add table public.${table}`);
  return table;
}

/** Inserts `n` rows with psql, one statement; returns their ids. */
function insertByPsql(table, n = 1) {
  const out = sql(`insert into public.${table} (created_at, type, payload)
    select now() + (i || ' ms')::interval, 'order.created', '{}'::jsonb from generate_series(1, ${n}) i returning id`);
  return out.then((text) => text.trim().split('\n').filter(Boolean));
}

const mode = (page) => page.getByRole('region', { name: 'Source', exact: true }).locator('.node__mode');

/** Records every text the Source node's mode shows from now on (a
 * fallback may last only until the socket reconnects, a second later). */
async function recordModes(page) {
  await page.evaluate(() => {
    window.sluiceModes = [];
    const source = document.querySelector('[aria-label="Source"]');
    const note = () => {
      const text = source.querySelector('.node__mode')?.textContent;
      if (text && window.sluiceModes.at(-1) !== text) window.sluiceModes.push(text);
    };
    new MutationObserver(note).observe(source, { subtree: true, childList: true, characterData: true });
    note();
  });
  return () => page.evaluate(() => window.sluiceModes);
}

/** Sets the slider to its slowest step (a read a minute), so that only a
 * wake-up can bring a row to the gate within seconds. */
async function slowestRate(page) {
  await page.getByRole('slider', { name: 'Consumption rate' }).focus();
  await page.keyboard.press('End');
}

function assertOnce(counts, ids) {
  for (const id of ids) assert.equal(counts[id], 1, `event ${id} delivered ${counts[id] ?? 0} times`);
  assert.equal(Object.keys(counts).length, ids.length, 'nothing else was delivered');
}

test('a row inserted with psql reaches the gate at once, long before the next read a minute away', async () => {
  const table = await liveTable('wake');
  const context = await env.browser.newContext();
  const { page, errors } = await openTable(context, env.server.url, table);
  await slowestRate(page);
  await eventually(async () => (await mode(page).innerText()) === 'live', 20_000, 'the Source says live');
  // Let the catch-up read after subscribing pass: from now on, reads come
  // a minute apart unless something wakes the drain.
  await sleep(1_000);
  for (let round = 1; round <= 3; round += 1) {
    await insertByPsql(table);
    await eventually(async () => (await drainedCount(page)) === round, 15_000, `row ${round} drained without waiting for a read`);
  }
  assert.equal(await mode(page).innerText(), 'live');
  const t = await tally(table);
  assert.equal(Object.keys(t.done).length, 3);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a burst of 1,000 inserts wakes one read at a time, not 1,000', async () => {
  await configureAgent({ latency_ms: 0, mode: 'json' });
  const table = await liveTable('burst');
  const context = await env.browser.newContext();
  const { page, errors } = await openTable(context, env.server.url, table);
  await slowestRate(page);
  await eventually(async () => (await mode(page).innerText()) === 'live', 20_000, 'live');
  await sleep(1_000);
  let reads = 0;
  let inFlight = 0;
  let mostInFlight = 0;
  // The loop's reads (the counts beside it ask with `Prefer: count=exact`).
  const isRead = (request) => request.method() === 'GET' && request.url().includes(`/rest/v1/${table}?`)
    && !(request.headers().prefer ?? '').includes('count');
  page.on('request', (request) => {
    if (!isRead(request)) return;
    reads += 1;
    inFlight += 1;
    mostInFlight = Math.max(mostInFlight, inFlight);
  });
  const ended = (request) => { if (isRead(request)) inFlight -= 1; };
  page.on('requestfinished', ended);
  page.on('requestfailed', ended);
  const ids = await insertByPsql(table, 1000);
  await eventually(async () => (await drainedCount(page)) === 1000, 120_000, '1,000 drained');
  const t = await tally(table);
  assertOnce(t.counts, ids);
  // Ten pages of 100 and their look-backs; a read per insert would be 1,000.
  assert.ok(reads < 100, `${reads} reads for 1,000 inserts`);
  assert.equal(mostInFlight, 1, 'one read at a time');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the socket killed mid-drain: polling resumes at once, Realtime comes back, nothing is lost or handled twice', async () => {
  await configureAgent({ latency_ms: 150, mode: 'json' });
  const table = await liveTable('drop');
  const context = await env.browser.newContext();
  const { page, errors } = await openTable(context, env.server.url, table);
  await eventually(async () => (await mode(page).innerText()) === 'live', 20_000, 'live');
  const ids = await insertByPsql(table, 20);
  await eventually(async () => (await drainedCount(page)) >= 3, 20_000, 'draining');
  const modes = await recordModes(page);
  const dropped = await realtimeControl('/faults', { mode: 'drop' });
  assert.ok(dropped.sockets >= 1, 'a socket was open');
  await eventually(async () => (await modes()).includes('polling every 2 s: Realtime connection lost, reconnecting'), 10_000, 'polling again');
  ids.push(...await insertByPsql(table, 10));
  await eventually(async () => (await modes()).at(-1) === 'live', 30_000, 'live again');
  ids.push(...await insertByPsql(table, 10));
  await eventually(async () => (await drainedCount(page)) === 40, 60_000, 'all 40 drained');
  const t = await tally(table);
  assertOnce(t.counts, ids);
  assert.deepEqual(errors.filter((e) => !/WebSocket/.test(e)), []);
  await context.close();
});

test('a muted socket misses its heartbeat: the drain polls, then goes live on a new socket', async () => {
  const table = await liveTable('mute');
  const context = await env.browser.newContext();
  const { page, errors } = await openTable(context, env.server.url, table);
  await eventually(async () => (await mode(page).innerText()) === 'live', 20_000, 'live');
  const modes = await recordModes(page);
  await realtimeControl('/faults', { mode: 'mute' });
  // A heartbeat every 25 s, and 10 s for its reply.
  await eventually(async () => (await modes()).includes('polling every 2 s: Realtime stopped answering, reconnecting'), 45_000, 'the silence noticed');
  await eventually(async () => (await modes()).at(-1) === 'live', 30_000, 'live again');
  const [id] = await insertByPsql(table);
  await eventually(async () => (await tally(table)).done[id] === 1, 15_000, 'the row handled');
  assert.deepEqual(errors.filter((e) => !/WebSocket/.test(e)), []);
  await context.close();
});

test('with 20 s tokens, each refreshed token reaches the channel: it stays live for a minute and still wakes the drain', async () => {
  await setTokenLifetime(20);
  try {
    const table = await liveTable('tokens');
    const context = await env.browser.newContext();
    const { page, errors } = await openTable(context, env.server.url, table);
    const sockets = [];
    page.on('websocket', (socket) => sockets.push(socket));
    await eventually(async () => (await mode(page).innerText()) === 'live', 20_000, 'live');
    const modes = await recordModes(page);
    // Three lifetimes: Realtime closes a channel whose token expired.
    await sleep(60_000);
    assert.deepEqual(await modes(), ['live'], 'never fell back to polling');
    assert.equal(sockets.length, 0, 'no new socket was needed');
    const [id] = await insertByPsql(table);
    await eventually(async () => (await tally(table)).done[id] === 1, 15_000, 'the row handled');
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await setTokenLifetime(3600);
  }
});

test('a table outside the publication, and Realtime off: the Source says why it polls, and the drain still drains', async () => {
  const table = await freshTable('unpublished');
  const context = await env.browser.newContext();
  const { page, errors } = await openTable(context, env.server.url, table);
  await mode(page).getByText(`polling every 2 s: public.${table} is not in the supabase_realtime publication`).waitFor({ timeout: 20_000 });
  const [first] = await insertByPsql(table);
  await eventually(async () => (await tally(table)).done[first] === 1, 15_000, 'polled and handled');
  await realtimeControl('', { enabled: false });
  try {
    const live = await liveTable('off');
    const other = await openTable(context, env.server.url, live);
    await mode(other.page).getByText('polling every 2 s: Realtime unreachable or off for this project').waitFor({ timeout: 20_000 });
    const [row] = await insertByPsql(live);
    await eventually(async () => (await tally(live)).done[row] === 1, 15_000, 'polled and handled');
  } finally {
    await realtimeControl('', { enabled: true });
  }
  assert.deepEqual(errors, []);
  await context.close();
});

/** The local stack's copy of the README's policy on realtime.messages. */
const OPERATOR_CHANNELS = `CREATE POLICY sluice_operator_channels ON realtime.messages FOR SELECT TO authenticated
  USING ((SELECT auth.jwt() -> 'app_metadata' ->> 'sluice_operator') = 'true' AND (SELECT realtime.topic()) LIKE 'sluice:%')`;

test('a project that allows only private channels: the page joins a private one and goes live; without the policy it says what to add', async () => {
  await realtimeControl('', { private_only: true });
  const context = await env.browser.newContext();
  try {
    const table = await liveTable('private');
    const { page, errors } = await openTable(context, env.server.url, table);
    const modes = await recordModes(page);
    await slowestRate(page);
    // The public join is refused after Realtime's 5 s; the private one follows.
    await eventually(async () => (await mode(page).innerText()) === 'live', 30_000, 'live on a private channel');
    assert.ok((await modes()).includes('polling every minute: the project allows only private channels; joining one'), JSON.stringify(await modes()));
    await sleep(1_000);
    const [row] = await insertByPsql(table);
    await eventually(async () => (await tally(table)).done[row] === 1, 10_000, 'woken on the private channel, long before the next read');
    // Another table of the same project joins a private channel at once:
    // the tab remembers that the project refuses public ones.
    const other = await liveTable('private_b');
    const switched = await recordModes(page);
    await page.getByRole('button', { name: 'Source', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Select source' });
    await dialog.getByLabel('Table', { exact: true }).fill(other);
    await dialog.getByLabel('Table', { exact: true }).press('Enter');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await eventually(async () => (await mode(page).innerText()) === 'live' && (await page.getByRole('region', { name: 'Source', exact: true }).innerText()).includes(other), 30_000, `live on ${other}`);
    assert.ok(!(await switched()).some((m) => /allows only private channels/.test(m)), `no public join refused again: ${JSON.stringify(await switched())}`);
    const [otherRow] = await insertByPsql(other);
    await eventually(async () => (await tally(other)).done[otherRow] === 1, 10_000, `woken on ${other}'s private channel`);
    await sql('DROP POLICY sluice_operator_channels ON realtime.messages');
    await realtimeControl('/faults', { mode: 'drop' });
    await mode(page).getByText('polling every minute: private channel refused: operators need a SELECT policy on realtime.messages')
      .waitFor({ timeout: 30_000 });
    await screenshot(page, 'private-channel-refused');
    assert.deepEqual(errors.filter((e) => !/WebSocket/.test(e)), []);
  } finally {
    await context.close();
    await sql(`DROP POLICY IF EXISTS sluice_operator_channels ON realtime.messages; ${OPERATOR_CHANNELS}`);
    await realtimeControl('', { private_only: false });
  }
});

test('a queue goes live through its own table: a message sent is read at once', async () => {
  const queue = await freshQueue('live');
  await sql(`alter publication supabase_realtime add table pgmq.q_${queue}`);
  const agent = { url: AGENT_H2, lanes: '1', timeout: '10', attempts: '2' };
  const operator = await queueOperator(env, queue, agent);
  await slowestRate(operator.page);
  await eventually(async () => (await mode(operator.page).innerText()) === 'live', 20_000, 'the queue is live');
  await sleep(1_000);
  await sql(`select pgmq.send('${queue}', '{"type": "job.run", "seq": 1}'::jsonb)`);
  await eventually(async () => (await describeQueue(queue)).archived.length === 1, 15_000, 'the message handled without waiting for a read');
  assert.deepEqual(operator.errors, []);
  await operator.context.close();
});
