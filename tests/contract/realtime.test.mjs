// Contract tests for the local Supabase Realtime (Postgres Changes): a real
// WebSocket speaking the Phoenix channels protocol in both serialisations
// Realtime serves, against the stack's gateway and its PostgreSQL. Each test
// names what Supabase Realtime does (its docs, "Postgres Changes",
// "Realtime Protocol", "Realtime Authorization"; supabase/realtime's
// `realtime_channel.ex`). Rows are inserted with psql as the database's
// owner, as a change made outside the API. Run with the back end up
// (scripts/backend.sh) and Node's WebSocket:
//   NODE_OPTIONS=--experimental-websocket node --test tests/contract/realtime.test.mjs
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import {
  GATEWAY, ANON, PUBLISHABLE, OPERATOR, signJwt, signIn, freshUser, startGateway,
} from './stack.mjs';
import { freshTable, sql, sleep, eventually } from '../e2e/backend.mjs';

const V1 = '1.0.0';
const V2 = '2.0.0';
const COMMIT_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
/** A refused join's reason: Realtime's code, then its message. */
const EXPIRED = /^InvalidJWTToken: Token has expired (\d+) seconds ago$/;
/** The `system` message that ends a channel over its token: Realtime's
 * `shutdown_response` sends the bare message, without the code. */
const EXPIRED_SHUTDOWN = /^Token has expired (\d+) seconds ago$/;
const UNABLE = 'Unable to subscribe to changes with given parameters';

// ---------------------------------------------------------------------------
// A tiny Phoenix channels client, for both serialisations.

let refs = 0;
const nextRef = () => String(++refs);
const open = new Set();

/** `ws://…/realtime/v1/websocket?apikey=…&vsn=…` on `base`. */
function socketUrl({ vsn = V1, apikey = ANON, base = GATEWAY } = {}) {
  const query = new URLSearchParams({ ...(apikey === null ? {} : { apikey }), vsn });
  return `${base.replace(/^http/, 'ws')}/realtime/v1/websocket?${query}`;
}

class Phoenix {
  /** Opens a socket; rejects if the handshake is refused. */
  static connect(options = {}) {
    const ws = new WebSocket(socketUrl(options));
    const socket = new Phoenix(ws, options.vsn ?? V1);
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('the socket did not open in 5 s')), 5000);
      ws.addEventListener('open', () => {
        clearTimeout(timer);
        open.add(socket);
        ok(socket);
      }, { once: true });
      ws.addEventListener('error', () => {
        clearTimeout(timer);
        fail(new Error(`the socket was refused: ${socketUrl(options)}`));
      }, { once: true });
    });
  }

  constructor(ws, vsn) {
    this.ws = ws;
    this.vsn = vsn;
    /** Every frame as sent (`raw`) and decoded to `{join_ref, ref, topic, event, payload}`. */
    this.raw = [];
    this.frames = [];
    this.waiters = new Set();
    this.closedWith = null;
    this.closed = new Promise((ok) => ws.addEventListener('close', (e) => {
      open.delete(this);
      this.closedWith = { code: e.code, reason: e.reason };
      for (const waiter of this.waiters) waiter.lost(this.closedWith);
      ok(this.closedWith);
    }));
    ws.addEventListener('message', (event) => {
      const raw = JSON.parse(event.data);
      this.raw.push(raw);
      const frame = vsn === V2
        ? { join_ref: raw[0], ref: raw[1], topic: raw[2], event: raw[3], payload: raw[4] }
        : { join_ref: raw.join_ref ?? null, ref: raw.ref, topic: raw.topic, event: raw.event, payload: raw.payload };
      this.frames.push(frame);
      for (const waiter of this.waiters) {
        if (waiter.matches(frame)) waiter.found(frame);
      }
    });
  }

  send({ join_ref = null, ref = null, topic, event, payload = {} }) {
    this.ws.send(this.vsn === V2
      ? JSON.stringify([join_ref, ref, topic, event, payload])
      : JSON.stringify({ topic, event, payload, ref, join_ref }));
  }

  /** The frames received so far that match. */
  matching(matches) {
    return this.frames.filter(matches);
  }

  /** The first frame (received or to come) that matches, within `ms`. */
  waitFor(matches, what, ms = 8000) {
    const seen = this.frames.find(matches);
    if (seen) return Promise.resolve(seen);
    const lost = (closed) => new Error(`the socket closed (${closed.code}) before ${what}; last frames: ${JSON.stringify(this.frames.slice(-5))}`);
    if (this.closedWith) return Promise.reject(lost(this.closedWith));
    return new Promise((ok, fail) => {
      const waiter = {
        matches,
        found: (frame) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          ok(frame);
        },
        lost: (closed) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          fail(lost(closed));
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        fail(new Error(`timed out waiting for ${what}; last frames: ${JSON.stringify(this.frames.slice(-5))}`));
      }, ms);
      this.waiters.add(waiter);
    });
  }

  /** Sends `phx_join` on `realtime:{name}`; answers its refs (the reply is not awaited). */
  pushJoin(name, { bindings, token, joinRef = nextRef(), ref = joinRef, private: isPrivate } = {}) {
    const topic = `realtime:${name}`;
    const payload = { config: { broadcast: { self: false }, presence: { key: '' }, postgres_changes: bindings ?? [] } };
    if (isPrivate !== undefined) payload.config.private = isPrivate;
    if (token !== undefined) payload.access_token = token;
    this.send({ join_ref: joinRef, ref, topic, event: 'phx_join', payload });
    return { topic, joinRef, ref };
  }

  /** The reply to the frame whose ref is `ref` on `topic`. */
  reply(topic, ref, ms) {
    return this.waitFor((f) => f.event === 'phx_reply' && f.topic === topic && f.ref === ref, `the reply to ${ref} on ${topic}`, ms);
  }

  system(topic) {
    return this.waitFor((f) => f.event === 'system' && f.topic === topic, `a system message on ${topic}`);
  }

  /** Joins `name` listening for INSERTs on `schema.table` and waits for
   * "Subscribed to PostgreSQL"; answers `{topic, joinRef, id}`. */
  async subscribe(name, table, token, { schema = 'public', private: isPrivate } = {}) {
    const joined = this.pushJoin(name, { bindings: [{ event: 'INSERT', schema, table }], token, private: isPrivate });
    const reply = await this.reply(joined.topic, joined.ref);
    assert.equal(reply.payload.status, 'ok', JSON.stringify(reply.payload));
    const system = await this.system(joined.topic);
    assert.equal(system.payload.status, 'ok', JSON.stringify(system.payload));
    return { ...joined, id: reply.payload.response.postgres_changes[0].id };
  }

  /** The postgres_changes on `topic` whose record has `id`. */
  change(topic, id, ms) {
    return this.waitFor((f) => isChange(f, topic, id), `the change of row ${id} on ${topic}`, ms);
  }

  /** How the socket closed (`{code, reason}`), within `ms`. */
  closedWithin(ms = 8000) {
    return Promise.race([this.closed, sleep(ms).then(() => {
      throw new Error(`the socket was not closed in ${ms} ms`);
    })]);
  }

  close() {
    if (this.ws.readyState <= 1) this.ws.close();
    return this.closed;
  }
}

function isChange(frame, topic, id) {
  return frame.event === 'postgres_changes' && frame.topic === topic && frame.payload?.data?.record?.id === id;
}

afterEach(() => Promise.all([...open].map((socket) => socket.close())));

/** A WebSocket handshake by hand, to see the HTTP status of a refusal
 * (the WebSocket API hides it): `{status, body}`, 101 when upgraded. */
function handshake(query, base = GATEWAY) {
  return new Promise((ok, fail) => {
    const req = request(`${base}/realtime/v1/websocket?${query}`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      ok({ status: res.statusCode, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => ok({ status: res.statusCode, body }));
    });
    req.on('error', fail);
    req.setTimeout(5000, () => req.destroy(new Error('handshake timed out')));
    req.end();
  });
}

const admin = (path = '', init = {}, base = GATEWAY) => fetch(`${base}/_admin/realtime${path}`, {
  ...init,
  headers: { 'Content-Type': 'application/json', ...init.headers },
});
const counters = async () => (await admin()).json();

// ---------------------------------------------------------------------------
// Tables and tokens.

const now = () => Math.floor(Date.now() / 1000);
const operatorClaims = (exp) => ({
  sub: '6f1c3a8e-2b4d-4e5f-9a7b-0c1d2e3f4a5b', role: 'authenticated', aud: 'authenticated', exp,
  app_metadata: { sluice_operator: true },
});

let operatorToken;
let plainToken;
/** A published table operators read (RLS), one outside the publication,
 * and a published one nobody but its owner may read (no grant). */
let live;
let unpublished;
let ungranted;

/** Inserts a row into `public.{table}` as the database's owner; answers its id. */
async function insertRow(table, type = 'realtime.test') {
  return Number((await sql(`INSERT INTO public.${table} (type, source, payload) VALUES ('${type}', 'contract-realtime', '{"n": 1}') RETURNING id`)).trim());
}

before(async () => {
  const operator = await signIn(OPERATOR.email, OPERATOR.password);
  assert.equal(operator.status, 200);
  operatorToken = operator.body.access_token;
  const plain = await freshUser('realtime-plain');
  const signedIn = await signIn(plain.email, plain.password);
  assert.equal(signedIn.status, 200);
  plainToken = signedIn.body.access_token;
  live = await freshTable('rt_live');
  unpublished = await freshTable('rt_off');
  ungranted = `rt_nogrant_${process.pid}_${Date.now() % 1e8}`;
  await sql(`ALTER PUBLICATION supabase_realtime ADD TABLE public.${live};
    CREATE TABLE public.${ungranted} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, type text, source text, payload jsonb);
    REVOKE ALL ON public.${ungranted} FROM anon, authenticated;
    ALTER PUBLICATION supabase_realtime ADD TABLE public.${ungranted};`);
});

after(() => sql(`DROP TABLE IF EXISTS public.${live}, public.${unpublished}, public.${ungranted}`));

// ---------------------------------------------------------------------------

describe('joining (Realtime Protocol: phx_join, phx_reply, system)', () => {
  /** Realtime answers a join with `phx_reply` ok echoing each
   * postgres_changes binding with its id, then pushes a `system` message
   * "Subscribed to PostgreSQL"; Phoenix's 1.0.0 serializer sends objects
   * `{topic, event, payload, ref}` without join_ref. */
  test('vsn 1.0.0: reply ok with the binding and its id, then "Subscribed to PostgreSQL"; no join_ref in frames', async () => {
    const socket = await Phoenix.connect({ vsn: V1 });
    const binding = { event: 'INSERT', schema: 'public', table: 'events' };
    const name = `contract-v1-${process.pid}`;
    const joined = socket.pushJoin(name, { bindings: [binding], token: operatorToken });
    const reply = await socket.reply(joined.topic, joined.ref);
    assert.equal(reply.payload.status, 'ok');
    const [echoed, ...more] = reply.payload.response.postgres_changes;
    assert.deepEqual(more, []);
    const { id, ...rest } = echoed;
    assert.deepEqual(rest, binding);
    assert.ok(Number.isInteger(id), `id ${id} is an integer`);
    const system = await socket.system(joined.topic);
    assert.deepEqual(system.payload, {
      extension: 'postgres_changes', status: 'ok', message: 'Subscribed to PostgreSQL', channel: name,
    });
    assert.equal(system.ref, null);
    for (const raw of socket.raw) {
      assert.ok(!Array.isArray(raw) && typeof raw === 'object', `an object: ${JSON.stringify(raw)}`);
      assert.deepEqual(Object.keys(raw).sort(), ['event', 'payload', 'ref', 'topic'], JSON.stringify(raw));
    }
  });

  /** Phoenix's 2.0.0 serializer (supabase-js's default) sends arrays
   * `[join_ref, ref, topic, event, payload]`; the reply echoes both refs.
   * Equal bindings get equal ids (Realtime hashes their parameters). */
  test('vsn 2.0.0: the same as arrays, with join_ref and ref echoed', async () => {
    const binding = { event: 'INSERT', schema: 'public', table: 'events' };
    const v1 = await Phoenix.connect({ vsn: V1 });
    const v1Joined = v1.pushJoin(`contract-ids-${process.pid}`, { bindings: [binding], token: operatorToken });
    const v1Id = (await v1.reply(v1Joined.topic, v1Joined.ref)).payload.response.postgres_changes[0].id;

    const socket = await Phoenix.connect({ vsn: V2 });
    const name = `contract-v2-${process.pid}`;
    const joined = socket.pushJoin(name, { bindings: [binding], token: operatorToken, joinRef: nextRef(), ref: nextRef() });
    assert.notEqual(joined.joinRef, joined.ref);
    const reply = await socket.reply(joined.topic, joined.ref);
    assert.equal(reply.join_ref, joined.joinRef, 'join_ref echoed in position 0');
    assert.deepEqual(reply.payload, { status: 'ok', response: { postgres_changes: [{ ...binding, id: v1Id }] } });
    const system = await socket.system(joined.topic);
    assert.deepEqual(system.payload, {
      extension: 'postgres_changes', status: 'ok', message: 'Subscribed to PostgreSQL', channel: name,
    });
    assert.equal(system.ref, null);
    for (const raw of socket.raw) {
      assert.ok(Array.isArray(raw) && raw.length === 5, `a five-element array: ${JSON.stringify(raw)}`);
    }
  });
});

describe('changes (Postgres Changes: "Listening to inserts"; Realtime Authorization)', () => {
  /** An INSERT committed on a published table, however it was made, reaches
   * each subscriber once as `postgres_changes` with the ids of the bindings
   * it matches and `data {schema, table, commit_timestamp, type, columns,
   * record, errors}`. */
  test('a row inserted with psql arrives once, as postgres_changes with the whole record', async () => {
    const socket = await Phoenix.connect({ vsn: V1 });
    const { topic, id: bindingId } = await socket.subscribe(`contract-change-${process.pid}`, live, operatorToken);
    const sentBefore = (await counters()).changes_sent;
    const id = await insertRow(live);
    const change = await socket.change(topic, id);
    assert.equal(change.ref, null);
    assert.deepEqual(change.payload.ids, [bindingId]);
    const { data } = change.payload;
    assert.deepEqual(Object.keys(data).sort(), ['columns', 'commit_timestamp', 'errors', 'record', 'schema', 'table', 'type']);
    assert.equal(data.schema, 'public');
    assert.equal(data.table, live);
    assert.equal(data.type, 'INSERT');
    assert.equal(data.errors, null);
    assert.match(data.commit_timestamp, COMMIT_TIMESTAMP);
    assert.ok(Math.abs(Date.parse(data.commit_timestamp) - Date.now()) < 60_000, `commit_timestamp ${data.commit_timestamp} is now`);
    assert.deepEqual(data.columns, [
      { name: 'id', type: 'int8' },
      { name: 'created_at', type: 'timestamptz' },
      { name: 'type', type: 'text' },
      { name: 'source', type: 'text' },
      { name: 'payload', type: 'jsonb' },
      { name: 'metadata', type: 'jsonb' },
    ]);
    const stored = JSON.parse(await sql(`SELECT to_jsonb(t) FROM public.${live} t WHERE id = ${id}`));
    assert.deepEqual(data.record, stored);
    assert.equal(data.record.source, 'contract-realtime');
    await sleep(500);
    assert.equal(socket.matching((f) => isChange(f, topic, id)).length, 1, 'sent once');
    assert.ok((await counters()).changes_sent >= sentBefore + 1, 'counted in changes_sent');
  });

  /** Realtime checks each change against each subscriber's row-level
   * security ("Postgres Changes": "Private schemas and RLS"): a signed-in
   * user the policies do not let read the row, or the anon key, gets
   * nothing, while the operator's socket gets the row. */
  test('per-subscriber RLS: a signed-in non-operator and the anon key get nothing; the operator gets the row', async () => {
    const operator = await Phoenix.connect({ vsn: V2 });
    const plain = await Phoenix.connect({ vsn: V2 });
    const anon = await Phoenix.connect({ vsn: V1 });
    const name = `contract-rls-${process.pid}`;
    const watched = await operator.subscribe(name, live, operatorToken);
    const plainJoined = await plain.subscribe(name, live, plainToken);
    const anonJoined = await anon.subscribe(name, live);
    const checksBefore = (await counters()).checks;
    const id = await insertRow(live);
    const change = await operator.change(watched.topic, id);
    assert.equal(change.payload.data.record.id, id);
    // Wait until the stack has read the row as all three subscribers.
    await eventually(async () => (await counters()).checks >= checksBefore + 3, 5000, 'three checks');
    await sleep(500);
    assert.deepEqual(plain.matching((f) => f.event === 'postgres_changes' && f.topic === plainJoined.topic), [],
      'the non-operator gets no change');
    assert.deepEqual(anon.matching((f) => f.event === 'postgres_changes' && f.topic === anonJoined.topic), [],
      'the anon key gets no change');
  });

  /** A subscriber whose role has no SELECT privilege on the table is sent
   * the change without its record and `errors: ["Error 401: Unauthorized"]`
   * (Realtime's `realtime.apply_rls`). */
  test('a table the subscriber may not SELECT: record {} and errors ["Error 401: Unauthorized"]', async () => {
    const socket = await Phoenix.connect({ vsn: V1 });
    const { topic, id: bindingId } = await socket.subscribe(`contract-nogrant-${process.pid}`, ungranted, operatorToken);
    await sql(`INSERT INTO public.${ungranted} (type) VALUES ('x')`);
    const change = await socket.waitFor((f) => f.event === 'postgres_changes' && f.topic === topic, 'the refused change');
    assert.deepEqual(change.payload.ids, [bindingId]);
    assert.equal(change.payload.data.table, ungranted);
    assert.equal(change.payload.data.type, 'INSERT');
    assert.deepEqual(change.payload.data.record, {});
    assert.deepEqual(change.payload.data.errors, ['Error 401: Unauthorized']);
  });
});

describe('heartbeat and leaving (Realtime Protocol)', () => {
  /** The client sends `heartbeat` on the `phoenix` topic; the server
   * replies ok with an empty response and the same ref. */
  test('a heartbeat is answered with phx_reply ok {} and the same ref, in both versions', async () => {
    for (const vsn of [V1, V2]) {
      const socket = await Phoenix.connect({ vsn });
      const ref = `hb-${nextRef()}`;
      socket.send({ ref, topic: 'phoenix', event: 'heartbeat' });
      const reply = await socket.reply('phoenix', ref);
      assert.deepEqual(reply.payload, { status: 'ok', response: {} }, vsn);
      assert.equal(reply.ref, ref, vsn);
    }
  });

  /** `phx_leave` is answered ok, then the channel ends with `phx_close`
   * whose ref is the join's ref; the topic gets nothing after it. */
  test('phx_leave: reply ok, then phx_close with the join_ref, and no more changes on that topic', async () => {
    const socket = await Phoenix.connect({ vsn: V2 });
    const left = await socket.subscribe(`contract-leave-${process.pid}`, live, operatorToken);
    const kept = await socket.subscribe(`contract-kept-${process.pid}`, live, operatorToken);
    const leaveRef = nextRef();
    socket.send({ join_ref: left.joinRef, ref: leaveRef, topic: left.topic, event: 'phx_leave' });
    const reply = await socket.reply(left.topic, leaveRef);
    assert.equal(reply.payload.status, 'ok');
    const close = await socket.waitFor((f) => f.event === 'phx_close' && f.topic === left.topic, 'phx_close');
    assert.equal(close.ref, left.joinRef, 'ref is the join_ref');
    assert.equal(close.join_ref, left.joinRef);
    assert.deepEqual(close.payload, {});
    const id = await insertRow(live);
    await socket.change(kept.topic, id);
    await sleep(500);
    assert.deepEqual(socket.matching((f) => f.event === 'postgres_changes' && f.topic === left.topic), [],
      'nothing for the topic left');
  });

  /** Frames are taken in the order sent: a leave sent right behind its
   * join, before any reply, leaves no channel behind that still gets rows. */
  test('a leave sent right behind its join leaves no channel behind', async () => {
    const socket = await Phoenix.connect({ vsn: V2 });
    const hasty = socket.pushJoin(`contract-hasty-${process.pid}`, { bindings: [{ event: 'INSERT', schema: 'public', table: live }], token: operatorToken });
    socket.send({ join_ref: hasty.joinRef, ref: nextRef(), topic: hasty.topic, event: 'phx_leave' });
    await socket.waitFor((f) => f.event === 'phx_close' && f.topic === hasty.topic, 'phx_close');
    const kept = await socket.subscribe(`contract-after-hasty-${process.pid}`, live, operatorToken);
    const id = await insertRow(live);
    await socket.change(kept.topic, id);
    await sleep(500);
    assert.deepEqual(socket.matching((f) => f.event === 'postgres_changes' && f.topic === hasty.topic), [],
      'nothing for the topic left');
  });
});

describe('refusals (Realtime: "Error codes"; Realtime Authorization)', () => {
  /** Realtime refuses a join whose token it cannot accept, after its
   * 5 s back-off, with `phx_reply` error and a reason naming the cause. */
  test('a join with an expired, a foreign or a malformed token: phx_reply error with Realtime\'s reason', async () => {
    const socket = await Phoenix.connect({ vsn: V1 });
    const binding = [{ event: 'INSERT', schema: 'public', table: live }];
    const expiredAt = now() - 30;
    const attempts = [
      ['expired', signJwt(operatorClaims(expiredAt))],
      ['foreign', signJwt(operatorClaims(now() + 3600), 'another-secret-of-at-least-thirty-two-characters')],
      ['malformed', 'not-a-jwt'],
    ].map(([label, token]) => socket.pushJoin(`contract-refused-${label}-${process.pid}`, { bindings: binding, token }));
    // Concurrently, so that the three share one back-off.
    const replies = await Promise.all(attempts.map((a) => socket.reply(a.topic, a.ref, 15_000)));
    for (const reply of replies) {
      assert.equal(reply.payload.status, 'error', JSON.stringify(reply.payload));
    }
    const [expired, foreign, malformed] = replies.map((r) => r.payload.response.reason);
    const seconds = Number(expired.match(EXPIRED)?.[1]);
    assert.ok(seconds >= 30 && seconds < 60, `expired: ${expired}`);
    assert.equal(foreign, 'JwtSignatureError: Failed to validate JWT signature');
    assert.equal(malformed, 'MalformedJWT: The token provided is not a valid JWT');
    assert.deepEqual(socket.matching((f) => f.event === 'system'), [], 'no subscription was made');
  });

  /** A join for a table the `supabase_realtime` publication does not hold
   * (or that does not exist) succeeds, then a `system` error says the
   * changes cannot be subscribed to. */
  test('an unknown table and a table outside the publication: join ok, then system error "Unable to subscribe…"', async () => {
    const socket = await Phoenix.connect({ vsn: V2 });
    for (const table of [`no_such_table_${process.pid}`, unpublished]) {
      const name = `contract-unpublished-${table}`;
      const joined = socket.pushJoin(name, { bindings: [{ event: 'INSERT', schema: 'public', table }], token: operatorToken });
      const reply = await socket.reply(joined.topic, joined.ref);
      assert.equal(reply.payload.status, 'ok', table);
      const system = await socket.system(joined.topic);
      assert.equal(system.payload.extension, 'postgres_changes');
      assert.equal(system.payload.status, 'error');
      assert.equal(system.payload.channel, name);
      assert.ok(system.payload.message.startsWith(UNABLE), system.payload.message);
      assert.ok(system.payload.message.includes(`table: ${table}`), system.payload.message);
    }
  });

  /** A valid `access_token` message is taken without a reply; an expired
   * one ends the channel: a `system` error (extension "system") naming the
   * expiry, then `phx_close`. */
  test('access_token: a valid one gets no reply; an expired one closes the channel with a system error', async () => {
    const socket = await Phoenix.connect({ vsn: V1 });
    const name = `contract-renew-${process.pid}`;
    const joined = await socket.subscribe(name, live, operatorToken);
    const goodRef = nextRef();
    socket.send({ join_ref: joined.joinRef, ref: goodRef, topic: joined.topic, event: 'access_token', payload: { access_token: operatorToken } });
    await sleep(500);
    assert.deepEqual(socket.matching((f) => f.ref === goodRef), [], 'no reply to a valid token');
    assert.deepEqual(socket.matching((f) => f.event === 'phx_close'), []);
    socket.send({
      join_ref: joined.joinRef, ref: nextRef(), topic: joined.topic, event: 'access_token',
      payload: { access_token: signJwt(operatorClaims(now() - 10)) },
    });
    const system = await socket.waitFor((f) => f.event === 'system' && f.topic === joined.topic && f.payload.status === 'error', 'the system error');
    assert.equal(system.payload.extension, 'system');
    assert.equal(system.payload.channel, name);
    const seconds = Number(system.payload.message.match(EXPIRED_SHUTDOWN)?.[1]);
    assert.ok(seconds >= 10 && seconds < 40, system.payload.message);
    const close = await socket.waitFor((f) => f.event === 'phx_close' && f.topic === joined.topic, 'phx_close');
    assert.ok(socket.frames.indexOf(close) > socket.frames.indexOf(system), 'phx_close comes after the system error');
    const id = await insertRow(live);
    await sleep(700);
    assert.deepEqual(socket.matching((f) => isChange(f, joined.topic, id)), [], 'the closed channel gets nothing');
  });

  /** Realtime watches a channel's token and closes the channel once it has
   * expired, as for an expired `access_token`. */
  test('a channel whose token expires is closed: system error, then phx_close', async () => {
    const socket = await Phoenix.connect({ vsn: V2 });
    const name = `contract-expiring-${process.pid}`;
    const joined = await socket.subscribe(name, live, signJwt(operatorClaims(now() + 2)));
    const system = await socket.waitFor((f) => f.event === 'system' && f.topic === joined.topic && f.payload.status === 'error', 'the expiry', 8000);
    assert.equal(system.payload.extension, 'system');
    assert.match(system.payload.message, EXPIRED_SHUTDOWN);
    const close = await socket.waitFor((f) => f.event === 'phx_close' && f.topic === joined.topic, 'phx_close');
    assert.equal(close.join_ref, joined.joinRef);
    assert.equal(close.ref, joined.joinRef, 'Phoenix closes a channel with its join ref');
  });

  /** The handshake itself is refused over HTTP: an unknown protocol
   * version with 403, a missing or wrong apikey with 401 (Kong); a good
   * one is upgraded (101). */
  test('the handshake: vsn 3.0.0 is 403, a missing or wrong apikey 401, a good one 101', async () => {
    assert.equal((await handshake(`apikey=${ANON}&vsn=3.0.0`)).status, 403);
    assert.equal((await handshake('apikey=not-a-key&vsn=1.0.0')).status, 401);
    assert.equal((await handshake('vsn=1.0.0')).status, 401);
    assert.equal((await handshake(`apikey=${ANON}&vsn=2.0.0`)).status, 101);
    assert.equal((await handshake(`apikey=${PUBLISHABLE}&vsn=1.0.0`)).status, 101, 'a publishable key is an apikey too');
    await assert.rejects(Phoenix.connect({ vsn: '3.0.0' }), /refused/, 'the WebSocket API sees an error');
  });

  /** A project with Realtime disabled refuses the socket (403), so that
   * clients fall back; turning it off closes the sockets open (1001). */
  test('a gateway with --realtime off refuses the socket with 403; turned on and off again, it closes its sockets', async () => {
    const gateway = await startGateway(['--realtime', 'off']);
    try {
      assert.equal((await handshake(`apikey=${ANON}&vsn=1.0.0`, gateway.url)).status, 403);
      assert.equal((await (await admin('', {}, gateway.url)).json()).enabled, false);
      assert.equal((await admin('', { method: 'PUT', body: JSON.stringify({ enabled: true }) }, gateway.url)).status, 200);
      const socket = await Phoenix.connect({ vsn: V1, base: gateway.url });
      await socket.subscribe(`contract-switch-${process.pid}`, live, operatorToken);
      assert.equal((await admin('', { method: 'PUT', body: JSON.stringify({ enabled: false }) }, gateway.url)).status, 200);
      assert.equal((await socket.closedWithin()).code, 1001);
      assert.equal((await handshake(`apikey=${ANON}&vsn=1.0.0`, gateway.url)).status, 403);
    } finally {
      await gateway.stop();
    }
  });

  /** The stack's Realtime controls answer this machine's programs only:
   * counters on GET, and 403 to any request carrying an Origin. */
  test('/_admin/realtime answers its counters, and refuses a request with an Origin', async () => {
    const socket = await Phoenix.connect({ vsn: V1 });
    await socket.subscribe(`contract-counters-${process.pid}`, live, operatorToken);
    const r = await admin();
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.deepEqual(Object.keys(body).sort(), ['changes_sent', 'channels', 'checks', 'enabled', 'private_only', 'sockets']);
    assert.equal(body.enabled, true);
    assert.ok(body.sockets >= 1 && body.channels >= 1, JSON.stringify(body));
    for (const key of ['changes_sent', 'checks']) assert.ok(Number.isInteger(body[key]), key);
    const origin = { Origin: 'https://evil.example' };
    assert.equal((await admin('', { headers: origin })).status, 403);
    assert.equal((await admin('', { method: 'PUT', headers: origin, body: JSON.stringify({ enabled: true }) })).status, 403);
    assert.equal((await admin('/faults', { method: 'POST', headers: origin, body: JSON.stringify({ mode: 'mute' }) })).status, 403);
    // Still joined: the refused fault did nothing.
    const ref = nextRef();
    socket.send({ ref, topic: 'phoenix', event: 'heartbeat' });
    await socket.reply('phoenix', ref, 3000);
  });
});

describe('private channels (Realtime Authorization: policies on realtime.messages)', () => {
  /** A project whose Realtime settings turn off "Allow public access"
   * refuses a public channel with `PrivateOnly`. A private channel is
   * joined only by a subscriber whom `realtime.messages`' policies let
   * read its topic (the local stack has the README's policy: operators,
   * topics `sluice:…`); others get `Unauthorized`. The check's probe
   * message is rolled back. */
  test('only private channels: a public join is refused; an operator joins a private one and gets the row; others are Unauthorized', async () => {
    const setPrivateOnly = (on) => admin('', { method: 'PUT', body: JSON.stringify({ private_only: on }) });
    assert.equal((await setPrivateOnly(true)).status, 200);
    try {
      assert.equal((await counters()).private_only, true);
      const socket = await Phoenix.connect({ vsn: V1 });
      const binding = [{ event: 'INSERT', schema: 'public', table: live }];
      const name = `sluice:contract-private-${process.pid}`;
      const publicJoin = socket.pushJoin(`${name}-public`, { bindings: binding, token: operatorToken });
      // Realtime refuses a public channel before it looks at the token.
      const badTokenJoin = socket.pushJoin(`${name}-bad-token`, { bindings: binding, token: 'not-a-jwt' });
      const plainJoin = socket.pushJoin(`${name}-plain`, { bindings: binding, token: plainToken, private: true });
      const anonJoin = socket.pushJoin(`${name}-anon`, { bindings: binding, private: true });
      const [publicReply, badTokenReply, plainReply, anonReply] = await Promise.all(
        [publicJoin, badTokenJoin, plainJoin, anonJoin].map((j) => socket.reply(j.topic, j.ref, 15_000)));
      const privateOnly = { status: 'error', response: { reason: 'PrivateOnly: This project only allows private channels' } };
      assert.deepEqual(publicReply.payload, privateOnly);
      assert.deepEqual(badTokenReply.payload, privateOnly);
      assert.deepEqual(plainReply.payload.response, { reason: `Unauthorized: You do not have permissions to read from this Channel topic: ${name}-plain` });
      assert.deepEqual(anonReply.payload.response, { reason: `Unauthorized: You do not have permissions to read from this Channel topic: ${name}-anon` });
      const operator = await Phoenix.connect({ vsn: V2 });
      const watched = await operator.subscribe(name, live, operatorToken, { private: true });
      const id = await insertRow(live);
      assert.equal((await operator.change(watched.topic, id)).payload.data.record.id, id);
      // The policy reads the topic: an operator's private channel outside
      // `sluice:` is refused too.
      const other = operator.pushJoin(`contract-private-${process.pid}`, { bindings: binding, token: operatorToken, private: true });
      assert.deepEqual((await operator.reply(other.topic, other.ref, 15_000)).payload.response,
        { reason: `Unauthorized: You do not have permissions to read from this Channel topic: contract-private-${process.pid}` });
      assert.equal((await sql('SELECT count(*) FROM realtime.messages')).trim(), '0', 'each probe was rolled back');
    } finally {
      assert.equal((await setPrivateOnly(false)).status, 200, 'public channels allowed again');
    }
    const socket = await Phoenix.connect({ vsn: V1 });
    await socket.subscribe(`contract-public-again-${process.pid}`, live, operatorToken);
  });
});

describe('the official client (@supabase/supabase-js: "Subscribing to database changes")', () => {
  /** `supabase.channel().on('postgres_changes', …).subscribe()` after a
   * password sign-in: SUBSCRIBED, then the callback gets `eventType
   * "INSERT"` and `new` with the inserted row. */
  test('supabase-js receives an INSERT made with psql', async () => {
    const supabase = createClient(GATEWAY, PUBLISHABLE, { auth: { persistSession: false, autoRefreshToken: false } });
    const channelName = `contract-official-${process.pid}`;
    let channel;
    try {
      const { data, error } = await supabase.auth.signInWithPassword(OPERATOR);
      assert.equal(error, null);
      assert.ok(data.session.access_token);
      const received = [];
      const statuses = [];
      const subscribed = new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`not subscribed in 10 s: ${statuses}`)), 10_000);
        channel = supabase.channel(channelName)
          .on('postgres_changes', { event: 'INSERT', schema: 'public', table: live }, (payload) => received.push(payload))
          .subscribe((status, err) => {
            statuses.push(status);
            if (status === 'SUBSCRIBED') {
              clearTimeout(timer);
              ok();
            } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') {
              clearTimeout(timer);
              fail(new Error(`${status}: ${err?.message}`));
            }
          });
      });
      await subscribed;
      // SUBSCRIBED follows the join's reply; the subscription is stored
      // when Realtime sends its system message, just after.
      await sleep(300);
      const id = await insertRow(live);
      const payload = await eventually(() => received.find((p) => p.new?.id === id), 8000, `the change of row ${id}`);
      assert.equal(payload.eventType, 'INSERT');
      assert.equal(payload.schema, 'public');
      assert.equal(payload.table, live);
      assert.equal(payload.errors, null);
      assert.match(payload.commit_timestamp, COMMIT_TIMESTAMP);
      assert.equal(payload.new.source, 'contract-realtime');
      assert.deepEqual(payload.old, {});
    } finally {
      if (channel) await supabase.removeChannel(channel);
      supabase.realtime.disconnect();
    }
  });
});

describe('faults (stack test facility: POST /_admin/realtime/faults)', () => {
  const fault = async (mode) => {
    const r = await admin('/faults', { method: 'POST', body: JSON.stringify({ mode }) });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.ok(body.sockets >= 1, JSON.stringify(body));
  };

  /** `close` ends the sockets open as Realtime's disconnect does, with a
   * close frame 1001 ("going away"). */
  test('"close" closes a joined socket with 1001', async () => {
    const socket = await Phoenix.connect({ vsn: V2 });
    await socket.subscribe(`contract-fault-close-${process.pid}`, live, operatorToken);
    await fault('close');
    assert.equal((await socket.closedWithin()).code, 1001);
  });

  /** `drop` ends them without a close frame, which the client sees as an
   * abnormal closure, 1006. */
  test('"drop" ends a joined socket without a close frame: 1006', async () => {
    const socket = await Phoenix.connect({ vsn: V1 });
    await socket.subscribe(`contract-fault-drop-${process.pid}`, live, operatorToken);
    await fault('drop');
    assert.equal((await socket.closedWithin()).code, 1006);
  });
});
