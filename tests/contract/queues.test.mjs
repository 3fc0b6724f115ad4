// Contract tests for PostgREST's RPC and Supabase Queues on the local stack:
// real HTTP, a real PostgreSQL with pgmq installed from the crates.io `pgmq`
// crate, `pgmq_public` as Supabase's "Expose Queues via PostgREST" creates
// it. Each test names the documentation section it checks.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PostgrestClient } from '@supabase/postgrest-js';
import { REST, GATEWAY, anonHeaders, operatorHeaders, freshUser, signIn, userHeaders } from './stack.mjs';

const RPC = `${REST}/rpc`;

/** Calls `fn` as the stack's operator (the queues answer operators only). */
async function call(fn, args, { profile = 'pgmq_public', method = 'POST', headers = {} } = {}) {
  const operator = await operatorHeaders();
  const init = method === 'GET'
    ? { headers: { ...operator, 'Accept-Profile': profile, ...headers } }
    : {
        method,
        headers: { ...operator, 'Content-Type': 'application/json', 'Content-Profile': profile, ...headers },
        body: JSON.stringify(args),
      };
  const url = method === 'GET' ? `${RPC}/${fn}?${new URLSearchParams(args)}` : `${RPC}/${fn}`;
  const response = await fetch(url, init);
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body };
}

/** A queue of its own (and its dead-letter queue), through the stack's test facility. */
async function freshQueue(label, { exposed = true } = {}) {
  const name = `c_${label}_${process.pid}_${Date.now() % 1e6}`;
  const r = await fetch(`${GATEWAY}/_admin/queues`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, exposed }),
  });
  assert.equal(r.status, 201, await r.text());
  return name;
}

async function describeQueue(name) {
  return (await fetch(`${GATEWAY}/_admin/queues/${name}`)).json();
}

const messages = (n) => Array.from({ length: n }, (_, i) => ({ type: 'test.job', seq: i }));

describe('RPC (PostgREST docs: "Functions as RPC")', () => {
  test('POST with named arguments as a JSON object; SETOF composite comes back as an array of objects', async () => {
    const queue = await freshQueue('post');
    const sent = await call('send', { queue_name: queue, message: { hello: 'world' } });
    assert.equal(sent.status, 200);
    assert.equal(sent.body.length, 1, 'SETOF bigint: an array of one id');
    assert.equal(typeof sent.body[0], 'number');
    const read = await call('read', { queue_name: queue, sleep_seconds: 30, n: 5 });
    assert.equal(read.status, 200);
    assert.deepEqual(Object.keys(read.body[0]).sort(), ['enqueued_at', 'headers', 'last_read_at', 'message', 'msg_id', 'read_ct', 'vt']);
    assert.equal(read.body[0].msg_id, sent.body[0]);
    assert.deepEqual(read.body[0].message, { hello: 'world' });
    assert.equal(read.body[0].read_ct, 1);
  });

  test('a function returning a scalar answers the bare value ("Scalar functions")', async () => {
    const queue = await freshQueue('scalar');
    const [id] = (await call('send', { queue_name: queue, message: {} })).body;
    const archived = await call('archive', { queue_name: queue, message_id: id });
    assert.equal(archived.status, 200);
    assert.equal(archived.body, true);
    assert.equal((await call('archive', { queue_name: queue, message_id: id })).body, false, 'already archived');
    const sum = await call('add_numbers', { a: 2, b: 3 }, { profile: 'public' });
    assert.equal(sum.body, 5);
  });

  test('an array argument takes a JSON array (send_batch\'s jsonb[])', async () => {
    const queue = await freshQueue('batch');
    const sent = await call('send_batch', { queue_name: queue, messages: messages(3) });
    assert.equal(sent.status, 200);
    assert.equal(sent.body.length, 3);
    const read = await call('read', { queue_name: queue, sleep_seconds: 30, n: 10 });
    assert.deepEqual(read.body.map((m) => m.message.seq), [0, 1, 2]);
  });

  test('GET passes arguments in the query string and runs read-only ("Calling functions with GET")', async () => {
    const sum = await call('add_numbers', { a: 40 }, { profile: 'public', method: 'GET' });
    assert.equal(sum.status, 200);
    assert.equal(sum.body, 41, 'b takes its default');
    const queue = await freshQueue('get');
    const read = await call('read', { queue_name: queue, sleep_seconds: 30, n: 1 }, { method: 'GET' });
    assert.equal(read.status, 405, 'a function that writes fails under GET');
    assert.equal(read.body.code, '25006');
  });

  test('an unknown function: 404 PGRST202 with PostgREST\'s message and details, no hint ("Errors")', async () => {
    const r = await call('no_such_function', { queue_name: 'x' });
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, {
      code: 'PGRST202',
      message: 'Could not find the function pgmq_public.no_such_function(queue_name) in the schema cache',
      details: 'Searched for the function pgmq_public.no_such_function with parameter queue_name or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
      hint: null,
    });
  });

  test('an unknown argument name: 404 PGRST202, names sorted, the real signature as hint ("Errors")', async () => {
    const r = await call('read', { queue_name: 'x', vt: 30, n: 1 });
    assert.equal(r.status, 404);
    assert.equal(r.body.message, 'Could not find the function pgmq_public.read(n, queue_name, vt) in the schema cache');
    assert.equal(r.body.hint, 'Perhaps you meant to call the function pgmq_public.read(n, queue_name, sleep_seconds)');
    const missing = await call('read', { queue_name: 'x' });
    assert.equal(missing.status, 404, 'a required argument left out');
  });

  test('Content-Profile picks the schema; without it the default schema is searched ("Switching schemas")', async () => {
    const r = await call('read', { queue_name: 'order_jobs', sleep_seconds: 0, n: 0 });
    assert.equal(r.status, 200, 'Content-Profile: pgmq_public');
    const bare = await fetch(`${RPC}/read`, {
      method: 'POST',
      headers: { ...anonHeaders, 'Content-Type': 'application/json' },
      body: JSON.stringify({ queue_name: 'order_jobs', sleep_seconds: 0, n: 0 }),
    });
    assert.equal(bare.status, 404);
    assert.match((await bare.json()).message, /public\.read\(/);
  });

  test('an unexposed schema: 406 PGRST106 naming the exposed ones ("Switching schemas", "Errors")', async () => {
    const r = await call('create', { queue_name: 'evil' }, { profile: 'pgmq' });
    assert.equal(r.status, 406);
    assert.deepEqual(r.body, {
      code: 'PGRST106',
      message: 'Invalid schema: pgmq',
      details: null,
      hint: 'Only the following schemas are exposed: public, pgmq_public',
    });
  });

  test('another method on a function: 405 PGRST101 ("Errors")', async () => {
    const r = await call('read', {}, { method: 'PUT' });
    assert.equal(r.status, 405);
    assert.equal(r.body.code, 'PGRST101');
  });

  test('the official client, @supabase/postgrest-js, unchanged: .schema("pgmq_public").rpc(...)', async () => {
    const queue = await freshQueue('client');
    const client = new PostgrestClient(REST, { headers: await operatorHeaders() });
    const queues = client.schema('pgmq_public');
    const sent = await queues.rpc('send', { queue_name: queue, message: { via: 'postgrest-js' } });
    assert.equal(sent.error, null);
    const read = await queues.rpc('read', { queue_name: queue, sleep_seconds: 30, n: 1 });
    assert.equal(read.error, null);
    assert.equal(read.data[0].msg_id, sent.data[0]);
    assert.deepEqual(read.data[0].message, { via: 'postgrest-js' });
    const archived = await queues.rpc('archive', { queue_name: queue, message_id: sent.data[0] });
    assert.equal(archived.data, true);
    const wrong = await queues.rpc('read', { queue_name: queue, vt: 30 });
    assert.equal(wrong.error.code, 'PGRST202');
  });
});

describe('Supabase Queues over the API (Supabase docs: "Queues: Quickstart", "API"; pgmq docs: "read", "archive")', () => {
  test('the default queues and their dead-letter queues exist and are open to the anon key', async () => {
    for (const queue of ['order_jobs', 'order_jobs_dlq', 'email_jobs', 'email_jobs_dlq']) {
      const r = await call('read', { queue_name: queue, sleep_seconds: 0, n: 0 });
      assert.equal(r.status, 200, `${queue}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body, []);
    }
  });

  test('an unknown queue: 404 with PostgreSQL\'s 42P01 naming its table', async () => {
    const r = await call('read', { queue_name: 'no_such_queue', sleep_seconds: 0, n: 1 });
    assert.equal(r.status, 404);
    assert.equal(r.body.code, '42P01');
    assert.match(r.body.message, /q_no_such_queue/);
  });

  test('a queue without row-level security policies and grants is refused (42501: 401 to the anon key, 403 to a signed-in operator)', async () => {
    const queue = await freshQueue('closed', { exposed: false });
    const r = await call('read', { queue_name: queue, sleep_seconds: 0, n: 1 }, { headers: anonHeaders });
    assert.equal(r.status, 401);
    assert.equal(r.body.code, '42501');
    const operator = await call('read', { queue_name: queue, sleep_seconds: 0, n: 1 });
    assert.equal(operator.status, 403, 'a signed-in role is refused with 403');
    assert.equal(operator.body.code, '42501');
  });

  test('sluice_queue_metrics, the recipe\'s function beside pgmq_public, tells an operator a queue\'s length; anon and other users may not call it', async () => {
    const queue = await freshQueue('metrics');
    await call('send_batch', { queue_name: queue, messages: messages(5) });
    await call('read', { queue_name: queue, sleep_seconds: 30, n: 2 });
    const metrics = (headers = {}) => call('sluice_queue_metrics', { queue_name: queue }, { profile: 'public', headers });
    const r = await metrics();
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 1);
    assert.equal(r.body[0].queue_length, 5, 'hidden by a reader or not');
    assert.equal(r.body[0].queue_visible_length, 3);
    assert.equal(typeof r.body[0].oldest_msg_age_sec, 'number');
    const anon = await metrics(anonHeaders);
    assert.equal(anon.status, 401);
    assert.equal(anon.body.code, '42501');
    const outsider = await freshUser('metrics_outsider');
    const token = (await signIn(outsider.email, outsider.password)).body.access_token;
    const refused = await metrics(userHeaders(token));
    assert.equal(refused.status, 403, 'the function checks the operator claim itself');
    assert.equal(refused.body.code, '42501');
  });

  test('readers at once get disjoint messages, and each message once (FOR UPDATE SKIP LOCKED)', async () => {
    const queue = await freshQueue('disjoint');
    await call('send_batch', { queue_name: queue, messages: messages(60) });
    const reads = await Promise.all(Array.from({ length: 6 }, () => call('read', { queue_name: queue, sleep_seconds: 30, n: 10 })));
    const ids = reads.flatMap((r) => r.body.map((m) => m.msg_id));
    assert.equal(ids.length, 60);
    assert.equal(new Set(ids).size, 60, 'no message went to two readers');
  });

  test('a message read and not archived comes back after its visibility timeout, its read_ct one higher', async () => {
    const queue = await freshQueue('visibility');
    await call('send', { queue_name: queue, message: { n: 1 } });
    const first = await call('read', { queue_name: queue, sleep_seconds: 1, n: 1 });
    assert.equal(first.body[0].read_ct, 1);
    assert.deepEqual((await call('read', { queue_name: queue, sleep_seconds: 1, n: 1 })).body, [], 'hidden meanwhile');
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const again = await call('read', { queue_name: queue, sleep_seconds: 30, n: 1 });
    assert.equal(again.body[0].msg_id, first.body[0].msg_id);
    assert.equal(again.body[0].read_ct, 2);
  });

  test('archive moves a message out of the queue into its archive', async () => {
    const queue = await freshQueue('archive');
    await call('send_batch', { queue_name: queue, messages: messages(2) });
    const [a, b] = (await call('read', { queue_name: queue, sleep_seconds: 0, n: 2 })).body;
    assert.equal((await call('archive', { queue_name: queue, message_id: a.msg_id })).body, true);
    const left = await call('read', { queue_name: queue, sleep_seconds: 30, n: 5 });
    assert.deepEqual(left.body.map((m) => m.msg_id), [b.msg_id]);
    const state = await describeQueue(queue);
    assert.deepEqual(state.archived.map((m) => m.msg_id), [a.msg_id]);
    assert.equal(state.queue_length, 1);
  });
});
