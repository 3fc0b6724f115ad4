// Lanes end to end: several events at the gate at once, against the demo
// agent's own tally of what it was sent and when. The tally's timeline
// ([key, 'arrived'] then [key, outcome]) shows which deliveries overlapped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_H2, ledgerHeadKey, suiteWithAgent, openTable, drainedCount, fastestRate, saveAgent, screenshot } from './harness.mjs';
import { ANON, freshTable, insert, insertEvents, stamp, configureAgent, tally, eventually, sleep } from './backend.mjs';

const env = suiteWithAgent();

const gate = (page) => page.getByRole('region', { name: 'Gate' });

/** The most deliveries the agent was working on at once. */
function mostAtOnce(timeline) {
  let open = 0;
  let most = 0;
  for (const [, what] of timeline) {
    open += what === 'arrived' ? 1 : -1;
    most = Math.max(most, open);
  }
  return most;
}

/** `n` rows a millisecond apart, in the past, oldest first. */
function rows(n, type = (i) => 'order.created') {
  return Array.from({ length: n }, (_, i) => ({ created_at: stamp(-600_000 + i), type: type(i), payload: { i } }));
}

/** The ledger head this browser keeps for `table`. */
const storedHead = (page, table) =>
  page.evaluate((key) => JSON.parse(localStorage.getItem(key)), ledgerHeadKey(table));

test('16 lanes with random agent latencies deliver every key exactly once, many at a time', async () => {
  await configureAgent({ latency_ms: 100, latency_jitter_ms: 600, mode: 'ndjson', progress_steps: 2 });
  const table = await freshTable('lanes16');
  const inserted = await insert(table, rows(240));
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true });
  const { page, errors } = await openTable(context, env.server.url, table, ANON);
  await fastestRate(page);
  await saveAgent(page, { url: AGENT_H2, lanes: '16' });
  const lanesInUse = page.locator('[data-metric="lanes"] dd');
  let most = 0;
  let photographed = false;
  await eventually(async () => {
    const busy = Number(/^(\d+) of 16$/.exec(await lanesInUse.innerText())?.[1] ?? 0);
    most = Math.max(most, busy);
    if (!photographed && busy >= 8) {
      photographed = true;
      await sleep(400); // the pills' move from the source to the gate
      await screenshot(page, 'lanes-busy');
      // Each pill speaks for its own lane: its state and its key.
      for (const pill of await page.locator('.pill[data-at="gate"]').all()) {
        assert.match(await pill.getAttribute('aria-label'), /^Event \d+ \(order\.created\)$/);
        assert.match(await pill.getAttribute('data-state'), /^(processing|passed|retrying|offline)$/);
      }
      assert.match(await gate(page).innerText(), /\+\d+/, 'lanes beyond the pill rows are counted');
    }
    return (await drainedCount(page)) === 240;
  }, 90_000, 'all 240 drained');
  const t = await tally(table);
  assert.equal(Object.keys(t.counts).length, 240);
  assert.ok(Object.values(t.counts).every((n) => n === 1), 'each key delivered exactly once');
  assert.ok(Object.values(t.done).every((n) => n === 1));
  assert.ok(mostAtOnce(t.timeline) >= 12, `the agent had up to ${mostAtOnce(t.timeline)} events at once`);
  assert.ok(most >= 8, `the strip showed up to ${most} lanes in use`);
  const ids = inserted.map((r) => String(r.id));
  // Sent oldest first: requests racing each other may arrive a little out
  // of order, but never by more than the lanes in flight.
  t.order.forEach((id, arrived) => assert.ok(Math.abs(ids.indexOf(id) - arrived) < 16, `${id} arrived ${arrived}th`));
  const finished = t.timeline.filter(([, what]) => what === 'done').map(([key]) => key);
  assert.notDeepEqual(finished, ids, 'finishing out of order is allowed…');
  const head = await storedHead(page, table);
  assert.equal(head.cursor.key, String(inserted.at(-1).id), '…and the cursor still ends at the newest');
  assert.equal(head.ahead, undefined, 'nothing left handled ahead of it');
  assert.match(await page.locator('[data-metric="latency"]').innerText(), /Agent latency\s+\d+ ms\s+p95 \d+ ms/i);
  assert.deepEqual(errors, []);
  await context.close();
});

test('with a partition key, each value passes in the table\'s order and never overlaps; values run side by side', async () => {
  await configureAgent({ latency_ms: 30, latency_jitter_ms: 300, mode: 'json' });
  const table = await freshTable('partition');
  const types = ['order.created', 'order.paid', 'invoice.sent', 'user.joined'];
  const inserted = await insert(table, rows(120, (i) => types[(i * 7 + (i >> 2)) % 4]));
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  const { page, errors } = await openTable(context, env.server.url, table, ANON);
  await fastestRate(page);
  await saveAgent(page, { url: AGENT_H2, lanes: '8', partitionKey: 'type' });
  await eventually(async () => (await drainedCount(page)) === 120, 60_000, 'all 120 drained');
  const t = await tally(table);
  const typeOf = new Map(inserted.map((r) => [String(r.id), r.type]));
  for (const type of types) {
    const inTable = inserted.filter((r) => r.type === type).map((r) => String(r.id));
    const arrived = t.order.filter((k) => typeOf.get(k) === type);
    assert.deepEqual(arrived, inTable, `${type}: delivered in the table's order, each once`);
  }
  // No two events of one type were at the agent at once.
  const open = new Map();
  for (const [key, what] of t.timeline) {
    const type = typeOf.get(key);
    if (what === 'arrived') {
      assert.equal(open.get(type), undefined, `${key} arrived while ${open.get(type)} (${type}) was open`);
      open.set(type, key);
    } else {
      open.delete(type);
    }
  }
  assert.ok(mostAtOnce(t.timeline) >= 3, 'different values ran side by side');
  assert.equal(await page.getByRole('form', { name: 'Agent settings' }).getByLabel('Partition key').inputValue(), 'type');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a reload with 8 events at the gate sends exactly those 8 again, and none handled ahead of them', async () => {
  // A third of the deliveries are never answered (within the 60 s timeout):
  // they fill the lanes one by one while those after them finish.
  await configureAgent({ latency_ms: 20, mode: 'json', timeout_rate: 0.3 });
  const table = await freshTable('reload');
  const inserted = await insert(table, rows(80));
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  const { page } = await openTable(context, env.server.url, table, ANON);
  await fastestRate(page);
  await saveAgent(page, { url: AGENT_H2, lanes: '8', timeout: '60' });
  // The agent notes `timeout` as a never-answered delivery arrives; a key
  // merely in its 20 ms of latency is not one of them.
  const unanswered = (t) => [...new Set(t.timeline.filter(([, what]) => what === 'timeout').map(([k]) => k))].filter((k) => !t.done[k]);
  await eventually(async () => unanswered(await tally(table)).length === 8, 30_000, '8 unanswered at the gate');
  await sleep(500);
  const before = await tally(table);
  const atGate = unanswered(before).sort();
  assert.equal(atGate.length, 8, 'still 8: every lane holds an unanswered event');
  const head = await storedHead(page, table);
  assert.ok(head.ahead?.length > 0, 'some events were handled ahead of an unfinished older one');
  await eventually(async () => /8 of 8/.test(await page.locator('[data-metric="lanes"]').innerText()), 5_000, '8 lanes in use');
  assert.equal(await page.locator('.pill[data-at="gate"]').count(), 4, 'four pill rows…');
  assert.match(await gate(page).innerText(), /\+4/, '…and the other four counted');
  await screenshot(page, 'lanes-at-gate');
  await configureAgent({ latency_ms: 20, mode: 'json' });
  await page.reload();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  await eventually(async () => Object.keys((await tally(table)).done).length === 80, 60_000, 'all 80 done');
  const after = await tally(table);
  const twice = Object.entries(after.counts).filter(([, n]) => n > 1).map(([k]) => k).sort();
  assert.deepEqual(twice, atGate, 'only the events at the gate went again');
  assert.deepEqual(after.order.slice(before.order.length).slice(0, 8).sort(), atGate, 'and they went first');
  assert.ok(Object.values(after.done).every((n) => n === 1), 'each done once');
  assert.equal(Object.keys(after.counts).length, inserted.length);
  await context.close();
});

test('an event failing in one lane does not hold the others; it is dead-lettered on its own', async () => {
  // The same few keys answer 503 on every try (a tenth or so, so that the
  // other lanes are seldom all stuck at once); the rest pass.
  await configureAgent({ latency_ms: 40, mode: 'json', reject_rate: 0.12, reject_status: 503, retry_after_s: 2 });
  const table = await freshTable('lanefail');
  await insertEvents(table, Array.from({ length: 80 }, (_, i) => stamp(-60_000 + i)));
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  const { page } = await openTable(context, env.server.url, table, ANON);
  await fastestRate(page);
  await saveAgent(page, { url: AGENT_H2, lanes: '8', attempts: '3' });
  await eventually(async () => (await drainedCount(page)) === 80, 60_000, 'all 80 handled');
  const t = await tally(table);
  const failing = Object.keys(t.rejected);
  assert.ok(failing.length > 0, 'some keys kept failing');
  for (const key of failing) assert.equal(t.counts[key], 3, `${key}: three attempts`);
  // While the first of them was retried, the other lanes kept passing events.
  const key = t.order.find((k) => failing.includes(k));
  const first = t.timeline.findIndex(([k]) => k === key);
  const last = t.timeline.findLastIndex(([k]) => k === key);
  const passedMeanwhile = t.timeline.slice(first, last).filter(([k, what]) => k !== key && what === 'done').length;
  assert.ok(passedMeanwhile >= 3, `${key}: ${passedMeanwhile} others passed while it was retried`);
  assert.equal(Object.keys(t.done).length, 80 - failing.length, 'every other event passed');
  await page.getByRole('region', { name: 'Drain' }).getByText(`(of which ${failing.length} dead-lettered)`).waitFor();
  await context.close();
});

test('pause lets every event at the gate finish and admits none; step admits exactly one', async () => {
  await configureAgent({ latency_ms: 1500, mode: 'ndjson', progress_steps: 2 });
  const table = await freshTable('lanepause');
  await insertEvents(table, Array.from({ length: 20 }, (_, i) => stamp(-60_000 + i)));
  const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
  const { page } = await openTable(context, env.server.url, table, ANON);
  await saveAgent(page, { url: AGENT_H2, lanes: '4' });
  await eventually(async () => Object.keys((await tally(table)).counts).length === 4, 20_000, '4 at the gate');
  await page.getByRole('button', { name: 'Pause' }).click();
  await eventually(async () => Object.keys((await tally(table)).done).length === 4, 20_000, 'the 4 finished');
  await sleep(2000);
  assert.equal(Object.keys((await tally(table)).counts).length, 4, 'none admitted while paused');
  assert.equal(await gate(page).getAttribute('data-state'), 'paused');
  await page.getByRole('button', { name: 'Step' }).click();
  await eventually(async () => Object.keys((await tally(table)).done).length === 5, 20_000, 'one stepped through');
  await sleep(2000);
  assert.equal(Object.keys((await tally(table)).counts).length, 5, 'a step is one event, whatever the lanes');
  await context.close();
});
