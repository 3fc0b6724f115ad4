// Contract tests for the demo agent: Sluice's webhook v1 (docs/agent-protocol.md)
// over real HTTP. Run with the back end up (scripts/backend.sh).
import { test, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT } from './stack.mjs';

async function configure(config) {
  const r = await fetch(`${AGENT}/config`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(config) });
  assert.equal(r.status, 200);
}

function deliver(key, { table = 'events', headers = {}, body } = {}) {
  return fetch(AGENT, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `${table}:${key}`, ...headers },
    body: body ?? JSON.stringify({ key, table, event: { id: key, type: 'order.created' } }),
  });
}

const tally = async () => (await fetch(`${AGENT}/tally`)).json();

beforeEach(async () => {
  await fetch(`${AGENT}/reset`, { method: 'POST' });
  await configure({ latency_ms: 50, mode: 'json' });
});
after(() => configure({}));

test('JSON mode answers {"status":"done"} and records the key', async () => {
  const r = await deliver('k1');
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { status: 'done' });
  const t = await tally();
  assert.equal(t.deliveries, 1);
  assert.deepEqual(t.keys, { 'events:k1': 1 });
  assert.deepEqual(t.done, { 'events:k1': 1 });
});

test('ndjson mode streams progress lines, then done', async () => {
  await configure({ latency_ms: 200, mode: 'ndjson', progress_steps: 3 });
  const r = await deliver('k2');
  assert.equal(r.headers.get('content-type'), 'application/x-ndjson');
  const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 4);
  assert.deepEqual(lines.slice(0, 3).map((l) => l.status), ['processing', 'processing', 'processing']);
  assert.ok(lines[0].progress < lines[1].progress && lines[1].progress < lines[2].progress);
  assert.equal(typeof lines[0].message, 'string');
  assert.deepEqual(lines[3], { status: 'done' });
});

test('a redelivery with the same Idempotency-Key is counted as a duplicate', async () => {
  await deliver('k3');
  await deliver('k3');
  const t = await tally();
  assert.equal(t.deliveries, 2);
  assert.equal(t.keys['events:k3'], 2);
});

test('designed rejects are 422 and stable for a key', async () => {
  await configure({ latency_ms: 0, mode: 'json', reject_rate: 1 });
  for (let i = 0; i < 2; i++) {
    const r = await deliver('k4');
    assert.equal(r.status, 422);
    assert.equal((await r.json()).status, 'failed');
  }
  assert.equal((await tally()).rejected['events:k4'], 2);
});

test('transient errors are 503 with Retry-After', async () => {
  await configure({ latency_ms: 0, mode: 'json', error_rate: 1, retry_after_s: 7 });
  const r = await deliver('k5');
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '7');
});

test('an agent dying mid-event cuts the ndjson reply before its final signal', async () => {
  await configure({ latency_ms: 40, mode: 'ndjson', progress_steps: 2, midstream_fail_rate: 1 });
  const response = await deliver('k6');
  assert.equal(response.status, 200);
  await assert.rejects(response.text(), 'the body breaks off');
  assert.equal((await tally()).done['events:k6'], undefined);
});

test('a garbage reply is a 200 with an HTML page', async () => {
  await configure({ latency_ms: 0, mode: 'json', garbage_rate: 1 });
  const r = await deliver('k10');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  assert.match(await r.text(), /<html>/);
});

test('a delivery that is never answered keeps the connection open', async () => {
  await configure({ latency_ms: 0, mode: 'json', timeout_rate: 1 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 300);
  await assert.rejects(fetch(AGENT, {
    method: 'POST', signal: controller.signal,
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'events:k7' },
    body: JSON.stringify({ key: 'k7', table: 'events', event: {} }),
  }), { name: 'AbortError' });
});

test('the tally records what each delivery of a key met, in order (the soak explains repeats with it)', async () => {
  await configure({ latency_ms: 0, mode: 'json', error_rate: 1, retry_after_s: 0 });
  assert.equal((await deliver('o1')).status, 503);
  await configure({ latency_ms: 0, mode: 'json', garbage_rate: 1 });
  assert.equal((await (await deliver('o1')).text()).includes('<html>'), true);
  await configure({ latency_ms: 0, mode: 'json' });
  assert.equal((await deliver('o1')).status, 200);
  await configure({ latency_ms: 0, mode: 'json', reject_rate: 1 });
  assert.equal((await deliver('o2')).status, 422);
  const t = await tally();
  assert.deepEqual(t.outcomes, { 'events:o1': ['503', 'garbage', 'done'], 'events:o2': ['rejected'] });
});

test('GET /tally?prefix= answers only the keys that start with it, in the same shape', async () => {
  await deliver('p1');
  await deliver('p2', { table: 'events_b' });
  await deliver('p1');
  const mine = await (await fetch(`${AGENT}/tally?prefix=${encodeURIComponent('events:')}`)).json();
  assert.equal(mine.deliveries, 2);
  assert.deepEqual(mine.keys, { 'events:p1': 2 });
  assert.deepEqual(mine.done, { 'events:p1': 2 });
  assert.deepEqual(mine.order, ['events:p1', 'events:p1']);
  assert.deepEqual(mine.outcomes, { 'events:p1': ['done', 'done'] });
  assert.deepEqual(mine.timeline.map(([key]) => key), Array(4).fill('events:p1'));
  assert.deepEqual(mine.delivery_times.map((t) => t.key), ['events:p1', 'events:p1']);
  assert.equal((await tally()).deliveries, 3, 'without a prefix, everything');
});

test('delivery_times: when each delivery started and ended on the agent\'s clock, so overlaps show', async () => {
  await deliver('t1');
  await deliver('t1');
  await Promise.all([deliver('t2'), deliver('t2')]);
  await configure({ latency_ms: 200, mode: 'ndjson', progress_steps: 2 });
  await (await deliver('t3')).text();
  const times = (await tally()).delivery_times;
  const of = (key) => times.filter((t) => t.key === `events:${key}`);
  const [first, second] = of('t1');
  assert.ok(first.started_ms <= first.ended_ms && first.ended_ms - first.started_ms >= 40, JSON.stringify(first));
  assert.ok(second.started_ms >= first.ended_ms, 'one after the other');
  assert.deepEqual([first.outcome, second.outcome], ['done', 'done']);
  const [a, b] = of('t2');
  assert.ok(b.started_ms < a.ended_ms && a.started_ms < b.ended_ms, `side by side: ${JSON.stringify([a, b])}`);
  const [streamed] = of('t3');
  assert.ok(streamed.ended_ms - streamed.started_ms >= 190, `ended with its last signal: ${JSON.stringify(streamed)}`);
});

test('delivery_times: a delivery the client walks away from ends then, with what it met or "disconnected"', async () => {
  const abandon = async (key) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const delivery = (async () => {
      const r = await fetch(AGENT, {
        method: 'POST', signal: controller.signal,
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `events:${key}` },
        body: JSON.stringify({ key, table: 'events', event: { id: key } }),
      });
      await r.text();
    })();
    await assert.rejects(delivery, { name: 'AbortError' });
  };
  await configure({ latency_ms: 5000, mode: 'json' });
  await abandon('w1');
  await configure({ latency_ms: 5000, mode: 'ndjson', progress_steps: 1 });
  await abandon('w2');
  await configure({ latency_ms: 0, mode: 'json', timeout_rate: 1 });
  await abandon('w3');
  await new Promise((ok) => setTimeout(ok, 300));
  const times = (await tally()).delivery_times;
  for (const [key, outcome] of [['w1', 'disconnected'], ['w2', 'disconnected'], ['w3', 'timeout']]) {
    const [time] = times.filter((t) => t.key === `events:${key}`);
    assert.equal(time.outcome, outcome, key);
    const lasted = time.ended_ms - time.started_ms;
    assert.ok(lasted >= 250 && lasted < 2000, `${key} lasted ${lasted} ms`);
  }
});

test('requests that break the contract are refused with a reason', async () => {
  const missingKey = await fetch(AGENT, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.equal(missingKey.status, 400);
  assert.match((await missingKey.json()).reason, /Idempotency-Key/);
  const garbage = await deliver('k8', { body: 'not json' });
  assert.equal(garbage.status, 400);
  const mismatch = await deliver('k9', { headers: { 'Idempotency-Key': 'events:other' } });
  assert.equal(mismatch.status, 400);
  assert.equal((await tally()).deliveries, 0, 'refused requests are not deliveries');
});

test('CORS: a browser may send the webhook from any origin', async () => {
  const r = await fetch(AGENT, {
    method: 'OPTIONS',
    headers: { Origin: 'http://127.0.0.1:8080', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,idempotency-key,authorization' },
  });
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.match(r.headers.get('access-control-allow-headers') ?? '', /idempotency-key/i);
});

test('a percent-encoded Idempotency-Key is decoded before it is checked and tallied (docs/agent-protocol.md)', async () => {
  const key = '😀 café';
  const r = await deliver(key, { headers: { 'Idempotency-Key': `events:${encodeURIComponent(key)}` } });
  assert.equal(r.status, 200);
  assert.deepEqual((await tally()).done, { [`events:${key}`]: 1 });
});

test('each class of answer can be configured: a token, a fixed status, a connection held open after done', async () => {
  await configure({ latency_ms: 0, mode: 'json', token: 't0k3n' });
  assert.equal((await deliver('a')).status, 401);
  assert.equal((await deliver('b', { headers: { Authorization: 'Bearer t0k3n' } })).status, 200);
  await configure({ latency_ms: 0, mode: 'json', answer_status: 307 });
  const redirect = await fetch(AGENT, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'events:c' },
    body: JSON.stringify({ key: 'c', table: 'events', event: { id: 'c' } }),
  });
  assert.equal(redirect.status, 307);
  assert.equal(redirect.headers.get('location'), '/elsewhere');
  await configure({ latency_ms: 0, mode: 'json', hold_open_after_done: true });
  const held = await deliver('d');
  const reader = held.body.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.deepEqual(JSON.parse(first), { status: 'done' }, 'pretty-printed done first');
  const next = await Promise.race([reader.read().then(() => 'more'), new Promise((ok) => setTimeout(() => ok('still open'), 500))]);
  assert.equal(next, 'still open');
  await reader.cancel();
});

test('the controls answer only this machine: no web page (Origin) and no foreign Host', async () => {
  const refused = await fetch(`${AGENT}/config`, { headers: { Origin: 'https://evil.example' } });
  assert.equal(refused.status, 403);
  assert.equal(refused.headers.get('access-control-allow-origin'), null, 'no CORS on the controls');
  const { request } = await import('node:http');
  const status = await new Promise((ok, fail) => {
    const url = new URL(`${AGENT}/tally`);
    request({ host: url.hostname, port: url.port, path: url.pathname, headers: { Host: `rebound.example:${url.port}` } }, (r) => { r.resume(); ok(r.statusCode); })
      .on('error', fail).end();
  });
  assert.equal(status, 403);
  assert.equal((await fetch(`${AGENT}/tally`)).status, 200, 'this machine, by address');
});
