// Contract tests for the gateway's limits: statement timeouts per role, the
// bounded wait for a pooled connection, the request body limit, and names
// that cannot be a function. Run with the back end up (scripts/backend.sh).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { REST, ANON, SECRET_KEY, anonHeaders, serviceHeaders, signJwt, startGateway, uniqueSource } from './stack.mjs';

const userHeaders = {
  apikey: ANON,
  Authorization: `Bearer ${signJwt({ role: 'authenticated', aud: 'authenticated', exp: 4102444800 })}`,
};

/** Calls the test fixture `public.sluice_sleep(seconds)`; answers { status, body, took } (ms). */
async function sleepFor(seconds, headers, { base = REST, method = 'POST' } = {}) {
  const started = Date.now();
  const r = method === 'POST'
    ? await fetch(`${base}/rpc/sluice_sleep`, { method, headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify({ seconds }) })
    : await fetch(`${base}/rpc/sluice_sleep?seconds=${seconds}`, { headers });
  return { status: r.status, body: await r.json(), took: Date.now() - started };
}

const CANCELLED = { code: '57014', details: null, hint: null, message: 'canceling statement due to statement timeout' };

describe('statement timeouts per role (Supabase docs: "Timeouts"; PostgREST "Errors": 57* is 500)', () => {
  test('anon is cut at 3 s; authenticated and service_role run past 3 s and are cut at 8 s', async () => {
    const [anon, anonGet, user, userLong, service] = await Promise.all([
      sleepFor(4, anonHeaders),
      sleepFor(4, anonHeaders, { method: 'GET' }),
      sleepFor(4, userHeaders),
      sleepFor(9, userHeaders),
      sleepFor(9, serviceHeaders),
    ]);
    for (const [what, cut, seconds] of [['anon', anon, 3], ['anon GET', anonGet, 3], ['authenticated', userLong, 8], ['service_role', service, 8]]) {
      assert.equal(cut.status, 500, what);
      assert.deepEqual(cut.body, CANCELLED, what);
      assert.ok(cut.took >= seconds * 1000 - 100 && cut.took < seconds * 1000 + 900, `${what}: cut after ${cut.took} ms`);
    }
    assert.equal(user.status, 200, JSON.stringify(user.body));
    assert.equal(user.body, 4);
  });
});

describe('a bounded wait for a pooled connection (PostgREST "Errors": PGRST003 is 504)', () => {
  test('with every connection held, a request is answered 504 once the wait is over, and served again when one is free', async () => {
    const gateway = await startGateway(['--pool-size', '1', '--pool-timeout-ms', '300']);
    try {
      const rest = `${gateway.url}/rest/v1`;
      const held = sleepFor(2, anonHeaders, { base: rest });
      await new Promise((ok) => setTimeout(ok, 500));
      const started = Date.now();
      const r = await fetch(`${rest}/events?limit=1`, { headers: anonHeaders });
      const took = Date.now() - started;
      assert.equal(r.status, 504);
      assert.deepEqual(await r.json(), {
        code: 'PGRST003', details: null, hint: null, message: 'Timed out acquiring connection from connection pool.',
      });
      assert.ok(took >= 250 && took < 1500, `answered after ${took} ms`);
      assert.equal((await held).status, 200);
      assert.equal((await fetch(`${rest}/events?limit=1`, { headers: anonHeaders })).status, 200);
    } finally {
      await gateway.stop();
    }
  });
});

const MB = 1024 * 1024;

/**
 * POSTs `total` bytes of spaces to `url`: the headers first, then, unless
 * the answer comes within half a second, the body, no faster than the
 * server reads it, stopping once the answer arrives. `announce` sends a
 * Content-Length (otherwise the body is chunked). Answers { status, body,
 * sent } or { error, sent }: `sent` counts the bytes handed to the socket, so it stays far
 * below `total` when the server answers without reading the body. (Sending
 * nothing before an early answer also spares the answer from the reset a
 * server's close sends when it leaves unread bytes behind.)
 */
function post(url, { headers, total, announce = true }) {
  return new Promise((resolve) => {
    const target = new URL(url);
    let sent = 0;
    let answered = false;
    const outgoing = request({
      host: target.hostname, port: target.port, path: target.pathname, method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers, ...(announce ? { 'Content-Length': total } : {}) },
    });
    outgoing.on('response', (incoming) => {
      answered = true;
      let body = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk) => { body += chunk; });
      incoming.on('end', () => {
        resolve({ status: incoming.statusCode, body, sent });
        outgoing.destroy();
      });
    });
    // A server that stops reading mid-body may reset the connection before
    // its answer is read: that is told as `error`.
    outgoing.on('error', (error) => { if (!answered) resolve({ error: error.code, sent }); });
    const chunk = Buffer.alloc(MB, ' ');
    const pump = () => {
      while (!answered && sent < total) {
        const piece = chunk.subarray(0, Math.min(MB, total - sent));
        sent += piece.length;
        if (!outgoing.write(piece)) {
          outgoing.once('drain', pump);
          return;
        }
      }
      if (!answered) outgoing.end();
    };
    outgoing.flushHeaders();
    setTimeout(pump, 500);
  });
}

describe('request bodies (up to 64 MB, enforced while reading; the key checked first)', () => {
  test('a wrong key is refused 401 without the 60 MB body being read', async () => {
    const r = await post(`${REST}/temp_events`, { headers: { apikey: 'not-a-key' }, total: 60 * MB });
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).message, 'Invalid API key');
    assert.equal(r.sent, 0, `${r.sent / MB} MB sent before the answer`);
  });

  test('a Content-Length over 64 MB is refused 413 before the body is read', async () => {
    const r = await post(`${REST}/temp_events`, { headers: { apikey: SECRET_KEY }, total: 100 * MB });
    assert.equal(r.status, 413);
    assert.deepEqual(JSON.parse(r.body), { message: 'Request size limit exceeded' });
    assert.equal(r.sent, 0, `${r.sent / MB} MB sent before the answer`);
  });

  test('a chunked body is refused 413 once it passes 64 MB, not after all of it', async () => {
    const r = await post(`${REST}/rpc/add_numbers`, { headers: { apikey: SECRET_KEY }, total: 120 * MB, announce: false });
    assert.ok(r.status === 413 || ['EPIPE', 'ECONNRESET'].includes(r.error), JSON.stringify(r));
    assert.ok(r.sent < 100 * MB, `${r.sent / MB} MB sent before the answer`);
  });

  test('a 3 MB row (over axum\'s 2 MB default) is accepted', async () => {
    const source = uniqueSource('large');
    const r = await fetch(`${REST}/temp_events`, {
      method: 'POST',
      headers: { apikey: SECRET_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'large', source, payload: { blob: 'x'.repeat(3 * MB) } }),
    });
    assert.equal(r.status, 201, await r.text());
  });
});

describe('names that cannot be a function (PostgREST "Errors": PGRST202)', () => {
  test('a NUL byte in the name is an unknown function: 404, not a database error', async () => {
    const post = await fetch(`${REST}/rpc/a%00b`, { method: 'POST', headers: { ...anonHeaders, 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(post.status, 404);
    const body = await post.json();
    assert.equal(body.code, 'PGRST202');
    assert.equal(body.message, 'Could not find the function public.a\u0000b without parameters in the schema cache');
    const get = await fetch(`${REST}/rpc/a%00b?x=1`, { headers: anonHeaders });
    assert.equal(get.status, 404);
    assert.equal((await get.json()).code, 'PGRST202');
  });
});
