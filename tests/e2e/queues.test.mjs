// Supabase Queues as a source: several operators (browser contexts, each
// with its own storage) drain one pgmq queue through pgmq_public, with the
// demo agent; the queue, its archive and its dead-letter queue are checked
// through the stack's test facility, the deliveries through the agent's tally.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_H2, queueOperator, drainedCount, suiteWithAgent } from './harness.mjs';
import { configureAgent, tally, eventually, freshQueue, describeQueue, sql } from './backend.mjs';

const env = suiteWithAgent({ latency_ms: 5, mode: 'json' });

describe('Supabase Queues', () => {
  test('three operators drain one queue of 3,000 messages: each message done once, none lost, each a share', async () => {
    const queue = await freshQueue('three', 3000);
    const agent = { url: AGENT_H2, lanes: '4', timeout: '10', attempts: '3' };
    const operators = [];
    for (let i = 0; i < 3; i += 1) operators.push(await queueOperator(env, queue, agent));
    const state = await eventually(async () => {
      const s = await describeQueue(queue);
      return s.queue_length === 0 && s.archived.length === 3000 && s;
    }, 240_000, 'the queue emptied and archived');
    const delivered = await tally(`queue/${queue}`);
    const done = Object.keys(delivered.done);
    assert.equal(done.length, 3000, 'every message reached the agent');
    assert.deepEqual(Object.values(delivered.done).filter((n) => n !== 1), [], 'none done twice');
    assert.equal(new Set(state.archived.map((m) => m.msg_id)).size, 3000);
    const shares = [];
    for (const { page } of operators) shares.push(await eventually(async () => (await drainedCount(page)) || false, 5_000, 'a share'));
    assert.equal(shares.reduce((a, b) => a + b, 0), 3000, `shares ${shares}`);
    for (const share of shares) assert.ok(share > 0, `every operator handled a share: ${shares}`);
    for (const { context, errors } of operators) {
      assert.deepEqual(errors, []);
      await context.close();
    }
  });

  test('a page closed in the middle of an event: the message comes back after its visibility timeout and another operator finishes it', async () => {
    await configureAgent({ latency_ms: 1500, mode: 'json' });
    const queue = await freshQueue('closed', 1);
    // The visibility timeout (sluice-core queue::visibility_timeout) covers
    // every attempt timing out, every wait between attempts at its ceiling,
    // and a 15 s margin (settling, letting go, the read's reply), rounded up
    // to whole seconds: two attempts of 3 s and one wait below 1 s give
    // 6 + 1 + 15 = 22 s.
    const VISIBILITY_S = 22;
    const agent = { url: AGENT_H2, lanes: '1', timeout: '3', attempts: '2' };
    const first = await queueOperator(env, queue, agent);
    await eventually(async () => (await tally(`queue/${queue}`)).timeline.length > 0, 20_000, 'the message at the agent');
    // pgmq's read sets last_read_at = clock_timestamp() and vt = clock_timestamp() + the timeout
    // it was given: the database's own clock says what the first read asked for.
    const [readAt, visibility] = (await sql(`SELECT extract(epoch FROM last_read_at), extract(epoch FROM vt - last_read_at) FROM pgmq.q_${queue}`)).trim().split('|').map(Number);
    assert.ok(Math.abs(visibility - VISIBILITY_S) < 0.1, `the first read hid the message for ${visibility} s, not ${VISIBILITY_S} s`);
    await first.context.close();
    const second = await queueOperator(env, queue, agent);
    const state = await eventually(async () => {
      const s = await describeQueue(queue);
      return s.archived.length === 1 && s;
    }, 45_000, 'the message archived by the second operator');
    const secondReadAt = Number((await sql(`SELECT extract(epoch FROM last_read_at) FROM pgmq.a_${queue}`)).trim());
    assert.ok(secondReadAt - readAt >= VISIBILITY_S, `read again ${(secondReadAt - readAt).toFixed(1)} s after the first read: not before its ${VISIBILITY_S} s visibility timeout`);
    const delivered = await tally(`queue/${queue}`);
    const [key] = Object.keys(delivered.counts);
    assert.equal(delivered.counts[key], 2, 'delivered twice: one redelivery');
    assert.ok(delivered.done[key] >= 1, 'the agent finished it');
    assert.equal(state.archived[0].read_ct, 2, 'the second read took it');
    assert.equal(await drainedCount(second.page), 1, 'the second operator finished it');
    assert.deepEqual(second.errors, []);
    await second.context.close();
  });

  test('a message the agent refuses lands in the dead-letter queue with its reason, and the panel shows it', async () => {
    await configureAgent({ latency_ms: 5, mode: 'json', reject_rate: 0.2 });
    const queue = await freshQueue('refused', 40);
    const { context, page, errors } = await queueOperator(env, queue, { url: AGENT_H2, lanes: '4', timeout: '5', attempts: '2' });
    const archived = await eventually(async () => {
      const s = await describeQueue(queue);
      return s.queue_length === 0 && s.archived.length === 40 && s.archived;
    }, 60_000, 'the queue emptied');
    const refused = Object.keys((await tally(`queue/${queue}`)).rejected);
    assert.ok(refused.length > 0, 'the agent refused some');
    const letters = (await describeQueue(`${queue}_dlq`)).messages;
    assert.deepEqual(letters.map((l) => String(l.message.msg_id)).sort(), refused.sort(), 'each refused message has one dead letter');
    for (const letter of letters) {
      assert.equal(letter.message.queue, queue);
      assert.match(letter.message.reason, /422/);
      assert.equal(letter.message.message.type, 'job.run');
    }
    assert.equal(archived.length, 40, 'refused messages are archived from the source too');
    const panel = page.getByRole('region', { name: /Dead letters/ });
    await eventually(async () => (await panel.innerText()).includes(String(letters[0].msg_id)), 10_000, 'the panel lists the queue\'s dead letters');
    // Retry from the panel: the letter's message goes back to the queue (a
    // new message), is drained again, and the letter is archived.
    // The agent now accepts everything: a retried message that the agent
    // refused again would be a new dead letter, not a waiting one.
    await configureAgent({ latency_ms: 5, mode: 'json', reject_rate: 0 });
    const retried = letters[0];
    await page.getByRole('button', { name: `Retry ${retried.msg_id}`, exact: true }).click();
    const dlq = await eventually(async () => {
      const s = await describeQueue(`${queue}_dlq`);
      return !s.messages.some((l) => l.msg_id === retried.msg_id) && s.archived.some((l) => l.msg_id === retried.msg_id) && s;
    }, 20_000, 'the retried letter archived from the dead-letter queue');
    // Archived is the letter retried, as it was (the refused message and its
    // reason), and only it: the other letters wait in the dead-letter queue.
    assert.deepEqual(dlq.archived.map((l) => [l.msg_id, l.message]), [[retried.msg_id, retried.message]], 'the dead-letter queue archived the retried letter, unchanged, and no other');
    assert.deepEqual(dlq.messages.map((l) => l.msg_id).sort((a, b) => a - b), letters.filter((l) => l.msg_id !== retried.msg_id).map((l) => l.msg_id).sort((a, b) => a - b), 'the other letters are still waiting');
    const again = await eventually(async () => {
      const s = await describeQueue(queue);
      return s.queue_length === 0 && s.archived.length === 41 && s.archived.at(-1);
    }, 20_000, 'the retried message drained again');
    assert.equal(again.message.seq, retried.message.message.seq, 'the same message, sent again');
    assert.ok(again.msg_id > 40, 'as a new message of the queue');
    // The browser logs each refused delivery (422) as a failed load; nothing else.
    assert.deepEqual(errors.filter((e) => !/status of 422/.test(e)), []);
    await context.close();
  });

  test('a queue\'s length shows while it drains; without the metrics function the page says what to add', async () => {
    await configureAgent({ latency_ms: 300, mode: 'json' });
    const queue = await freshQueue('length', 40);
    const agent = { url: AGENT_H2, lanes: '1', timeout: '10', attempts: '2' };
    const first = await queueOperator(env, queue, agent);
    const source = (page) => page.getByRole('region', { name: 'Source', exact: true });
    const shown = await eventually(async () => /queue · (\d+) waiting/.exec(await source(first.page).innerText()), 20_000, 'the length shown');
    assert.ok(Number(shown[1]) > 0 && Number(shown[1]) <= 40, `a length of at most 40: ${shown[1]}`);
    const backlog = first.page.locator('[data-metric="backlog"] dd');
    assert.match(await backlog.innerText(), /^\d+$/);
    await first.context.close();
    await sql('alter function public.sluice_queue_metrics(text) rename to sluice_queue_metrics_away');
    try {
      const second = await queueOperator(env, queue, agent);
      await source(second.page).getByText('length unknown: add sluice_queue_metrics').waitFor({ timeout: 20_000 });
      assert.equal(await second.page.locator('[data-metric="backlog"] dd').innerText(), 'unknown');
      assert.deepEqual(second.errors.filter((e) => !/Failed to load resource/.test(e)), []);
      await second.context.close();
    } finally {
      await sql('alter function public.sluice_queue_metrics_away(text) rename to sluice_queue_metrics');
    }
  });
});
