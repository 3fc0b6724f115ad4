// What the contract tests need to reach the running local stack
// (scripts/backend.sh): its addresses, the Supabase CLI's well-known local
// keys, and a way to sign tokens with its JWT secret.
import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export const GATEWAY = process.env.SLUICE_GATEWAY_URL ?? 'http://127.0.0.1:54321';
export const AGENT = process.env.SLUICE_AGENT_URL ?? 'http://127.0.0.1:54330';
export const REST = `${GATEWAY}/rest/v1`;
export const JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
export const ANON =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0';
export const SERVICE_ROLE =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU';
export const PUBLISHABLE = 'sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH';
/** The local secret key: service_role, and not a JWT, so rotating the JWT secret leaves it working. */
export const SECRET_KEY = 'sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz';

export function signJwt(claims, secret = JWT_SECRET) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const message = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${message}.${createHmac('sha256', secret).update(message).digest('base64url')}`;
}

/** The operator the stack creates at start (`--operator-email`, `--operator-password`). */
export const OPERATOR = {
  email: process.env.SLUICE_OPERATOR_EMAIL ?? 'operator@sluice.local',
  password: process.env.SLUICE_OPERATOR_PASSWORD ?? 'sluice-operator-password',
};

export const anonHeaders = { apikey: ANON, Authorization: `Bearer ${ANON}` };
export const serviceHeaders = { apikey: SERVICE_ROLE, Authorization: `Bearer ${SERVICE_ROLE}` };

let operatorSession;
/** The headers of the stack's operator, signed in once per process (as the
 * app does: the anon key as `apikey`, the access token as the bearer). The
 * tables and queues answer signed-in operators only. */
export async function operatorHeaders() {
  operatorSession ??= signIn(OPERATOR.email, OPERATOR.password, { headers: { apikey: ANON } }).then((r) => {
    if (r.status !== 200) throw new Error(`operator sign-in: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  });
  return { apikey: ANON, Authorization: `Bearer ${(await operatorSession).access_token}` };
}

/** GET /rest/v1/{table}?{params} as the operator (`headers` may replace
 * theirs); params is a list of pairs. */
export async function rest(table, params = [], headers = {}) {
  const query = new URLSearchParams(params).toString();
  const response = await fetch(`${REST}/${table}${query ? `?${query}` : ''}`, {
    headers: { ...(await operatorHeaders()), ...headers },
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body };
}

/** Inserts rows as service_role (through the secret key) and returns them. */
export async function insert(table, rows) {
  const response = await fetch(`${REST}/${table}`, {
    method: 'POST',
    headers: { apikey: SECRET_KEY, 'Content-Type': 'application/json', Prefer: 'return=representation' },
    body: JSON.stringify(rows),
  });
  if (response.status !== 201) throw new Error(`insert failed: ${response.status} ${await response.text()}`);
  return response.json();
}

export async function setFaults(faults) {
  const response = await fetch(`${GATEWAY}/_admin/faults`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(faults),
  });
  if (!response.ok) throw new Error(`faults: ${response.status}`);
}

/** A source name no other test or the generator uses, to isolate rows. */
export function uniqueSource(label) {
  return `contract-${label}-${process.pid}-${Date.now()}`;
}

const ROOT = new URL('../..', import.meta.url).pathname;

/** The back end's log (scripts/backend.sh), where it says how it started. */
function backendLog() {
  return readFileSync(`${ROOT}.stack/backend.log`, 'utf8');
}

/** The port of the stack's PostgreSQL, from the back end's log. */
export function databasePort() {
  const port = [...backendLog().matchAll(/PostgreSQL 15 on 127\.0\.0\.1:(\d+)/g)].at(-1)?.[1];
  if (!port) throw new Error('no PostgreSQL port in .stack/backend.log');
  return port;
}

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer().on('error', fail).listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * A second gateway process over the stack's database, started with `flags`
 * (e.g. a pool of one connection), for settings a test cannot change while
 * the stack runs; no seed, no generator. Returns `{ url, stop() }`.
 */
export async function startGateway(flags) {
  const profile = backendLog().includes('building sluice-stack (release)') ? 'release' : 'debug';
  const addr = `127.0.0.1:${await freePort()}`;
  const child = spawn(`${ROOT}target/${profile}/sluice-stack`,
    ['--serve', 'gateway', '--gateway-addr', addr, '--seed-events', '0', '--generate-per-second', '0', ...flags],
    { env: { ...process.env, SLUICE_DATABASE_URL: `postgres://postgres@127.0.0.1:${databasePort()}/sluice` }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((ok) => child.once('exit', ok));
  await new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`gateway did not start: ${out}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('sluice-stack ready')) {
        clearTimeout(timer);
        ok();
      }
    });
    exited.then((code) => fail(new Error(`gateway exited (${code}): ${out}`)));
  });
  return {
    url: `http://${addr}`,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A JWT's payload, unchecked. */
export function decodeJwt(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

/** An email no other test uses. */
export function uniqueEmail(label) {
  return `${label}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@contract.test`;
}

/**
 * A request to Auth (`/auth/v1{path}`) on `base` (the stack's gateway by
 * default), with the publishable key as `apikey` unless `headers` says
 * otherwise; answers { status, headers, body }.
 */
export async function authCall(path, { method = 'GET', body, headers = {}, base = GATEWAY } = {}) {
  const response = await fetch(`${base}/auth/v1${path}`, {
    method,
    headers: { apikey: PUBLISHABLE, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** `grant_type=password`; answers { status, headers, body }. */
export function signIn(email, password, { base = GATEWAY, headers = {} } = {}) {
  return authCall('/token?grant_type=password', { method: 'POST', body: { email, password }, base, headers });
}

/** `grant_type=refresh_token`; answers { status, headers, body }. */
export function refresh(refreshToken, { base = GATEWAY, headers = {} } = {}) {
  return authCall('/token?grant_type=refresh_token', { method: 'POST', body: { refresh_token: refreshToken }, base, headers });
}

/** A user made through the admin API with the secret key; answers the user. */
export async function createUser(fields, { base = GATEWAY } = {}) {
  const r = await authCall('/admin/users', {
    method: 'POST', body: fields, base, headers: { apikey: SECRET_KEY, Authorization: `Bearer ${SECRET_KEY}` },
  });
  if (r.status !== 200) throw new Error(`create user: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A confirmed user with a password of its own, an operator or not; answers { user, email, password }. */
export async function freshUser(label, { operator = false, base = GATEWAY } = {}) {
  const email = uniqueEmail(label);
  const password = `pw-${label}-${Date.now()}`;
  const user = await createUser({
    email, password, email_confirm: true, app_metadata: operator ? { sluice_operator: true } : {},
  }, { base });
  return { user, email, password };
}

/** Headers for REST and RPC as the holder of `accessToken`, with the publishable key. */
export function userHeaders(accessToken) {
  return { apikey: PUBLISHABLE, Authorization: `Bearer ${accessToken}` };
}
