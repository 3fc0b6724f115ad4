// Never lose an event: an agent that goes down, a wrong token, each class of
// answer, keys no header can carry, replies held open after `done`, and full
// dead letters; and failing closed (no agent chosen, a link to a new table,
// no Web Locks). Each ends with every event either done once at the agent or
// kept as a dead letter, and nothing dead-lettered that the agent never saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_URL, suiteWithAgent, openApp, openTable, logIn, deadLettersKey, ledgerHeadKey, drainedCount, saveAgent, screenshot } from './harness.mjs';
import { ANON, freshTable, insert, insertEvents, stamp, configureAgent, tally, eventually, sleep, agentFront, sql } from './backend.mjs';

const env = suiteWithAgent();

const gate = (page) => page.getByRole('region', { name: 'Gate' });
const gateState = (page) => gate(page).getAttribute('data-state');
const deadLetters = (page, table) => page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? '[]'), deadLettersKey(table));

test('an agent that goes down holds the event at the gate, dead-letters nothing, and goes on by itself when back', async () => {
  const front = await agentFront();
  const table = await freshTable('outage');
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await saveAgent(page, { url: front.url, timeout: '2', attempts: '1' });
  const before = await insertEvents(table, [stamp(-3000), stamp(-2000)]);
  await eventually(async () => (await drainedCount(page)) === 2, 20_000, 'two drained while the agent is up');
  await front.down();
  const during = await insertEvents(table, [stamp(-1000), stamp(-900), stamp(-800)]);
  await eventually(async () => (await gateState(page)) === 'offline', 20_000, 'offline');
  assert.match(await gate(page).innerText(), /agent offline: the agent could not be reached/);
  assert.match(await gate(page).innerText(), /next try at \d\d:\d\d:\d\d/);
  await screenshot(page, 'gate-agent-offline');
  // Tries fail for over a minute (attempts is 1): none may dead-letter it,
  // and after a minute an alert says the agent is not answering.
  await eventually(async () => /The agent has not answered for 1 min/.test(await page.getByRole('alert').innerText()), 150_000, 'the alert after a minute');
  assert.match(await page.getByRole('alert').innerText(), /waits at the gate, and draining goes on by itself/);
  assert.deepEqual(await deadLetters(page, table), []);
  assert.equal(await drainedCount(page), 2);
  await front.up();
  const ids = [...before, ...during].map((r) => String(r.id));
  await eventually(async () => (await drainedCount(page)) === 5, 90_000, 'drained by itself once the agent is back');
  const t = await tally(table);
  assert.deepEqual(Object.keys(t.done).sort(), [...ids].sort());
  assert.ok(Object.values(t.done).every((n) => n === 1), 'each done once');
  assert.deepEqual(t.order, ids, 'oldest first, the held event first');
  assert.deepEqual(await deadLetters(page, table), []);
  await context.close();
  await front.close();
});

test('a wrong token halts the drain with the status; nothing is dead-lettered; saving the right token goes on with the same event', async () => {
  await configureAgent({ latency_ms: 0, mode: 'json', token: 's3cret' });
  const table = await freshTable('token');
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await saveAgent(page, { token: 'wrong', attempts: '2' });
  const rows = await insertEvents(table, [stamp(-3000), stamp(-2000), stamp(-1000)]);
  await eventually(async () => /HTTP 401/.test(await gate(page).innerText()), 20_000, 'halted on 401');
  assert.equal(await gateState(page), 'offline');
  assert.match(await gate(page).innerText(), /Draining halted: the agent refused the token \(HTTP 401\).*check Token/);
  assert.match(await page.getByRole('alert').innerText(), /Draining halted/);
  await screenshot(page, 'gate-agent-halted');
  await sleep(2_000);
  const first = String(rows[0].id);
  assert.deepEqual((await tally(table)).counts, { [first]: 1 }, 'halted: not retried, nothing else sent');
  assert.deepEqual(await deadLetters(page, table), []);
  assert.equal(await drainedCount(page), 0);
  await saveAgent(page, { token: 's3cret', attempts: '2' });
  await eventually(async () => (await drainedCount(page)) === 3, 20_000, 'drained with the right token');
  const t = await tally(table);
  assert.deepEqual(t.order, [first, first, String(rows[1].id), String(rows[2].id)], 'the same event went on first');
  assert.deepEqual(Object.keys(t.done).sort(), rows.map((r) => String(r.id)).sort());
  assert.deepEqual(await deadLetters(page, table), []);
  await context.close();
});

test('each class of answer: a redirect and 404 halt, 500 is retried then dead-lettered, 409 is dead-lettered at once', async () => {
  const table = await freshTable('statuses');
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await saveAgent(page, { attempts: '2' });
  await configureAgent({ latency_ms: 0, mode: 'json', answer_status: 302 });
  const [held] = await insertEvents(table, [stamp(-2000)]);
  await eventually(async () => /redirects are not followed/.test(await gate(page).innerText()), 20_000, 'halted on a redirect');
  await configureAgent({ latency_ms: 0, mode: 'json', answer_status: 404 });
  await page.getByRole('button', { name: 'Retry the event at the gate now' }).click();
  await eventually(async () => /there is no agent at this address \(HTTP 404\).*check Agent URL/.test(await gate(page).innerText()), 20_000, 'halted on 404');
  assert.deepEqual(await deadLetters(page, table), [], 'settings problems dead-letter nothing');
  await configureAgent({ latency_ms: 0, mode: 'json', answer_status: 500, retry_after_s: 1 });
  await page.getByRole('button', { name: 'Retry the event at the gate now' }).click();
  await eventually(async () => (await deadLetters(page, table)).length === 1, 20_000, 'dead-lettered after its attempts');
  const [letter] = await deadLetters(page, table);
  assert.equal(letter.key, String(held.id));
  assert.equal(letter.attempts, 2, 'only the answers that judged the event count as attempts');
  assert.match(letter.reason, /gave up after 2 attempts: the agent failed \(HTTP 500\)/);
  await configureAgent({ latency_ms: 0, mode: 'json', answer_status: 409 });
  const [conflict] = await insertEvents(table, [stamp(-1000)]);
  await eventually(async () => (await deadLetters(page, table)).length === 2, 20_000, '409 dead-lettered');
  assert.equal((await tally(table)).counts[String(conflict.id)], 1, 'a refusal is not retried');
  await configureAgent({ latency_ms: 0, mode: 'json' });
  const [fine] = await insertEvents(table, [stamp(0)]);
  await eventually(async () => (await tally(table)).done[String(fine.id)] === 1, 20_000, 'an ordinary event passes');
  assert.equal((await tally(table)).counts[String(held.id)], 4, 'redirect, 404 and two 500s: the same event each time');
  await context.close();
});

test('keys no header can carry travel percent-encoded, unchanged in the body, and never share an Idempotency-Key', async () => {
  const table = await freshTable('hostile', 'text');
  const keys = ['😀 café', ' lead', '%20lead', 'tab\there', 'plain-42'];
  await insert(table, keys.map((id, i) => ({ id, created_at: stamp(-5000 + i * 100), type: 'order.created' })));
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await eventually(async () => (await drainedCount(page)) === keys.length, 30_000, 'all hostile keys drained');
  const t = await tally(table);
  assert.deepEqual(t.order, keys, 'each key once, in order, as the agent decoded it');
  assert.deepEqual(errors, [], 'the page never panicked');
  await context.close();
});

test('a done followed by a connection held open counts as done, in JSON and in ndjson', async () => {
  const table = await freshTable('held_open');
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  // A timeout shorter than the hold: waiting for the close would fail each attempt.
  await saveAgent(page, { timeout: '3', attempts: '1' });
  for (const mode of ['json', 'ndjson']) {
    await configureAgent({ latency_ms: 50, mode, progress_steps: 1, hold_open_after_done: true });
    const rows = await insertEvents(table, [stamp(0), stamp(1)]);
    await eventually(async () => {
      const done = (await tally(table)).done;
      return rows.every((r) => done[String(r.id)] === 1);
    }, 30_000, `${mode}: both done`);
  }
  await eventually(async () => (await drainedCount(page)) === 4, 20_000, 'all four drained');
  assert.deepEqual(await deadLetters(page, table), [], 'none timed out into the dead letters');
  await context.close();
});

test('full dead letters pause the drain and drop none; the refused event stays in the table until there is room', async () => {
  await configureAgent({ latency_ms: 0, mode: 'json', reject_rate: 1 });
  const table = await freshTable('letters_full');
  const context = await env.browser.newContext();
  await context.addInitScript(([key]) => {
    if (localStorage.getItem(key) === null) {
      const letters = Array.from({ length: 100 }, (_, i) => ({ key: `old-${i}`, event: { id: `old-${i}` }, reason: 'earlier', attempts: 1, at_ms: 0 }));
      localStorage.setItem(key, JSON.stringify(letters));
    }
  }, [deadLettersKey(table)]);
  const { page } = await openTable(context, env.server.url, table, ANON);
  page.on('dialog', (dialog) => dialog.accept());
  const rows = await insertEvents(table, [stamp(-2000), stamp(-1000)]);
  const first = String(rows[0].id);
  await eventually(async () => /dead letters of .* are full/.test(await page.getByRole('alert').innerText()), 20_000, 'full');
  assert.ok(await page.getByRole('button', { name: 'Resume' }).isVisible(), 'paused');
  const letters = await deadLetters(page, table);
  assert.equal(letters.length, 100);
  assert.equal(letters[0].key, 'old-0', 'none dropped');
  assert.equal(await drainedCount(page), 0, 'the refused event is not handled');
  assert.deepEqual((await tally(table)).counts, { [first]: 1 }, 'nothing admitted after it');
  // Make room, let the agent accept it, resume: the same event goes first.
  await page.getByRole('button', { name: 'Discard old-0' }).click();
  await configureAgent({ latency_ms: 0, mode: 'json' });
  await page.getByRole('button', { name: 'Resume' }).click();
  await eventually(async () => (await drainedCount(page)) === 2, 20_000, 'both drained after resume');
  assert.deepEqual((await tally(table)).order, [first, first, String(rows[1].id)]);
  assert.equal((await deadLetters(page, table)).length, 99);
  await context.close();
});

test('fail closed: with config.json unreadable the page says so, and nothing drains until an agent or pass-through is chosen', async () => {
  const table = await freshTable('no_config');
  const rows = await insertEvents(table, [stamp(-2000), stamp(-1000)]);
  const context = await env.browser.newContext();
  await context.route('**/config.json', (route) => route.fulfill({ status: 500, body: 'upstream error' }));
  const { page } = await openApp(context, `${env.server.url}?table=${table}`);
  assert.match(await page.getByRole('alert').innerText(), /config\.json could not be read \(HTTP 500\)/);
  // Nothing pre-fills the form: the project is typed.
  await logIn(page, { key: ANON });
  await eventually(async () => /No agent chosen/.test(await gate(page).innerText()), 20_000, 'no agent chosen');
  await sleep(3_000);
  assert.equal(await drainedCount(page), 0, 'nothing drained without an agent');
  assert.deepEqual((await tally(table)).counts, {});
  assert.ok(await page.getByText('No agent chosen: nothing drains until you enter an Agent URL or tick Pass-through.').isVisible());
  await saveAgent(page, {});
  await eventually(async () => (await drainedCount(page)) === 2, 20_000, 'drained once an agent is chosen');
  assert.deepEqual((await tally(table)).order, rows.map((r) => String(r.id)));
  await context.close();
});

test('a ?table= link to a table not in the list asks before draining it', async () => {
  const table = await freshTable('deep_link');
  await insertEvents(table, [stamp(-1000)]);
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.server.url}?table=${table}`);
  const offer = page.getByRole('region', { name: 'Table from a link' });
  await offer.waitFor();
  assert.match(await offer.innerText(), new RegExp(`opens the table ${table} .*not in your sources`, 's'));
  await logIn(page, { key: ANON });
  await screenshot(page, 'link-offer');
  await offer.getByRole('button', { name: 'Not now' }).click();
  await sleep(3_000);
  assert.deepEqual((await tally(table)).counts, {}, 'nothing drained without a yes');
  assert.equal(await offer.count(), 0);
  await page.reload();
  await offer.getByRole('button', { name: `Drain ${table}` }).click();
  await eventually(async () => (await drainedCount(page)) === 1, 20_000, 'drained after a yes');
  await page.reload();
  await eventually(async () => (await page.getByRole('region', { name: 'Source', exact: true }).innerText()).includes(table), 20_000, 'selected again');
  assert.equal(await offer.count(), 0, 'once added, a link no longer asks');
  await context.close();
});

test('without Web Locks a table is only watched until the operator says no other tab drains it', async () => {
  for (const answer of ['dismiss', 'accept']) {
    const table = await freshTable(`no_locks_${answer}`);
    await insertEvents(table, [stamp(-1000)]);
    const context = await env.browser.newContext();
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }));
    const { page } = await openTable(context, env.server.url, table, ANON);
    // Asked in the page, not with a dialog that would freeze it.
    const question = page.getByRole('alertdialog', { name: 'Question' });
    await question.waitFor({ timeout: 20_000 });
    assert.match(await question.textContent(), /cannot keep other tabs from draining/);
    await question.getByRole('button', { name: answer === 'accept' ? 'Drain here' : 'Watch only' }).click();
    await question.waitFor({ state: 'detached' });
    if (answer === 'dismiss') {
      await eventually(async () => page.getByLabel('Watch only').isChecked(), 10_000, 'watch only');
      await sleep(3_000);
      assert.deepEqual((await tally(table)).counts, {}, 'declined: only watched');
      await page.getByLabel('Watch only').uncheck();
    }
    await eventually(async () => (await drainedCount(page)) === 1, 20_000, `drained (${answer})`);
    await context.close();
  }
});

test("the agent's token is kept for the tab unless the login is remembered", async () => {
  for (const remember of [false, true]) {
    const context = await env.browser.newContext();
    const { page } = await openApp(context, env.server.url);
    await logIn(page, { key: ANON, remember });
    await saveAgent(page, { token: 'tab-secret' });
    const kept = await page.evaluate(() => ({
      settings: JSON.parse(localStorage.getItem('sluice:v1:agent')),
      local: localStorage.getItem('sluice:v1:agent-token'),
      session: sessionStorage.getItem('sluice:v1:agent-token'),
    }));
    assert.equal(kept.settings.token, '', 'never beside the other settings');
    assert.deepEqual([kept.local, kept.session], remember ? ['"tab-secret"', null] : [null, '"tab-secret"']);
    await page.reload();
    assert.equal(await page.getByLabel('Token').inputValue(), 'tab-secret', 'kept across a reload of the tab');
    const other = await context.newPage();
    await other.goto(env.server.url);
    await other.getByRole('region', { name: 'Gate' }).waitFor();
    assert.equal(await other.getByLabel('Token').inputValue(), remember ? 'tab-secret' : '', remember ? 'remembered' : 'another tab does not have it');
    await context.close();
  }
});

test('a row the app cannot parse is isolated and dead-lettered by its key; the rows after it go on', async () => {
  const table = await freshTable('unreadable');
  const rows = await insertEvents(table, [stamp(-5000), stamp(-4000)]);
  // Nested deeper than any JSON parser in the path allows: only SQL can write it.
  const [hostile] = (await sql(`INSERT INTO public.${table} (created_at, type, payload) VALUES (now() - interval '3 seconds', 'deep.row', (repeat('[', 300) || repeat(']', 300))::jsonb) RETURNING id`)).trim().split('\n');
  const after = await insertEvents(table, [stamp(-2000), stamp(-1000)]);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await eventually(async () => (await drainedCount(page)) === 5, 60_000, 'all five handled');
  assert.deepEqual((await tally(table)).order, [...rows, ...after].map((r) => String(r.id)), 'every readable row, in order');
  const [letter] = await deadLetters(page, table);
  assert.equal(letter.key, hostile);
  assert.match(letter.reason, /unreadable row: .*recursion limit/);
  assert.equal(letter.attempts, 0, 'never sent to the agent');
  await context.close();
});

test('rows with no timestamp are counted and shown, and the source dialog says how to fix them', async () => {
  const table = await freshTable('no_timestamp');
  await insertEvents(table, [stamp(-1000)]);
  await sql(`ALTER TABLE public.${table} ALTER COLUMN created_at DROP NOT NULL; INSERT INTO public.${table} (created_at, type) VALUES (NULL, 'a'), (NULL, 'b'), ('infinity', 'c')`);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  const note = page.getByRole('region', { name: 'Source', exact: true }).getByRole('note');
  await eventually(async () => (await note.count()) === 1, 20_000, 'the note');
  assert.equal(await note.innerText(), '3 rows have no timestamp and cannot be drained in order');
  await page.getByRole('button', { name: 'Source', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Select source' });
  assert.match(await dialog.getByRole('note').innerText(), new RegExp(`UPDATE ${table} SET created_at = now\\(\\) WHERE created_at IS NULL`));
  await screenshot(page, 'source-unorderable');
  await context.close();
});

test('"Clear history" pressed while an event is at the gate is not undone when that event finishes', async () => {
  // Done only after 8 s: pausing and clearing surely happen while the agent works on it.
  await configureAgent({ latency_ms: 8000, mode: 'ndjson', progress_steps: 2 });
  const table = await freshTable('clear_in_flight');
  const rows = await insertEvents(table, [stamp(-2000), stamp(-1000)]);
  const first = String(rows[0].id);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  page.on('dialog', (dialog) => dialog.accept());
  await eventually(async () => (await gateState(page)) === 'processing', 20_000, 'the first event at the gate');
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByRole('button', { name: 'Source', exact: true }).click();
  // In flight when the history is cleared: at the gate, arrived at the agent, not done there…
  assert.equal(await gateState(page), 'processing');
  const before = await tally(table);
  assert.deepEqual([before.counts[first], before.done[first]], [1, undefined], 'the first event is at the agent, not done');
  await page.getByRole('dialog', { name: 'Select source' }).getByRole('button', { name: 'Clear history', exact: true }).click();
  // …and still not done once the clear was confirmed: its done comes after the clear.
  assert.equal((await tally(table)).done[first], undefined, 'still in flight after the clear');
  await page.getByRole('dialog', { name: 'Select source' }).getByRole('button', { name: 'Close' }).click();
  await eventually(async () => (await tally(table)).done[first] === 1, 20_000, 'the event in flight finished');
  await sleep(1000);
  const head = await page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? 'null'), ledgerHeadKey(table));
  assert.ok(head === null || (head.handled === 0 && head.cursor === null), `the clear stands: ${JSON.stringify(head)}`);
  await configureAgent({ latency_ms: 0, mode: 'json' });
  await page.getByRole('button', { name: 'Resume' }).click();
  await eventually(async () => (await drainedCount(page)) === 2, 20_000, 'drained again from the oldest');
  assert.deepEqual((await tally(table)).order, [rows[0], rows[0], rows[1]].map((r) => String(r.id)), 'the cleared event goes again, as a clear means');
  await context.close();
});

test('stored agent settings out of bounds are refused on load, not trusted', async () => {
  const context = await env.browser.newContext();
  await context.addInitScript((url) => localStorage.setItem('sluice:v1:agent', JSON.stringify({ url, pass_through: false, token: '', timeout_s: 900, attempts: 5 })), AGENT_URL);
  const { page } = await openApp(context, env.server.url);
  assert.match(await page.getByRole('alert').innerText(), /saved agent settings were not used: The agent timeout must be between 1 and 600 seconds/);
  assert.equal(await page.getByLabel('Timeout (s)').inputValue(), '30', 'defaults instead');
  await context.close();
});
