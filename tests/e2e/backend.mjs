// The local back end as the end-to-end tests drive it: a table of their
// own per test, rows inserted as service_role, the demo agent's settings and
// its tally of deliveries. Shares keys and helpers with the contract tests.
import { GATEWAY, AGENT, ANON, JWT_SECRET, REST, serviceHeaders, insert, setFaults, databasePort } from '../contract/stack.mjs';

export { ANON, JWT_SECRET, insert, setFaults };

/** Re-signs the project's keys with `secret` (revoking the old ones); returns the new anon key. */
export async function rotateSecret(secret) {
  const r = await fetch(`${GATEWAY}/_admin/jwt-secret`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jwt_secret: secret }) });
  if (!r.ok) throw new Error(`rotate: ${r.status}`);
  return r.text();
}

/** Makes the access tokens Auth issues from now on live `seconds` (the
 * stack's test facility; 3600 is its default). */
export async function setTokenLifetime(seconds) {
  const r = await fetch(`${GATEWAY}/_admin/auth`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jwt_expiry_seconds: seconds }) });
  if (!r.ok) throw new Error(`token lifetime: ${r.status}`);
}

let counter = 0;

/** Creates an empty event table nobody else writes to, for signed-in
 * operators (and the anon key too with `openToAnon`, for the key-only
 * path); returns its name. */
export async function freshTable(label, keyType = 'bigint', timestampType = 'timestamptz', { openToAnon = false } = {}) {
  const name = `e2e_${label}_${process.pid}_${Date.now() % 1e8}_${counter++}`.toLowerCase();
  const r = await fetch(`${GATEWAY}/_admin/tables`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, key_type: keyType, timestamp_type: timestampType, open_to_anon: openToAnon }),
  });
  if (r.status !== 201) throw new Error(`create table: ${r.status} ${await r.text()}`);
  return name;
}

/** A queue nobody else uses, and its `{name}_dlq` (the stack's test
 * facility), with `n` messages `{type, seq}` sent through
 * `pgmq_public.send_batch` as service_role; returns its name. */
export async function freshQueue(label, n = 0, type = 'job.run') {
  const name = `e2e_${label}_${process.pid % 10000}_${Date.now() % 1e6}_${counter++}`.toLowerCase();
  const created = await fetch(`${GATEWAY}/_admin/queues`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (created.status !== 201) throw new Error(`create queue: ${created.status} ${await created.text()}`);
  for (let sent = 0; sent < n; sent += 500) {
    const messages = Array.from({ length: Math.min(500, n - sent) }, (_, i) => ({ type, seq: sent + i }));
    const r = await fetch(`${REST}/rpc/send_batch`, {
      method: 'POST',
      headers: { ...serviceHeaders, 'Content-Type': 'application/json', 'Content-Profile': 'pgmq_public' },
      body: JSON.stringify({ queue_name: name, messages }),
    });
    if (!r.ok) throw new Error(`send_batch: ${r.status} ${await r.text()}`);
  }
  return name;
}

/** A queue as the stack's test facility reads it, taking nothing:
 * `{ queue_length, messages, archived }` (each message `{msg_id, read_ct, message}`). */
export async function describeQueue(name) {
  return (await fetch(`${GATEWAY}/_admin/queues/${name}`)).json();
}

/** `n` rows at the given ISO timestamps (or now + i ms); returns them as stored. */
export function insertEvents(table, stamps, type = 'order.created') {
  return insert(table, stamps.map((created_at) => ({ created_at, type, payload: { n: created_at } })));
}

export function stamp(offsetMs) {
  return new Date(Date.now() + offsetMs).toISOString().replace('Z', '+00:00');
}

export async function configureAgent(config) {
  const r = await fetch(`${AGENT}/config`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(config) });
  if (!r.ok) throw new Error(`agent config: ${r.status}`);
}

/** The agent's deliveries for one table or queue (the agent filters them
 * by the `{table}:` prefix): { counts: {id: n}, order: [id], done: {id: n},
 * rejected: {id: n}, timeline: [[id, 'arrived' | outcome]],
 * times: [{key: id, started_ms, ended_ms, outcome}] }. Without a table,
 * every delivery, keyed `{table}:{id}`. */
export async function tally(table) {
  const prefix = table === undefined ? '' : `${table}:`;
  const t = await (await fetch(`${AGENT}/tally?prefix=${encodeURIComponent(prefix)}`)).json();
  const id = (key) => key.slice(prefix.length);
  const pick = (map) => Object.fromEntries(Object.entries(map).map(([k, v]) => [id(k), v]));
  return {
    counts: pick(t.keys),
    done: pick(t.done),
    rejected: pick(t.rejected),
    order: t.order.map(id),
    timeline: t.timeline.map(([k, what]) => [id(k), what]),
    times: t.delivery_times.map((time) => ({ ...time, key: id(time.key) })),
  };
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function eventually(check, ms = 20_000, what = 'condition') {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await check();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/**
 * A real TCP front for the demo agent that can go down and come back on the
 * same address: while down, connections are refused, as with a crashed or
 * restarting agent. Returns `{ url, down(), up(), close() }`.
 */
export async function agentFront() {
  const { createServer, request } = await import('node:http');
  const target = new URL(AGENT);
  const server = createServer((incoming, outgoing) => {
    const forwarded = request(
      { host: target.hostname, port: target.port, path: incoming.url, method: incoming.method, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    incoming.pipe(forwarded);
  });
  const listen = (port) => new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  await listen(0);
  const { port } = server.address();
  const down = () => new Promise((ok) => {
    server.close(() => ok());
    server.closeAllConnections();
  });
  return { url: `http://127.0.0.1:${port}/`, down, up: () => listen(port), close: down };
}

/**
 * Runs SQL as the database owner, through psql, on the stack's PostgreSQL
 * (its port is in the back end's log): for rows PostgREST cannot insert.
 */
export async function sql(statement) {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('/usr/lib/postgresql/15/bin/psql',
    ['-h', '127.0.0.1', '-p', databasePort(), '-U', 'postgres', '-d', 'sluice', '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', statement],
    { encoding: 'utf8' });
}
