// Exactly once in the corners: reloads in the middle of a drain, rows that
// are not events, an archive that the queue's policies refuse, two
// operators retrying one dead letter, and a visibility timeout that runs
// out while the agent never answers in time. Each drain is checked against
// the demo agent's own record of what it was sent.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_H2, openTable, queueOperator, deadLettersKey, pendingResetKey, saveAgent, fastestRate, drainedCount, suiteWithAgent } from './harness.mjs';
import { ANON, configureAgent, tally, eventually, freshQueue, freshTable, describeQueue, insert, insertEvents, stamp, sql, sleep } from './backend.mjs';
import { AGENT, REST, serviceHeaders } from '../contract/stack.mjs';

const env = suiteWithAgent({ latency_ms: 20, mode: 'json' });

/** The agent's deliveries of a queue's messages (keyed `queue/{queue}:{msg_id}`). */
const queueTally = (queue) => tally(`queue/${queue}`);

/** Every delivery the agent saw for keys starting with `prefix`, with its
 * start and end on the agent's clock. */
async function deliveries(prefix) {
  const t = await (await fetch(`${AGENT}/tally?prefix=${encodeURIComponent(prefix)}`)).json();
  return t.delivery_times.filter((d) => d.key.startsWith(prefix));
}

describe('exactly once in every corner', () => {
  test('reloads in the middle of a drain, again and again: no page error, no stale read, every row handled', async () => {
    await configureAgent({ latency_ms: 150, mode: 'json' });
    const context = await env.browser.newContext();
    // `events` is configured with `occurred_at`: a read that names
    // `created_at` for it comes from a drain started on a guess.
    const guessed = [];
    context.on('request', (request) => {
      if (/\/rest\/v1\/events\?.*created_at/.test(request.url())) guessed.push(request.url());
    });
    // `events` is shared: count only what this test's drain finished.
    const start = await tally('events');
    const { page, errors } = await openTable(context, env.server.url, 'events', ANON);
    await saveAgent(page, { url: AGENT, timeout: '10', attempts: '5' });
    await fastestRate(page);
    // The table's backlog (seeded and generated rows) drains while the page
    // reloads whenever an event is at the gate.
    let reloads = 0;
    for (let i = 0; i < 6; i += 1) {
      const gate = page.getByRole('region', { name: 'Gate' });
      await eventually(async () => (await gate.locator('[data-state="processing"]').count()) > 0
        || (await gate.getAttribute('data-state')) === 'processing', 30_000, 'an event in flight');
      await page.reload();
      reloads += 1;
      await page.getByRole('region', { name: 'Gate' }).waitFor();
      await page.getByRole('button', { name: 'Log out' }).waitFor();
    }
    const rows = await insert('events', Array.from({ length: 20 }, (_, i) => ({
      occurred_at: new Date(Date.now() + i).toISOString(), type: 'reload.check', source: 'e2e', payload: { i },
    })));
    const ids = rows.map((r) => String(r.id));
    const seen = await eventually(async () => {
      const t = await tally('events');
      return ids.every((id) => t.done[id] >= 1) && t;
    }, 120_000, 'every new row done');
    for (const id of ids) assert.equal(seen.done[id], 1, `row ${id} done once`);
    const twice = Object.entries(seen.done).filter(([k, n]) => n - (start.done[k] ?? 0) > 1);
    assert.ok(twice.length <= reloads, `at most one event resent per reload: ${JSON.stringify(twice)}`);
    assert.deepEqual(guessed, [], 'no read of events with a guessed column');
    assert.deepEqual(errors.filter((e) => /panicked|disposed|RuntimeError|unreachable/.test(e)), [], 'no page error');
    assert.equal(await page.locator('#sluice-crash').count(), 0, 'no crash banner');
    await context.close();
  });

  test('rows that are not events (an empty key, a year BC, the year 10000) are dead-lettered as unreadable while the rows after them pass', async () => {
    const table = await freshTable('odd', 'text');
    const now = Date.now();
    const at = (ms) => new Date(now + ms).toISOString();
    await sql(`insert into public.${table} (id, created_at, type) values
      ('bc', '0044-03-15 12:00:00+00 BC', 'odd.bc'),
      ('', '${at(-3000)}', 'odd.empty'),
      ('a', '${at(-2000)}', 'ok'), ('b', '${at(-1000)}', 'ok'), ('c', '${at(0)}', 'ok'),
      ('far', '10000-01-01 00:00:00+00', 'odd.far')`);
    const context = await env.browser.newContext();
    const { page, errors } = await openTable(context, env.server.url, table, ANON);
    await saveAgent(page, { url: AGENT, timeout: '10', attempts: '3' });
    await fastestRate(page);
    const letters = await eventually(async () => {
      const stored = await page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? '[]'),
        deadLettersKey(table));
      return stored.length === 3 && stored;
    }, 30_000, 'three dead letters');
    const byKey = Object.fromEntries(letters.map((l) => [l.key, l]));
    assert.match(byKey.bc.reason, /unreadable row: timestamp out of range/);
    assert.equal(byKey.bc.event.created_at, '0044-03-15T12:00:00+00:00 BC', 'kept as PostgreSQL gave it');
    assert.match(byKey[''].reason, /unreadable row: empty key/);
    assert.match(byKey.far.reason, /unreadable row: timestamp out of range/);
    const t = await eventually(async () => {
      const s = await tally(table);
      return ['a', 'b', 'c'].every((k) => s.done[k] === 1) && s;
    }, 30_000, 'the ordinary rows done');
    assert.deepEqual(Object.keys(t.counts).sort(), ['a', 'b', 'c'], 'the odd rows never reached the agent');
    await eventually(async () => (await drainedCount(page)) === 6, 10_000, 'six handled');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('"Clear history" confirmed while an event is at the gate is made after a reload, before anything is drained', async () => {
    await configureAgent({ latency_ms: 0, mode: 'json' });
    const table = await freshTable('clear_reload');
    const [first] = await insertEvents(table, [stamp(-2000)]);
    const context = await env.browser.newContext();
    const { page, errors } = await openTable(context, env.server.url, table, ANON);
    page.on('dialog', (dialog) => dialog.accept());
    await saveAgent(page, { url: AGENT, timeout: '30', attempts: '3' });
    await eventually(async () => (await tally(table)).done[first.id] === 1, 20_000, 'the first event done');
    await configureAgent({ latency_ms: 6_000, mode: 'json' });
    const [second] = await insertEvents(table, [stamp(-1000)]);
    const gate = page.getByRole('region', { name: 'Gate' });
    await eventually(async () => (await gate.getAttribute('data-state')) === 'processing', 20_000, 'the second event at the gate');
    assert.equal((await tally(table)).done[second.id], undefined, 'still in flight when the clear is confirmed');
    await page.getByRole('button', { name: 'Source', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Select source' });
    await dialog.getByRole('button', { name: 'Clear history', exact: true }).click();
    await dialog.getByRole('button', { name: 'Close' }).click();
    const resetKey = pendingResetKey(table);
    assert.equal(await page.evaluate((key) => localStorage.getItem(key), resetKey), '"clear"', 'the confirmed clear is kept');
    assert.equal((await tally(table)).done[second.id], undefined, 'still in flight at the reload');
    await configureAgent({ latency_ms: 0, mode: 'json' });
    await page.reload();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    // Cleared: the table drains again from its oldest event.
    await eventually(async () => (await tally(table)).done[first.id] === 2, 20_000, 'the first event handed out again, as a clear means');
    assert.equal(await page.evaluate((key) => localStorage.getItem(key), resetKey), null, 'made once');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a table chosen again while its last event is still at the gate waits for it, without blaming another tab', async () => {
    await configureAgent({ latency_ms: 4_000, mode: 'json' });
    const table = await freshTable('switch_back');
    const rows = await insertEvents(table, [stamp(-2000), stamp(-1000)]);
    const context = await env.browser.newContext();
    const { page, errors } = await openTable(context, env.server.url, table, ANON);
    await saveAgent(page, { url: AGENT, timeout: '30', attempts: '3' });
    await eventually(async () => (await tally(table)).counts[rows[0].id] === 1, 20_000, 'the first event at the agent');
    await page.getByRole('button', { name: 'Source', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Select source' });
    await dialog.getByRole('radio', { name: /^temp_events/ }).check();
    await dialog.getByRole('radio', { name: new RegExp(`^${table}`) }).check();
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    const status = page.getByRole('status').first();
    const said = [];
    const until = Date.now() + 6_000;
    while (Date.now() < until) {
      said.push(await status.innerText());
      await sleep(100);
    }
    assert.ok(!said.some((text) => /Another tab/.test(text)), `never blames another tab: ${[...new Set(said)].join(' | ')}`);
    await configureAgent({ latency_ms: 0, mode: 'json' });
    const done = await eventually(async () => {
      const t = await tally(table);
      return rows.every((r) => t.done[r.id] >= 1) && t;
    }, 30_000, 'both events done');
    for (const r of rows) assert.equal(done.done[r.id], 1, `event ${r.id} done once`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a tab that stops waiting for a table\'s lock does not keep it once it is free', async () => {
    await configureAgent({ latency_ms: 0, mode: 'json' });
    const table = await freshTable('orphan_lock');
    const [first] = await insertEvents(table, [stamp(-2000)]);
    const context = await env.browser.newContext();
    const a = await openTable(context, env.server.url, table, ANON);
    await saveAgent(a.page, { url: AGENT, timeout: '10', attempts: '3' });
    await eventually(async () => (await tally(table)).done[first.id] === 1, 20_000, 'the first event done by the first tab');
    const b = await openTable(context, env.server.url, table, ANON);
    await b.page.getByText('Another tab of this browser is draining').waitFor();
    // The second tab stops waiting for the table (another source chosen):
    // its request for the lock must not outlive that.
    const choose = async (name) => {
      await b.page.getByRole('button', { name: 'Source', exact: true }).click();
      const dialog = b.page.getByRole('dialog', { name: 'Select source' });
      await dialog.getByRole('radio', { name: new RegExp(`^${name}`) }).check();
      await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    };
    await choose('temp_events');
    await a.page.close();
    await sleep(1_000);
    const [second] = await insertEvents(table, [stamp(-1000)]);
    await choose(table);
    await eventually(async () => (await tally(table)).done[second.id] === 1, 20_000, 'the table drained by the second tab');
    assert.deepEqual(b.errors, []);
    await context.close();
  });

  test('a queue whose archive policy is dropped mid-drain halts and names it; once restored, every message is done once and none dead-lettered twice', async () => {
    await configureAgent({ latency_ms: 100, mode: 'json' });
    const queue = await freshQueue('archive', 30);
    const operator = await queueOperator(env, queue, { url: AGENT_H2, lanes: '2', timeout: '5', attempts: '2' });
    await eventually(async () => (await describeQueue(queue)).archived.length >= 5, 30_000, 'some archived');
    await sql(`drop policy sluice_operator_delete on pgmq.q_${queue}`);
    const alerts = operator.page.locator('[role="alert"], [aria-live]');
    await eventually(async () => (await alerts.allInnerTexts()).join(' ').includes(`DELETE policy on pgmq.q_${queue}`), 30_000, 'the halt names the policy');
    const halted = await describeQueue(queue);
    await sleep(3_000);
    const later = await describeQueue(queue);
    assert.equal(later.archived.length, halted.archived.length, 'nothing archived while halted');
    const heldCount = (await queueTally(queue)).order.length;
    await sleep(2_000);
    assert.equal((await queueTally(queue)).order.length, heldCount, 'nothing read and delivered while halted');
    await sql(`create policy sluice_operator_delete on pgmq.q_${queue} for delete to authenticated using ((select auth.jwt() -> 'app_metadata' ->> 'sluice_operator') = 'true')`);
    await operator.page.getByRole('button', { name: 'Retry now' }).first().click();
    await eventually(async () => {
      const s = await describeQueue(queue);
      return s.queue_length === 0 && s.archived.length === 30;
    }, 60_000, 'the queue drained');
    const t = await queueTally(queue);
    assert.equal(Object.keys(t.done).length, 30, 'every message done');
    const again = Object.entries(t.done).filter(([, n]) => n > 1);
    assert.deepEqual(again, [], 'none done twice');
    assert.equal((await describeQueue(`${queue}_dlq`)).messages.length, 0, 'none dead-lettered');
    await eventually(async () => (await drainedCount(operator.page)) === 30, 10_000, 'counted once each');
    await operator.context.close();
  });

  test('two operators pressing Retry on the same dead letter put one message back', async () => {
    await configureAgent({ latency_ms: 20, mode: 'json' });
    const queue = await freshQueue('retry_twice', 0);
    const letter = { queue, msg_id: 999, read_ct: 1, enqueued_at: new Date().toISOString(), message: { type: 'job.run', seq: 7 }, headers: null, reason: '422: test', dead_lettered_at: new Date().toISOString() };
    const sent = await fetch(`${REST}/rpc/send`, {
      method: 'POST',
      headers: { ...serviceHeaders, 'Content-Type': 'application/json', 'Content-Profile': 'pgmq_public' },
      body: JSON.stringify({ queue_name: `${queue}_dlq`, message: letter }),
    });
    assert.equal(sent.status, 200);
    const [letterId] = await sent.json();
    const agent = { url: AGENT_H2, lanes: '1', timeout: '5', attempts: '2' };
    const operators = [await queueOperator(env, queue, agent), await queueOperator(env, queue, agent)];
    const retry = (page) => page.getByRole('button', { name: `Retry ${letterId}`, exact: true });
    for (const { page } of operators) await retry(page).waitFor();
    await Promise.all(operators.map(({ page }) => retry(page).click()));
    const drained = await eventually(async () => {
      const s = await describeQueue(queue);
      return s.queue_length === 0 && s.archived.length >= 1 && s;
    }, 30_000, 'the letter sent back and drained');
    await sleep(2_000);
    const settled = await describeQueue(queue);
    assert.equal(settled.archived.length + settled.queue_length, 1, `one message came back (${drained.archived.length})`);
    assert.equal(settled.archived[0].message.seq, 7);
    const dlq = await describeQueue(`${queue}_dlq`);
    assert.deepEqual(dlq.archived.map((l) => l.msg_id), [letterId], 'the letter archived once');
    const texts = [];
    for (const { page } of operators) texts.push((await page.locator('[role="alert"], [aria-live]').allInnerTexts()).join(' '));
    assert.ok(texts.some((t) => t.includes('another operator already took it')), `one operator is told: ${texts}`);
    for (const { context } of operators) await context.close();
  });

  test('an agent that never answers in time, three operators: no two deliveries of one message overlap', async () => {
    // Every attempt outlasts its 2 s timeout: an attempt starts only if it
    // and the settling can end before the message must be let go.
    await configureAgent({ latency_ms: 4_000, mode: 'json' });
    const queue = await freshQueue('never_in_time', 3);
    const agent = { url: AGENT_H2, lanes: '1', timeout: '2', attempts: '2' };
    const operators = [];
    for (let i = 0; i < 3; i += 1) operators.push(await queueOperator(env, queue, agent));
    const prefix = `queue/${queue}:`;
    await eventually(async () => {
      const all = await deliveries(prefix);
      return new Set(all.map((d) => d.key)).size === 3 && all.filter((d) => d.ended_ms != null).length >= 9;
    }, 120_000, 'several deliveries of each message');
    for (const { context } of operators) await context.close();
    await sleep(1_000);
    const all = await deliveries(prefix);
    const byKey = new Map();
    for (const d of all) byKey.set(d.key, [...(byKey.get(d.key) ?? []), d]);
    for (const [key, list] of byKey) {
      list.sort((a, b) => a.started_ms - b.started_ms);
      for (let i = 1; i < list.length; i += 1) {
        assert.ok(list[i].started_ms >= list[i - 1].ended_ms,
          `${key}: delivery ${i} started at ${list[i].started_ms}, before the one before ended (${list[i - 1].ended_ms})`);
      }
    }
  });
});
