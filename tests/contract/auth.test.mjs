// Contract tests for the local stack's Auth (`/auth/v1`, as Supabase's
// GoTrue answers: supabase/auth internal/api/*.go, internal/tokens) and for
// the gateway as PostgREST runs under Supabase with a signed-in user: the
// token's role and claims reach the database, and the operator policies
// decide (crates/localstack/src/policies.sql). Each test names the source it
// checks. Run with the back end up (scripts/backend.sh); a few tests start
// a second gateway over the same database with other flags.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import {
  GATEWAY, REST, ANON, PUBLISHABLE, SECRET_KEY, SERVICE_ROLE, JWT_SECRET, OPERATOR,
  authCall, signIn, refresh, createUser, freshUser, uniqueEmail, decodeJwt, userHeaders,
  signJwt, startGateway, insert, uniqueSource,
} from './stack.mjs';

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** GET /rest/v1/{path} on `base` with `headers`; answers { status, body }. */
async function get(path, headers, base = GATEWAY) {
  const r = await fetch(`${base}/rest/v1/${path}`, { headers });
  return { status: r.status, body: await r.json() };
}

/** POST /rest/v1/rpc/{fn} in pgmq_public (or `profile`) on `base`. */
async function rpc(fn, args, headers, { base = GATEWAY, profile = 'pgmq_public' } = {}) {
  const r = await fetch(`${base}/rest/v1/rpc/${fn}`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/json', 'Content-Profile': profile },
    body: JSON.stringify(args),
  });
  return { status: r.status, body: await r.json() };
}

const GOTRUE_CLAIMS = ['aal', 'amr', 'app_metadata', 'aud', 'email', 'exp', 'iat', 'is_anonymous', 'iss', 'phone', 'role', 'session_id', 'sub', 'user_metadata'];

describe('password sign-in (GoTrue api/token.go, ResourceOwnerPasswordGrant; tokens/service.go)', () => {
  test('the operator signs in: GoTrue\'s token response, and an access token with GoTrue\'s claims', async () => {
    const before = nowSeconds();
    const r = await signIn(OPERATOR.email, OPERATOR.password);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body).sort(), ['access_token', 'expires_at', 'expires_in', 'refresh_token', 'token_type', 'user']);
    assert.equal(r.body.token_type, 'bearer');
    assert.equal(r.body.expires_in, 3600);
    assert.ok(Math.abs(r.body.expires_at - (before + 3600)) <= 2);
    assert.match(r.body.refresh_token, /^[a-z0-9]{12}$/, 'a legacy GoTrue refresh token');
    const header = JSON.parse(Buffer.from(r.body.access_token.split('.')[0], 'base64url').toString());
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(r.body.access_token);
    assert.deepEqual(Object.keys(claims).sort(), GOTRUE_CLAIMS);
    assert.equal(claims.iss, `${GATEWAY}/auth/v1`);
    assert.equal(claims.aud, 'authenticated');
    assert.equal(claims.role, 'authenticated');
    assert.equal(claims.aal, 'aal1');
    assert.equal(claims.phone, '');
    assert.equal(claims.is_anonymous, false);
    assert.equal(claims.email, OPERATOR.email);
    assert.equal(claims.exp, r.body.expires_at);
    assert.equal(claims.exp - claims.iat, 3600);
    assert.equal(claims.app_metadata.sluice_operator, true);
    assert.deepEqual(claims.amr.map((a) => a.method), ['password']);
    assert.ok(Math.abs(claims.amr[0].timestamp - before) <= 2);
    assert.match(claims.session_id, /^[0-9a-f-]{36}$/);
    const { user } = r.body;
    assert.equal(user.id, claims.sub);
    assert.equal(user.email, OPERATOR.email);
    assert.equal(user.aud, 'authenticated');
    assert.equal(user.role, 'authenticated');
    assert.equal(user.phone, '');
    assert.deepEqual(user.app_metadata.providers, ['email']);
    assert.equal(user.identities[0].provider, 'email');
    assert.match(user.email_confirmed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'Go\'s RFC 3339 in UTC');
    assert.ok(user.last_sign_in_at);
  });

  test('a wrong password and an unknown email are the same 400 invalid_credentials (initial API version: code, error_code, msg)', async () => {
    const wrong = await signIn(OPERATOR.email, 'not-the-password');
    const unknown = await signIn(uniqueEmail('nobody'), 'whatever');
    for (const r of [wrong, unknown]) {
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' });
      assert.equal(r.headers.get('x-sb-error-code'), 'invalid_credentials');
      assert.equal(r.headers.get('x-supabase-api-version'), null);
    }
  });

  test('with X-Supabase-Api-Version 2024-01-01 (what supabase-js sends) the error is { code, message }, the version echoed (api/errors.go)', async () => {
    const r = await signIn(OPERATOR.email, 'not-the-password', { headers: { 'X-Supabase-Api-Version': '2024-01-01' } });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { code: 'invalid_credentials', message: 'Invalid login credentials' });
    assert.equal(r.headers.get('x-supabase-api-version'), '2024-01-01');
  });

  test('an unconfirmed email: 400 email_not_confirmed, but only once the password is right', async () => {
    const email = uniqueEmail('unconfirmed');
    await createUser({ email, password: 'right-password', email_confirm: false });
    const r = await signIn(email, 'right-password');
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { code: 400, error_code: 'email_not_confirmed', msg: 'Email not confirmed' });
    assert.equal((await signIn(email, 'wrong-password')).body.error_code, 'invalid_credentials');
  });

  test('Kong checks the key first; an unknown grant, a missing email and a body that is not JSON are GoTrue\'s 400s', async () => {
    const noKey = await fetch(`${GATEWAY}/auth/v1/token?grant_type=password`, { method: 'POST', body: '{}' });
    assert.equal(noKey.status, 401);
    assert.equal((await noKey.json()).message, 'No API key found in request');
    const wrongKey = await signIn(OPERATOR.email, OPERATOR.password, { headers: { apikey: 'not-a-key' } });
    assert.equal(wrongKey.status, 401);
    assert.equal(wrongKey.body.message, 'Invalid API key');
    const grant = await authCall('/token?grant_type=magic', { method: 'POST', body: {} });
    assert.deepEqual(grant.body, { code: 400, error_code: 'invalid_credentials', msg: 'unsupported_grant_type' });
    const missing = await authCall('/token?grant_type=password', { method: 'POST', body: { password: 'x' } });
    assert.deepEqual(missing.body, { code: 400, error_code: 'validation_failed', msg: 'missing email or phone' });
    const garbage = await authCall('/token?grant_type=password', { method: 'POST', body: 'not json' });
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.error_code, 'bad_json');
    assert.match(garbage.body.msg, /^Could not parse request body as JSON: /);
  });

  test('CORS: a browser may send supabase-js\'s headers and read the API version (GoTrue api/api.go)', async () => {
    const r = await fetch(`${GATEWAY}/auth/v1/token?grant_type=password`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://127.0.0.1:8080',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'apikey,authorization,content-type,x-client-info,x-supabase-api-version',
      },
    });
    assert.ok(r.status === 200 || r.status === 204, `status ${r.status}`);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const error = await fetch(`${GATEWAY}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: PUBLISHABLE, Origin: 'http://127.0.0.1:8080', 'X-Supabase-Api-Version': '2024-01-01' },
      body: JSON.stringify({ email: uniqueEmail('cors'), password: 'x' }),
    });
    assert.match(error.headers.get('access-control-expose-headers') ?? '', /x-supabase-api-version/i);
  });
});

describe('refresh tokens (GoTrue tokens/service.go, RefreshTokenGrant; api/token_refresh.go)', () => {
  test('each refresh rotates: a new refresh token, a new access token, the same session', async () => {
    const first = (await signIn(OPERATOR.email, OPERATOR.password)).body;
    const second = await refresh(first.refresh_token);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.deepEqual(Object.keys(second.body).sort(), ['access_token', 'expires_at', 'expires_in', 'refresh_token', 'token_type', 'user']);
    assert.notEqual(second.body.refresh_token, first.refresh_token);
    assert.match(second.body.refresh_token, /^[a-z0-9]{12}$/);
    const [a, b] = [decodeJwt(first.access_token), decodeJwt(second.body.access_token)];
    assert.equal(b.session_id, a.session_id);
    assert.equal(b.sub, a.sub);
    assert.deepEqual(b.amr, a.amr, 'amr still says how the session signed in');
    const third = await refresh(second.body.refresh_token);
    assert.equal(third.status, 200);
    assert.notEqual(third.body.refresh_token, second.body.refresh_token);
  });

  test('the parent of the active token is answered with the active token (a client that lost the answer)', async () => {
    const first = (await signIn(OPERATOR.email, OPERATOR.password)).body;
    const second = (await refresh(first.refresh_token)).body;
    const again = await refresh(first.refresh_token);
    assert.equal(again.status, 200);
    assert.equal(again.body.refresh_token, second.refresh_token, 'no new token: the current one');
    assert.equal(decodeJwt(again.body.access_token).session_id, decodeJwt(second.access_token).session_id);
    assert.equal((await refresh(second.refresh_token)).status, 200, 'the active token still works');
  });

  test('within the reuse interval (10 s) an older token is answered with the session\'s current tokens, not an error', async () => {
    const first = (await signIn(OPERATOR.email, OPERATOR.password)).body;
    const second = (await refresh(first.refresh_token)).body;
    const third = (await refresh(second.refresh_token)).body;
    const reused = await refresh(first.refresh_token);
    assert.equal(reused.status, 200, JSON.stringify(reused.body));
    assert.equal(reused.body.refresh_token, third.refresh_token);
    assert.equal((await refresh(third.refresh_token)).status, 200, 'the session lives on');
  });

  test('concurrent refreshes with one token (two tabs at once) all succeed, and agree on the next token', async () => {
    const first = (await signIn(OPERATOR.email, OPERATOR.password)).body;
    const answers = await Promise.all([1, 2, 3].map(() => refresh(first.refresh_token)));
    for (const r of answers) assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(new Set(answers.map((r) => r.body.refresh_token)).size, 1, 'one rotation, the others got its result');
  });

  test('an unknown token: 400 refresh_token_not_found; a malformed one: 400 validation_failed', async () => {
    const unknown = await refresh('abcdefghijkl');
    assert.deepEqual(unknown.body, { code: 400, error_code: 'refresh_token_not_found', msg: 'Invalid Refresh Token: Refresh Token Not Found' });
    for (const token of ['', 'short', 'ABCDEFGHIJKL', 'x'.repeat(40)]) {
      const r = await refresh(token);
      assert.deepEqual(r.body, { code: 400, error_code: 'validation_failed', msg: 'Refresh token is not valid' }, token);
    }
  });
});

describe('logout and the signed-in user (GoTrue api/logout.go, api/user.go, api/auth.go)', () => {
  test('GET /user answers the user of the access token', async () => {
    const session = (await signIn(OPERATOR.email, OPERATOR.password)).body;
    const r = await authCall('/user', { headers: { Authorization: `Bearer ${session.access_token}` } });
    assert.equal(r.status, 200);
    assert.equal(r.body.id, session.user.id);
    assert.equal(r.body.email, OPERATOR.email);
    assert.equal(r.body.app_metadata.sluice_operator, true);
  });

  test('GET /user without a user token: 401 no_authorization, 403 bad_jwt', async () => {
    assert.deepEqual((await authCall('/user')).body, { code: 401, error_code: 'no_authorization', msg: 'This endpoint requires a valid Bearer token' });
    const anon = await authCall('/user', { headers: { Authorization: `Bearer ${ANON}` } });
    assert.deepEqual(anon.body, { code: 403, error_code: 'bad_jwt', msg: 'invalid claim: missing sub claim' });
    const forged = await authCall('/user', { headers: { Authorization: `Bearer ${signJwt({ sub: 'x', role: 'authenticated' }, 'y'.repeat(40))}` } });
    assert.equal(forged.status, 403);
    assert.equal(forged.body.error_code, 'bad_jwt');
    assert.match(forged.body.msg, /^invalid JWT: unable to parse or verify signature, token signature is invalid/);
    const expired = await authCall('/user', { headers: { Authorization: `Bearer ${signJwt({ sub: OPERATOR.email, exp: 1000 })}` } });
    assert.equal(expired.body.msg, 'invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired');
  });

  test('logout answers 204 and ends the session: its refresh token is unknown, its access token has no session', async () => {
    const session = (await signIn(OPERATOR.email, OPERATOR.password)).body;
    const bearer = { Authorization: `Bearer ${session.access_token}` };
    const out = await authCall('/logout', { method: 'POST', headers: bearer });
    assert.equal(out.status, 204);
    assert.equal(out.body, '');
    const r = await refresh(session.refresh_token);
    assert.equal(r.status, 400);
    assert.equal(r.body.error_code, 'refresh_token_not_found');
    const user = await authCall('/user', { headers: bearer });
    assert.deepEqual(user.body, { code: 403, error_code: 'session_not_found', msg: 'Session from session_id claim in JWT does not exist' });
    // PostgREST checks a JWT's signature and expiry only, as on Supabase.
    assert.equal((await get('rpc/sluice_whoami', userHeaders(session.access_token))).status, 200);
  });

  test('logout\'s default scope is global: every session of the user ends; scope=local ends only its own', async () => {
    const { email, password } = await freshUser('logout');
    const [a, b, c] = await Promise.all([1, 2, 3].map(async () => (await signIn(email, password)).body));
    const local = await authCall('/logout?scope=local', { method: 'POST', headers: { Authorization: `Bearer ${a.access_token}` } });
    assert.equal(local.status, 204);
    assert.equal((await refresh(a.refresh_token)).status, 400);
    const fresh = await refresh(b.refresh_token);
    assert.equal(fresh.status, 200, 'another session is untouched by a local logout');
    const global = await authCall('/logout', { method: 'POST', headers: { Authorization: `Bearer ${fresh.body.access_token}` } });
    assert.equal(global.status, 204);
    assert.equal((await refresh(c.refresh_token)).body.error_code, 'refresh_token_not_found');
    const scope = await authCall('/logout?scope=all', { method: 'POST', headers: { Authorization: `Bearer ${c.access_token}` } });
    assert.equal(scope.status, 403, 'the session is gone before the scope is looked at');
  });
});

describe('admin API (GoTrue api/admin.go; requireAdminCredentials)', () => {
  test('create with the service_role key: 200 and the user, confirmed with app_metadata merged', async () => {
    const email = uniqueEmail('admin');
    const r = await authCall('/admin/users', {
      method: 'POST',
      headers: { apikey: SERVICE_ROLE, Authorization: `Bearer ${SERVICE_ROLE}` },
      body: { email, password: 'a-password', email_confirm: true, app_metadata: { sluice_operator: true }, user_metadata: { name: 'Ada' } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.email, email);
    assert.deepEqual(r.body.app_metadata, { provider: 'email', providers: ['email'], sluice_operator: true });
    assert.deepEqual(r.body.user_metadata, { name: 'Ada' });
    assert.ok(r.body.email_confirmed_at);
    assert.equal(r.body.role, 'authenticated');
    assert.equal((await signIn(email, 'a-password')).status, 200);
    const twice = await authCall('/admin/users', {
      method: 'POST', headers: { apikey: SECRET_KEY, Authorization: `Bearer ${SECRET_KEY}` }, body: { email, password: 'x' },
    });
    assert.deepEqual(twice.body, { code: 422, error_code: 'email_exists', msg: 'A user with this email address has already been registered' });
    const bad = await authCall('/admin/users', { method: 'POST', headers: { apikey: SECRET_KEY }, body: { email: 'not-an-email' } });
    assert.deepEqual(bad.body, { code: 400, error_code: 'validation_failed', msg: 'Unable to validate email address: invalid format' });
  });

  test('list: { users, aud } with X-Total-Count, newest first; per_page and page', async () => {
    const { email } = await freshUser('listed');
    const r = await authCall('/admin/users?per_page=1000', { headers: { apikey: SECRET_KEY, Authorization: `Bearer ${SECRET_KEY}` } });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['aud', 'users']);
    assert.equal(r.body.aud, 'authenticated');
    assert.ok(r.body.users.some((u) => u.email === email));
    assert.ok(r.body.users.some((u) => u.email === OPERATOR.email));
    assert.equal(Number(r.headers.get('x-total-count')), r.body.users.length);
    assert.equal(r.body.users[0].email, email, 'newest first');
    const page = await authCall('/admin/users?per_page=1&page=2', { headers: { apikey: SECRET_KEY } });
    assert.equal(page.body.users.length, 1);
    assert.match(page.headers.get('link'), /rel="last"/);
  });

  test('the anon key or a user\'s token is not an admin: 403 not_admin', async () => {
    const anon = await authCall('/admin/users', { headers: { apikey: ANON, Authorization: `Bearer ${ANON}` } });
    assert.deepEqual(anon.body, { code: 403, error_code: 'not_admin', msg: 'User not allowed' });
    const session = (await signIn(OPERATOR.email, OPERATOR.password)).body;
    const user = await authCall('/admin/users', { headers: { Authorization: `Bearer ${session.access_token}` } });
    assert.equal(user.body.error_code, 'not_admin');
    const none = await authCall('/admin/users', { headers: { apikey: ANON } });
    assert.equal(none.body.error_code, 'no_authorization');
  });

  test('delete: 200 {}; the user can no longer refresh or be looked up, and its access token still reads until it expires', async () => {
    const { user, email, password } = await freshUser('deleted', { operator: true });
    const session = (await signIn(email, password)).body;
    const admin = { apikey: SECRET_KEY, Authorization: `Bearer ${SECRET_KEY}` };
    const gone = await authCall(`/admin/users/${user.id}`, { method: 'DELETE', headers: admin });
    assert.equal(gone.status, 200);
    assert.deepEqual(gone.body, {});
    const r = await refresh(session.refresh_token);
    assert.deepEqual(r.body, { code: 400, error_code: 'refresh_token_not_found', msg: 'Invalid Refresh Token: Refresh Token Not Found' });
    assert.equal((await signIn(email, password)).body.error_code, 'invalid_credentials');
    const me = await authCall('/user', { headers: { Authorization: `Bearer ${session.access_token}` } });
    assert.deepEqual(me.body, { code: 403, error_code: 'user_not_found', msg: 'User from sub claim in JWT does not exist' });
    const read = await get('events?select=id&limit=1', userHeaders(session.access_token));
    assert.equal(read.status, 200);
    assert.equal(read.body.length, 1, 'PostgREST trusts a valid token until its exp, as on Supabase');
    const again = await authCall(`/admin/users/${user.id}`, { method: 'DELETE', headers: admin });
    assert.deepEqual(again.body, { code: 404, error_code: 'user_not_found', msg: 'User not found' });
    const bad = await authCall('/admin/users/not-a-uuid', { method: 'DELETE', headers: admin });
    assert.deepEqual(bad.body, { code: 404, error_code: 'validation_failed', msg: 'user_id must be an UUID' });
  });
});

describe('the gateway with a user\'s token (PostgREST "Authentication", "Transactions"; Supabase "Row Level Security")', () => {
  let operator;
  let member;
  before(async () => {
    operator = (await signIn(OPERATOR.email, OPERATOR.password)).body;
    const { email, password } = await freshUser('member');
    member = (await signIn(email, password)).body;
  });

  test('the token\'s claims reach the database: auth.uid(), auth.role(), auth.email(), auth.jwt(), and the role', async () => {
    const me = await get('rpc/sluice_whoami', userHeaders(operator.access_token));
    assert.equal(me.status, 200);
    assert.equal(me.body.uid, operator.user.id);
    assert.equal(me.body.role, 'authenticated');
    assert.equal(me.body.email, OPERATOR.email);
    assert.equal(me.body.current_user, 'authenticated');
    assert.deepEqual(me.body.jwt, decodeJwt(operator.access_token));
    const anon = await get('rpc/sluice_whoami', { apikey: ANON, Authorization: `Bearer ${ANON}` });
    assert.equal(anon.body.uid, null);
    assert.equal(anon.body.role, 'anon');
    assert.equal(anon.body.current_user, 'anon');
    const service = await get('rpc/sluice_whoami', { apikey: SECRET_KEY });
    assert.equal(service.body.current_user, 'service_role');
  });

  test('an operator reads the seeded tables; another signed-in user reads nothing (row-level security)', async () => {
    for (const table of ['events', 'staff_room_events', 'temp_events', 'trello_events']) {
      const seen = await get(`${table}?limit=5`, userHeaders(operator.access_token));
      assert.equal(seen.status, 200, table);
      assert.equal(seen.body.length, 5, `${table}: the operator sees rows`);
      const hidden = await get(`${table}?limit=5`, userHeaders(member.access_token));
      assert.equal(hidden.status, 200, table);
      assert.deepEqual(hidden.body, [], `${table}: no row for a non-operator`);
    }
  });

  test('an operator pops and archives from a seeded queue through pgmq_public; a non-operator is refused', async () => {
    const headers = userHeaders(operator.access_token);
    const [id] = (await rpc('send', { queue_name: 'order_jobs', message: { type: 'contract.operator', n: 1 } }, headers)).body;
    assert.equal(typeof id, 'number');
    const popped = await rpc('pop', { queue_name: 'order_jobs' }, headers);
    assert.equal(popped.status, 200, JSON.stringify(popped.body));
    assert.equal(popped.body.length, 1, 'pop took a message');
    const [another] = (await rpc('send', { queue_name: 'order_jobs', message: { type: 'contract.operator', n: 2 } }, headers)).body;
    const archived = await rpc('archive', { queue_name: 'order_jobs', message_id: another }, headers);
    assert.equal(archived.status, 200, JSON.stringify(archived.body));
    assert.equal(archived.body, true);
    const state = await (await fetch(`${GATEWAY}/_admin/queues/order_jobs`)).json();
    assert.ok(state.archived.some((m) => m.msg_id === another), 'the archive holds it');
    const dlq = await rpc('send', { queue_name: 'order_jobs_dlq', message: { dead: true } }, headers);
    assert.equal(dlq.status, 200, 'the dead-letter queue too');

    const outsider = userHeaders(member.access_token);
    const send = await rpc('send', { queue_name: 'order_jobs', message: { type: 'contract.member' } }, outsider);
    assert.equal(send.status, 403, JSON.stringify(send.body));
    assert.equal(send.body.code, '42501');
    assert.match(send.body.message, /row-level security/);
    assert.deepEqual((await rpc('read', { queue_name: 'order_jobs', sleep_seconds: 0, n: 5 }, outsider)).body, []);
    assert.deepEqual((await rpc('pop', { queue_name: 'order_jobs' }, outsider)).body, []);
    assert.equal((await rpc('archive', { queue_name: 'order_jobs', message_id: id }, outsider)).body, false);
  });

  test('a bad token: 401 PGRST301 on REST and RPC; an expired Auth token: 401 PGRST303 "JWT expired"', async () => {
    const forged = signJwt({ ...decodeJwt(operator.access_token) }, 'z'.repeat(40));
    for (const path of ['events?limit=1', 'rpc/sluice_whoami']) {
      const r = await get(path, userHeaders(forged));
      assert.equal(r.status, 401, path);
      assert.equal(r.body.code, 'PGRST301', path);
    }
    const expired = signJwt({ ...decodeJwt(operator.access_token), iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 }, JWT_SECRET);
    for (const path of ['events?limit=1', 'rpc/sluice_whoami']) {
      const r = await get(path, userHeaders(expired));
      assert.equal(r.status, 401, path);
      assert.deepEqual(r.body, { code: 'PGRST303', details: null, hint: null, message: 'JWT expired' }, path);
    }
    const send = await rpc('send', { queue_name: 'order_jobs', message: {} }, userHeaders(expired));
    assert.equal(send.body.code, 'PGRST303');
  });
});

describe('the stack\'s control of Auth (a test facility, this machine only)', () => {
  test('PUT /_admin/auth sets the lifetime of the access tokens issued from then on; a web page may not', async () => {
    const put = (seconds, headers = {}) => fetch(`${GATEWAY}/_admin/auth`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ jwt_expiry_seconds: seconds }),
    });
    try {
      assert.equal((await put(7)).status, 204);
      const short = (await signIn(OPERATOR.email, OPERATOR.password)).body;
      assert.equal(short.expires_in, 7);
      assert.equal(decodeJwt(short.access_token).exp - decodeJwt(short.access_token).iat, 7);
      assert.equal((await put(60, { Origin: 'https://evil.example' })).status, 403, 'refused to a web page');
      assert.equal((await signIn(OPERATOR.email, OPERATOR.password)).body.expires_in, 7, 'unchanged by the refused call');
    } finally {
      assert.equal((await put(3600)).status, 204);
    }
    assert.equal((await signIn(OPERATOR.email, OPERATOR.password)).body.expires_in, 3600);
  });
});

describe('a stack with short tokens and a 1 s reuse interval (a second gateway on the same database)', () => {
  let gateway;
  before(async () => {
    gateway = await startGateway(['--jwt-expiry-seconds', '2', '--refresh-token-reuse-interval', '1']);
  });
  after(() => gateway?.stop());

  test('an access token from Auth expires after --jwt-expiry-seconds: 401 PGRST303', async () => {
    const session = (await signIn(OPERATOR.email, OPERATOR.password, { base: gateway.url })).body;
    assert.equal(session.expires_in, 2);
    assert.equal(decodeJwt(session.access_token).iss, `${gateway.url}/auth/v1`);
    assert.equal((await get('events?limit=1', userHeaders(session.access_token), gateway.url)).status, 200);
    await sleep(3100);
    const r = await get('events?limit=1', userHeaders(session.access_token), gateway.url);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'PGRST303');
    const renewed = await refresh(session.refresh_token, { base: gateway.url });
    assert.equal(renewed.status, 200, 'the refresh token outlives the access token');
    assert.equal((await get('events?limit=1', userHeaders(renewed.body.access_token), gateway.url)).status, 200);
  });

  test('reusing an old token after the reuse interval ends the whole session: 400 refresh_token_already_used', async () => {
    const first = (await signIn(OPERATOR.email, OPERATOR.password, { base: gateway.url })).body;
    const second = (await refresh(first.refresh_token, { base: gateway.url })).body;
    const third = (await refresh(second.refresh_token, { base: gateway.url })).body;
    await sleep(1300);
    const parent = await refresh(second.refresh_token, { base: gateway.url });
    assert.equal(parent.status, 200, 'the active token\'s parent is let through at any time');
    assert.equal(parent.body.refresh_token, third.refresh_token);
    const reused = await refresh(first.refresh_token, { base: gateway.url });
    assert.equal(reused.status, 400);
    assert.deepEqual(reused.body, { code: 400, error_code: 'refresh_token_already_used', msg: 'Invalid Refresh Token: Already Used' });
    for (const token of [third.refresh_token, second.refresh_token, first.refresh_token]) {
      const r = await refresh(token, { base: gateway.url });
      assert.equal(r.body.error_code, 'refresh_token_not_found', 'every token of the session is revoked');
    }
    const me = await authCall('/user', { base: gateway.url, headers: { Authorization: `Bearer ${third.access_token}` } });
    assert.equal(me.body.error_code, 'session_not_found');
  });

  test('the anon key reads nothing and may not use a queue; the operator still may', async () => {
    const anon = { apikey: ANON, Authorization: `Bearer ${ANON}` };
    const publishable = { apikey: PUBLISHABLE };
    for (const headers of [anon, publishable]) {
      const r = await get('events?limit=5', headers, gateway.url);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, [], 'row-level security hides every row');
    }
    const send = await rpc('send', { queue_name: 'order_jobs', message: {} }, anon, { base: gateway.url });
    assert.equal(send.status, 401, 'PostgREST answers anon\'s 42501 with 401');
    assert.equal(send.body.code, '42501');
    assert.deepEqual((await rpc('read', { queue_name: 'order_jobs', sleep_seconds: 0, n: 5 }, anon, { base: gateway.url })).body, []);
    assert.deepEqual((await get('events?limit=5', anon)).body, [], 'nor through the stack\'s own gateway');
    const session = (await signIn(OPERATOR.email, OPERATOR.password, { base: gateway.url })).body;
    assert.equal((await get('events?limit=5', userHeaders(session.access_token), gateway.url)).body.length, 5);
  });

  test('the test facility opens one table to anon for good (PUT /_admin/tables/{name}/anon), and closes it again', async () => {
    const name = `contract_anon_${process.pid}_${Date.now() % 1e6}`;
    const created = await fetch(`${GATEWAY}/_admin/tables`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }),
    });
    assert.equal(created.status, 201);
    await insert(name, [{ type: 't', source: uniqueSource('anon') }]);
    const anon = { apikey: ANON };
    assert.deepEqual((await get(name, anon, gateway.url)).body, [], 'protected like the seeded tables');
    const open = (value) => fetch(`${GATEWAY}/_admin/tables/${name}/anon`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ open: value }),
    });
    assert.equal((await open(true)).status, 204);
    assert.equal((await get(name, anon, gateway.url)).body.length, 1);
    assert.equal((await open(false)).status, 204);
    assert.deepEqual((await get(name, anon, gateway.url)).body, []);
    const opened = `${name}_open`;
    await fetch(`${GATEWAY}/_admin/tables`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: opened, open_to_anon: true }),
    });
    await insert(opened, [{ type: 't', source: 's' }]);
    assert.equal((await get(opened, anon, gateway.url)).body.length, 1, '"open_to_anon": true at creation');
    assert.equal((await fetch(`${GATEWAY}/_admin/tables/no_such_table/anon`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ open: true }),
    })).status, 404);
  });

  test('a queue the test facility opens to anon answers the anon key', async () => {
    const name = `c_anon_${process.pid % 10000}_${Date.now() % 1e6}`;
    const created = await fetch(`${GATEWAY}/_admin/queues`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, open_to_anon: true }),
    });
    assert.equal(created.status, 201);
    const anon = { apikey: ANON };
    const [id] = (await rpc('send', { queue_name: name, message: { n: 1 } }, anon, { base: gateway.url })).body;
    const read = await rpc('read', { queue_name: name, sleep_seconds: 30, n: 1 }, anon, { base: gateway.url });
    assert.equal(read.body[0].msg_id, id);
    assert.equal((await rpc('archive', { queue_name: name, message_id: id }, anon, { base: gateway.url })).body, true);
  });
});

describe('the token endpoint\'s rate limit (GoTrue api/middleware.go, performRateLimiting; a second gateway)', () => {
  test('past the burst, 429 over_request_rate_limit, whatever the grant', async () => {
    const gateway = await startGateway(['--auth-rate-limit-burst', '3', '--auth-rate-limit-token', '1']);
    try {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await signIn(OPERATOR.email, i === 1 ? 'wrong' : OPERATOR.password, { base: gateway.url }));
      assert.deepEqual(answers.map((r) => r.status), [200, 400, 200, 429]);
      assert.deepEqual(answers[3].body, { code: 429, error_code: 'over_request_rate_limit', msg: 'Request rate limit reached' });
      const refreshed = await refresh(answers[0].body.refresh_token, { base: gateway.url });
      assert.equal(refreshed.status, 429, 'refreshes count too');
      const versioned = await signIn(OPERATOR.email, OPERATOR.password, { base: gateway.url, headers: { 'X-Supabase-Api-Version': '2024-01-01' } });
      assert.deepEqual(versioned.body, { code: 'over_request_rate_limit', message: 'Request rate limit reached' });
    } finally {
      await gateway.stop();
    }
  });
});

describe('the official client, @supabase/supabase-js, unchanged', () => {
  test('signInWithPassword, from(table).select(), refreshSession, getUser, signOut', async () => {
    const supabase = createClient(GATEWAY, PUBLISHABLE, {
      auth: { persistSession: false, autoRefreshToken: false },
      // Node 20 has no WebSocket, and nothing here uses Realtime.
      realtime: { transport: class {} },
    });
    const wrong = await supabase.auth.signInWithPassword({ email: OPERATOR.email, password: 'wrong' });
    assert.equal(wrong.error.name, 'AuthApiError');
    assert.equal(wrong.error.status, 400);
    assert.equal(wrong.error.code, 'invalid_credentials');
    const { data, error } = await supabase.auth.signInWithPassword(OPERATOR);
    assert.equal(error, null);
    assert.equal(data.user.email, OPERATOR.email);
    const rows = await supabase.from('events').select('id,type').limit(3);
    assert.equal(rows.error, null);
    assert.equal(rows.data.length, 3);
    const queue = await supabase.schema('pgmq_public').rpc('send', { queue_name: 'email_jobs', message: { via: 'supabase-js' } });
    assert.equal(queue.error, null);
    const refreshed = await supabase.auth.refreshSession();
    assert.equal(refreshed.error, null);
    assert.notEqual(refreshed.data.session.refresh_token, data.session.refresh_token);
    const me = await supabase.auth.getUser();
    assert.equal(me.data.user.id, data.user.id);
    const out = await supabase.auth.signOut();
    assert.equal(out.error, null);
    const after = await supabase.auth.refreshSession({ refresh_token: refreshed.data.session.refresh_token });
    assert.equal(after.error.code, 'refresh_token_not_found');
  });
});
