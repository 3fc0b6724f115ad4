// Contract tests for the local gateway: real HTTP against a real PostgreSQL,
// each checked against PostgREST's or Supabase's documented behaviour (the
// section is named in each test). Run with the back end up (scripts/backend.sh).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  REST, GATEWAY, ANON, PUBLISHABLE, SERVICE_ROLE, SECRET_KEY, JWT_SECRET, anonHeaders, operatorHeaders, rest, insert, setFaults, signJwt, uniqueSource,
} from './stack.mjs';

after(() => setFaults({}));

describe('keys (Supabase docs: "API keys"; PostgREST docs: "Authentication", "Errors")', () => {
  test('no apikey: 401 from the gateway with Kong\'s body', async () => {
    const r = await fetch(`${REST}/events?limit=1`);
    assert.equal(r.status, 401);
    assert.deepEqual(await r.json(), {
      message: 'No API key found in request',
      hint: 'No `apikey` request header or url param was found.',
    });
  });

  test('a wrong apikey: 401 "Invalid API key"', async () => {
    const r = await rest('events', [['limit', '1']], { apikey: 'not-a-key', Authorization: '' });
    assert.equal(r.status, 401);
    assert.equal(r.body.message, 'Invalid API key');
  });

  test('the anon JWT, the publishable key and the apikey query parameter are accepted', async () => {
    assert.equal((await rest('events', [['limit', '1']])).status, 200);
    const publishable = await fetch(`${REST}/events?limit=1`, { headers: { apikey: PUBLISHABLE } });
    assert.equal(publishable.status, 200);
    const query = await fetch(`${REST}/events?limit=1&apikey=${ANON}`);
    assert.equal(query.status, 200);
  });

  test('an expired bearer token: 401 PGRST303', async () => {
    const expired = signJwt({ role: 'anon', exp: 1000 });
    const r = await rest('events', [['limit', '1']], { Authorization: `Bearer ${expired}` });
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'PGRST303');
    assert.equal(r.body.message, 'JWT expired');
  });

  test('a bearer token signed with another secret: 401 PGRST301', async () => {
    const forged = signJwt({ role: 'service_role', exp: 4102444800 }, 'x'.repeat(40));
    const r = await rest('events', [['limit', '1']], { Authorization: `Bearer ${forged}` });
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'PGRST301');
    assert.deepEqual(Object.keys(r.body).sort(), ['code', 'details', 'hint', 'message']);
  });

  test('rotating the JWT secret revokes the old keys (test facility: PUT /_admin/jwt-secret)', async () => {
    const rotate = (jwt_secret) => fetch(`${GATEWAY}/_admin/jwt-secret`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jwt_secret }) });
    const fresh = await (await rotate('another-secret-of-at-least-thirty-two-chars')).text();
    try {
      assert.equal((await rest('events', [['limit', '1']])).status, 401, 'the old anon key is refused');
      assert.equal((await rest('events', [['limit', '1']], { apikey: fresh, Authorization: `Bearer ${fresh}` })).status, 200);
    } finally {
      assert.equal(await (await rotate(JWT_SECRET)).text(), ANON, 'the default secret signs the well-known key again');
    }
    assert.equal((await rest('events', [['limit', '1']])).status, 200);
  });

  test('anon may read but not insert: 401 with 42501 (PostgREST "Errors": insufficient privileges)', async () => {
    const r = await fetch(`${REST}/temp_events`, {
      method: 'POST',
      headers: { ...anonHeaders, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 't', source: 's' }),
    });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).code, '42501');
  });
});

describe('roles and claims (PostgREST docs: "Authentication" (user impersonation), "Transactions" (transaction-scoped settings); Supabase: auth.uid(), auth.jwt())', () => {
  const whoami = async (headers) => {
    const r = await fetch(`${REST}/rpc/sluice_whoami`, { headers });
    assert.equal(r.status, 200);
    return r.json();
  };

  test('the gateway connects as authenticator and runs each request as the role of its key or token', async () => {
    const anon = await whoami(anonHeaders);
    assert.equal(anon.session_user, 'authenticator');
    assert.equal(anon.current_user, 'anon');
    assert.equal((await whoami({ apikey: PUBLISHABLE })).current_user, 'anon');
    assert.equal((await whoami({ apikey: SERVICE_ROLE, Authorization: `Bearer ${SERVICE_ROLE}` })).current_user, 'service_role');
    assert.equal((await whoami({ apikey: SECRET_KEY })).current_user, 'service_role');
  });

  test('request.jwt.claims is the bearer token\'s payload, which auth.uid(), auth.role(), auth.email() and auth.jwt() read', async () => {
    const claims = {
      sub: '6f1c3a8e-2b4d-4e5f-9a7b-0c1d2e3f4a5b', role: 'authenticated', aud: 'authenticated',
      email: 'claims@contract.test', exp: 4102444800, app_metadata: { sluice_operator: false },
    };
    const me = await whoami({ apikey: ANON, Authorization: `Bearer ${signJwt(claims)}` });
    assert.equal(me.current_user, 'authenticated');
    assert.equal(me.uid, claims.sub);
    assert.equal(me.role, 'authenticated');
    assert.equal(me.email, claims.email);
    assert.deepEqual(me.jwt, claims);
  });

  test('without a bearer token the claims are the key\'s: the anon JWT\'s payload, or {"role"} for an sb_ key', async () => {
    const anon = await whoami({ apikey: ANON });
    assert.deepEqual(anon.jwt, { iss: 'supabase-demo', role: 'anon', exp: 1983812996 });
    assert.equal(anon.uid, null);
    assert.deepEqual((await whoami({ apikey: PUBLISHABLE })).jwt, { role: 'anon' });
  });

  test('a JWT without a role claim runs as the anonymous role', async () => {
    const me = await whoami({ apikey: ANON, Authorization: `Bearer ${signJwt({ exp: 4102444800 })}` });
    assert.equal(me.current_user, 'anon');
  });

  test('an expired or forged user token is refused on RPC as on reads: PGRST303, PGRST301', async () => {
    const expired = signJwt({ sub: '6f1c3a8e-2b4d-4e5f-9a7b-0c1d2e3f4a5b', role: 'authenticated', exp: Math.floor(Date.now() / 1000) - 1 });
    const r = await fetch(`${REST}/rpc/sluice_whoami`, { headers: { apikey: ANON, Authorization: `Bearer ${expired}` } });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).code, 'PGRST303');
    const forged = signJwt({ role: 'authenticated', exp: 4102444800 }, 'f'.repeat(40));
    const f = await fetch(`${REST}/rpc/sluice_whoami`, { headers: { apikey: ANON, Authorization: `Bearer ${forged}` } });
    assert.equal(f.status, 401);
    assert.equal((await f.json()).code, 'PGRST301');
  });
});

describe('CORS (Supabase serves browsers from any origin)', () => {
  test('preflight allows the headers the app sends', async () => {
    const r = await fetch(`${REST}/events`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://127.0.0.1:8080',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'apikey,authorization,prefer,range',
      },
    });
    assert.ok(r.status === 200 || r.status === 204, `status ${r.status}`);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const allowed = (r.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of ['apikey', 'authorization', 'prefer', 'range']) assert.ok(allowed.includes(h) || allowed === '*', h);
  });

  test('Content-Range is exposed to scripts', async () => {
    const r = await fetch(`${REST}/events?limit=1`, { headers: { ...anonHeaders, Origin: 'http://127.0.0.1:8080' } });
    assert.match(r.headers.get('access-control-expose-headers') ?? '', /content-range/i);
  });
});

describe('reading (PostgREST docs: "Tables and Views")', () => {
  test('select picks and renames columns ("Vertical Filtering", "Renaming Columns")', async () => {
    const r = await rest('events', [['select', 'id,when:occurred_at'], ['limit', '2']]);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body[0]).sort(), ['id', 'when']);
  });

  test('timestamps come back as PostgreSQL writes them, with microseconds and offset', async () => {
    const r = await rest('staff_room_events', [['select', 'created_at'], ['limit', '1']]);
    assert.match(r.body[0].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00$/);
  });

  test('unknown columns: 400 with 42703, naming the column ("Errors")', async () => {
    for (const params of [[['select', 'nope']], [['nope', 'eq.1']], [['order', 'nope.asc']], [['or', '(type.eq.a,nope.eq.b)']]]) {
      const r = await rest('events', params);
      assert.equal(r.status, 400, JSON.stringify(params));
      assert.equal(r.body.code, '42703');
      assert.equal(r.body.message, 'column events.nope does not exist');
    }
  });

  test('unknown table: 404 PGRST205 ("Errors": schema cache)', async () => {
    const r = await rest('evnts');
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, {
      code: 'PGRST205', details: null, hint: null,
      message: "Could not find the table 'public.evnts' in the schema cache",
    });
  });

  test('malformed filters: 400 PGRST100 ("Errors")', async () => {
    for (const params of [[['or', '(type.eq.a']], [['type', 'between.1']], [['id', 'is.maybe']], [['order', 'id.sideways']], [['limit', 'many']]]) {
      const r = await rest('temp_events', params);
      assert.equal(r.status, 400, JSON.stringify(params));
      assert.equal(r.body.code, 'PGRST100', JSON.stringify(params));
    }
  });

  test('a value that does not cast: 400 with 22007, as when "+" travels unencoded ("Reserved characters")', async () => {
    const r = await fetch(`${REST}/staff_room_events?created_at=gt.2024-01-01T00:00:00+00:00`, { headers: anonHeaders });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).code, '22007');
    const ok = await rest('staff_room_events', [['created_at', 'gt.2024-01-01T00:00:00+00:00'], ['limit', '1']]);
    assert.equal(ok.status, 200);
  });
});

describe('filters (PostgREST docs: "Horizontal Filtering", "Logical operators")', () => {
  const source = uniqueSource('filters');
  const at = (s) => `2021-03-04T05:06:${String(s).padStart(2, '0')}.123456+00:00`;
  let rows;
  test('setup: insert known rows', async () => {
    rows = await insert('temp_events', [
      { created_at: at(1), type: 'a', source, payload: { n: 1 } },
      { created_at: at(2), type: 'b,c', source, payload: { n: 2 }, metadata: { correlation_id: 'x' } },
      { created_at: at(2), type: 'say "hi"', source, payload: { n: 3 } },
      { created_at: at(3), type: 'd)e', source, payload: { n: 4 } },
    ]);
    assert.equal(rows.length, 4);
  });

  const types = (r) => r.body.map((row) => row.type);
  const q = (...params) => rest('temp_events', [['source', `eq.${source}`], ['order', 'created_at.asc,id.asc'], ...params]);

  test('eq, neq, gt, gte, lt, lte', async () => {
    assert.deepEqual(types(await q(['type', 'eq.a'])), ['a']);
    assert.equal((await q(['type', 'neq.a'])).body.length, 3);
    assert.deepEqual(types(await q(['created_at', `gt.${at(2)}`])), ['d)e']);
    assert.equal((await q(['created_at', `gte.${at(2)}`])).body.length, 3);
    assert.deepEqual(types(await q(['created_at', `lt.${at(2)}`])), ['a']);
    assert.equal((await q(['created_at', `lte.${at(2)}`])).body.length, 3);
  });

  test('in with quoted values, is null, not', async () => {
    assert.deepEqual(types(await q(['type', 'in.(a,"b,c","d)e")'])), ['a', 'b,c', 'd)e']);
    assert.equal((await q(['metadata', 'is.null'])).body.length, 3);
    assert.deepEqual(types(await q(['metadata', 'not.is.null'])), ['b,c']);
  });

  test('nested or/and with quoted, escaped values', async () => {
    const r = await q(['or', `(type.eq."d)e",and(created_at.eq."${at(2)}",type.eq."say \\"hi\\""))`]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(types(r), ['say "hi"', 'd)e']);
  });

  test('full-text search on a json column: wfts and plfts ("Full-Text Search", automatic tsvector conversion)', async () => {
    const own = uniqueSource('fts');
    const words = await insert('temp_events', [
      { created_at: at(4), type: 'fts', source: own, payload: { note: 'refund issued late' } },
      { created_at: at(5), type: 'fts', source: own, payload: { note: 'order shipped' } },
    ]);
    assert.equal(words.length, 2);
    const q = (...params) => rest('temp_events', [['source', `eq.${own}`], ['order', 'created_at.asc'], ...params]);
    const wfts = await q(['payload', 'wfts.refund late']);
    assert.equal(wfts.status, 200, JSON.stringify(wfts.body));
    assert.deepEqual(wfts.body.map((r) => r.payload.note), ['refund issued late']);
    assert.deepEqual((await q(['payload', 'plfts.shipped'])).body.map((r) => r.payload.note), ['order shipped']);
    assert.equal((await q(['payload', 'wfts.refund -late'])).body.length, 0);
  });

  test('keyset pagination on (timestamp, id) visits every row once, ties included', async () => {
    const seen = [];
    let cursor = null;
    for (let page = 0; page < 10; page++) {
      const params = [['limit', '1']];
      if (cursor) params.push(['or', `(created_at.gt."${cursor.t}",and(created_at.eq."${cursor.t}",id.gt.${cursor.id}))`]);
      const r = await q(...params);
      if (r.body.length === 0) break;
      const row = r.body[0];
      seen.push(row.id);
      cursor = { t: row.created_at, id: row.id };
    }
    assert.deepEqual(seen, rows.map((r) => r.id).sort((a, b) => a - b));
  });

  test('order with desc and nulls placement ("Ordering")', async () => {
    const desc = await q(['order', 'created_at.desc,id.desc']);
    assert.deepEqual(types(desc), ['d)e', 'say "hi"', 'b,c', 'a']);
    const nullsLast = await rest('temp_events', [['source', `eq.${source}`], ['order', 'metadata.desc.nullslast,id.asc']]);
    assert.equal(nullsLast.body[0].type, 'b,c');
    const nullsFirst = await rest('temp_events', [['source', `eq.${source}`], ['order', 'metadata.asc.nullsfirst,id.asc']]);
    assert.equal(nullsFirst.body[3].type, 'b,c');
  });

  test('limit, offset, Range and Content-Range ("Limits and Pagination", "Exact Count")', async () => {
    const page = await q(['limit', '2'], ['offset', '1']);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-range'), '1-2/*');
    const counted = await q(['limit', '2']).then(() => rest('temp_events', [['source', `eq.${source}`], ['limit', '2']], { Prefer: 'count=exact' }));
    assert.equal(counted.status, 206);
    assert.equal(counted.headers.get('content-range'), '0-1/4');
    const ranged = await rest('temp_events', [['source', `eq.${source}`], ['order', 'id.asc']], { Range: '1-2', 'Range-Unit': 'items' });
    assert.deepEqual(ranged.body.map((r) => r.id), [rows[1].id, rows[2].id]);
    const empty = await rest('temp_events', [['source', 'eq.nobody']], { Prefer: 'count=exact' });
    assert.equal(empty.status, 200);
    assert.equal(empty.headers.get('content-range'), '*/0');
    const past = await rest('temp_events', [['source', `eq.${source}`], ['offset', '10']], { Prefer: 'count=exact' });
    assert.equal(past.status, 416);
    assert.equal(past.body.code, 'PGRST103');
  });

  test('HEAD with count=exact gives the backlog without rows', async () => {
    const r = await fetch(`${REST}/temp_events?source=eq.${source}`, { method: 'HEAD', headers: { ...(await operatorHeaders()), Prefer: 'count=exact' } });
    assert.equal(r.headers.get('content-range'), '0-3/4');
    assert.equal(await r.text(), '');
  });
});

describe('inserts (PostgREST docs: "Insert")', () => {
  test('201, with the rows back when asked for return=representation', async () => {
    const source = uniqueSource('insert');
    const r = await fetch(`${REST}/trello_events`, {
      method: 'POST',
      headers: { ...{ apikey: SERVICE_ROLE, Authorization: `Bearer ${SERVICE_ROLE}` }, 'Content-Type': 'application/json', Prefer: 'return=representation' },
      body: JSON.stringify({ action_id: `a-${Date.now()}`, type: 'card.created', source }),
    });
    assert.equal(r.status, 201);
    const [row] = await r.json();
    assert.equal(row.source, source);
    assert.ok(row.created_at, 'defaults are applied to missing columns');
    const minimal = await fetch(`${REST}/trello_events`, {
      method: 'POST',
      headers: { apikey: SERVICE_ROLE, 'Content-Type': 'application/json' },
      body: JSON.stringify({ action_id: `b-${Date.now()}`, type: 'card.moved', source }),
    });
    assert.equal(minimal.status, 201);
    assert.equal(await minimal.text(), '');
  });

  test('an unknown column: 400 PGRST204; a duplicate key: 409 23505', async () => {
    const unknown = await fetch(`${REST}/trello_events`, {
      method: 'POST', headers: { apikey: SERVICE_ROLE, 'Content-Type': 'application/json' },
      body: JSON.stringify({ nope: 1 }),
    });
    assert.equal(unknown.status, 400);
    assert.equal((await unknown.json()).code, 'PGRST204');
    const id = `dup-${Date.now()}`;
    await insert('trello_events', [{ action_id: id, type: 't', source: 's' }]);
    const dup = await fetch(`${REST}/trello_events`, {
      method: 'POST', headers: { apikey: SERVICE_ROLE, 'Content-Type': 'application/json' },
      body: JSON.stringify({ action_id: id, type: 't', source: 's' }),
    });
    assert.equal(dup.status, 409);
    assert.equal((await dup.json()).code, '23505');
  });
});

describe('injection attempts stay data', () => {
  // Rows older than a minute: the generator adds rows at most 20 s old, so
  // their count changes only if an attempt wrote or dropped something.
  const settled = new Date(Date.now() - 60_000).toISOString().replace('Z', '+00:00');
  const count = async () => {
    const r = await rest('events', [['select', 'id'], ['occurred_at', `lt.${settled}`], ['limit', '1']], { Prefer: 'count=exact' });
    return Number(r.headers.get('content-range').split('/')[1]);
  };

  test('in table names', async () => {
    for (const table of ['events;drop table events', 'events"', "events'--", 'pg_catalog.pg_user', '..%2Fevents']) {
      const r = await fetch(`${REST}/${encodeURIComponent(table)}`, { headers: anonHeaders });
      assert.equal(r.status, 404, table);
    }
    assert.equal((await rest('events', [['limit', '1']])).status, 200);
  });

  test('in column names', async () => {
    for (const params of [[['select', 'id,"type"']], [['id"; drop table events; --', 'eq.1']], [['order', 'id;delete']]]) {
      const r = await rest('events', params);
      assert.equal(r.status, 400, JSON.stringify(params));
    }
  });

  test('in filter values', async () => {
    const before = await count();
    assert.ok(before > 0, 'the seed is there');
    for (const params of [
      [['type', "eq.'; drop table events; --"]],
      [['type', 'in.("a\'); drop table events; --",b)']],
      [['or', '(type.eq."x\\"); drop table events; --")']],
    ]) {
      const r = await rest('events', params);
      assert.equal(r.status, 200, JSON.stringify(params));
      assert.deepEqual(r.body, []);
    }
    assert.equal((await rest('events', [['limit', '1']])).status, 200);
    assert.equal(await count(), before, 'not a row more or less');
  });
});

describe('the stack\'s controls (/_admin) answer only this machine', () => {
  test('a web page (a request with an Origin) and a foreign Host are refused, without CORS', async () => {
    const refused = await fetch(`${GATEWAY}/_admin/faults`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    const { request } = await import('node:http');
    const url = new URL(`${GATEWAY}/_admin/faults`);
    const status = await new Promise((ok, fail) => {
      request({ host: url.hostname, port: url.port, path: url.pathname, headers: { Host: `rebound.example:${url.port}` } }, (r) => { r.resume(); ok(r.statusCode); })
        .on('error', fail).end();
    });
    assert.equal(status, 403);
    assert.equal((await fetch(`${GATEWAY}/_admin/faults`)).status, 200);
  });

  test('a filter nested 1,000 deep is a 400, and the gateway lives on (PostgREST docs: "Logical operators")', async () => {
    const deep = `(${'and('.repeat(999)}id.eq.1${')'.repeat(999)})`;
    const r = await rest('events', [['or', deep]]);
    assert.equal(r.status, 400);
    assert.match(JSON.stringify(r.body), /nested deeper than/);
    assert.equal((await rest('events', [['limit', '1']])).status, 200);
  });

  test('a Range at the edge of u64 is a 416 (PostgREST docs: "Limits and Pagination")', async () => {
    const r = await fetch(`${REST}/events?select=id`, { headers: { ...anonHeaders, Range: '18446744073709551615-18446744073709551615' } });
    assert.equal(r.status, 416);
    assert.equal((await r.json()).code, 'PGRST103');
  });

  test('a user JWT with aud "authenticated" is accepted (PostgREST docs: "JWT aud Claim Validation")', async () => {
    const user = signJwt({ role: 'authenticated', aud: 'authenticated', exp: 4102444800 }, JWT_SECRET);
    const r = await fetch(`${REST}/events?limit=1`, { headers: { apikey: ANON, Authorization: `Bearer ${user}` } });
    assert.equal(r.status, 200);
  });
});

describe('fault injection (off by default; PUT /_admin/faults)', () => {
  test('a share of 500s', async () => {
    await setFaults({ error_rate: 1 });
    try {
      assert.equal((await rest('events', [['limit', '1']])).status, 500);
    } finally {
      await setFaults({});
    }
    assert.equal((await rest('events', [['limit', '1']])).status, 200);
  });

  test('dropped connections fail in the client', async () => {
    await setFaults({ drop_rate: 1 });
    try {
      await assert.rejects(async () => {
        const r = await fetch(`${REST}/events?limit=1`, { headers: anonHeaders });
        await r.text();
      });
    } finally {
      await setFaults({});
    }
  });

  test('malformed bodies', async () => {
    await setFaults({ malformed_rate: 1 });
    try {
      const r = await rest('events', [['limit', '1']]);
      assert.equal(r.status, 200);
      assert.equal(typeof r.body, 'string', 'the body is not JSON');
    } finally {
      await setFaults({});
    }
  });

  test('latency', async () => {
    await setFaults({ latency_ms: 300 });
    try {
      const started = Date.now();
      await rest('events', [['limit', '1']]);
      assert.ok(Date.now() - started >= 300);
    } finally {
      await setFaults({});
    }
  });

  test('the admin endpoint reports its settings', async () => {
    const r = await fetch(`${GATEWAY}/_admin/faults`);
    assert.deepEqual(await r.json(), { latency_ms: 0, error_rate: 0, drop_rate: 0, malformed_rate: 0 });
  });
});

describe('seed and generator', () => {
  const count = async (table) =>
    Number((await rest(table, [['select', 'created_at'], ['limit', '1']], { Prefer: 'count=exact' })).headers.get('content-range').split('/')[1]);

  test('the seed shares timestamps between neighbours, as real queues do', async () => {
    const r = await rest('staff_room_events', [['select', 'created_at'], ['order', 'created_at.asc,id.asc'], ['limit', '40']]);
    const stamps = r.body.map((row) => row.created_at);
    assert.ok(new Set(stamps).size < stamps.length, 'some rows share a timestamp');
  });

  test('the generator keeps inserting, and says how many were late or shared a timestamp', async () => {
    const tally = async () => (await fetch(`${GATEWAY}/_admin/generator`)).json();
    const before = await tally();
    const rowsBefore = (await Promise.all(['staff_room_events', 'temp_events', 'trello_events'].map(count))).reduce((a, b) => a + b);
    await new Promise((ok) => setTimeout(ok, 4500));
    const after = await tally();
    assert.ok(after.inserted > before.inserted, `${before.inserted} → ${after.inserted}`);
    assert.ok(after.late <= after.inserted && after.same_timestamp <= after.inserted);
    const rowsAfter = (await Promise.all(['staff_room_events', 'temp_events', 'trello_events'].map(count))).reduce((a, b) => a + b);
    assert.ok(rowsAfter >= rowsBefore, 'rows only accumulate');
  });
});
