// Signed-in operators' sessions over time: access tokens that expire while
// a drain runs, two tabs sharing one session, and a session revoked in the
// middle of an event. Auth is the stack's (GoTrue's rules); the access
// tokens' lifetime is shortened through its test facility.
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_H2, deadLettersKey, screenshot, openApp, logIn, saveAgent, fastestRate, queueOperator, suiteWithAgent } from './harness.mjs';
import { ANON, configureAgent, tally, eventually, freshTable, freshQueue, describeQueue, insertEvents, setTokenLifetime, sleep, sql, stamp } from './backend.mjs';
import { freshUser, signIn, authCall, userHeaders, refresh } from '../contract/stack.mjs';

const env = suiteWithAgent({ latency_ms: 5, mode: 'json' });

afterEach(() => setTokenLifetime(3600));

/** Keeps every text the page's alert and status regions show, however
 * briefly, in `window.__shown`. */
async function keepWhatIsShown(page) {
  await page.evaluate(() => {
    window.__shown = [];
    const keep = () => {
      for (const node of document.querySelectorAll('[role="alert"], [role="status"], .gate')) {
        const text = node.textContent.trim();
        if (text && window.__shown.at(-1) !== text) window.__shown.push(text);
      }
    };
    new MutationObserver(keep).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

const refusals = async (page) => (await page.evaluate(() => window.__shown))
  .filter((text) => /401|JWT|session ended|refused|sign in again/i.test(text));

describe('operator sessions', () => {
  test('with 20-second access tokens, two tabs stay signed in for two minutes while one drains 2,000 events through 4 lanes: none lost, none dead-lettered, no 401 shown', async () => {
    await setTokenLifetime(20);
    const who = await freshUser('two_tabs', { operator: true });
    const table = await freshTable('short_tokens');
    const base = Date.now() - 60_000;
    const rows = await insertEvents(table, Array.from({ length: 2000 }, (_, i) => new Date(base + i * 10).toISOString()));
    const context = await env.browser.newContext({ ignoreHTTPSErrors: true });
    const first = await openApp(context, `${env.server.url}?table=${table}`);
    await logIn(first.page, { key: ANON, email: who.email, password: who.password, remember: true });
    const signedInAt = Date.now();
    await keepWhatIsShown(first.page);
    await saveAgent(first.page, { url: AGENT_H2, lanes: '4', timeout: '10', attempts: '3' });
    await fastestRate(first.page);
    // The second tab takes the remembered session, and the same tokens.
    const second = await openApp(context, `${env.server.url}?table=${table}`);
    await second.page.getByRole('button', { name: 'Log out' }).waitFor();
    await keepWhatIsShown(second.page);
    await eventually(async () => {
      const t = await tally(table);
      return rows.every((r) => t.done[String(r.id)] >= 1);
    }, 240_000, 'all 2,000 rows done');
    const done = (await tally(table)).done;
    assert.deepEqual(rows.filter((r) => done[String(r.id)] !== 1).map((r) => r.id), [], 'each row done once');
    // Two minutes signed in: some twelve refreshes with 20 s tokens.
    await sleep(Math.max(0, 120_000 - (Date.now() - signedInAt)));
    for (const { page, errors } of [first, second]) {
      assert.equal(await page.getByRole('form', { name: 'Sign in again' }).count(), 0, 'still signed in');
      assert.deepEqual(await refusals(page), [], 'no refusal was ever shown');
      assert.deepEqual(errors, []);
    }
    const letters = await first.page.evaluate((key) => localStorage.getItem(key), deadLettersKey(table));
    assert.ok(!letters || JSON.parse(letters).length === 0, `nothing dead-lettered: ${letters}`);
    // No refresh race revoked the session: its current refresh token works.
    const stored = JSON.parse(await first.page.evaluate(() => localStorage.getItem('sluice:v1:session')));
    assert.ok(stored.signed_in.expires_at * 1000 > Date.now(), 'the stored access token is current');
    await context.close();
    const alive = await refresh(stored.signed_in.refresh_token);
    assert.equal(alive.status, 200, `the session lives: ${JSON.stringify(alive.body)}`);
  });

  test('a session revoked mid-drain holds the message the agent finished; signing in again settles it without a second delivery', async () => {
    await setTokenLifetime(6);
    await configureAgent({ latency_ms: 8000, mode: 'json' });
    const who = await freshUser('revoked', { operator: true });
    const queue = await freshQueue('revoked', 2);
    const operator = await queueOperator(env, queue, { url: AGENT_H2, lanes: '1', timeout: '30', attempts: '1' }, {
      key: ANON, email: who.email, password: who.password,
    });
    const { page } = operator;
    await eventually(async () => (await tally(`queue/${queue}`)).timeline.length > 0, 20_000, 'the first message at the agent');
    // Signed out everywhere (GoTrue's global scope), as from another device.
    const elsewhere = (await signIn(who.email, who.password)).body;
    assert.equal((await authCall('/logout', { method: 'POST', headers: userHeaders(elsewhere.access_token) })).status, 204);
    const again = page.getByRole('form', { name: 'Sign in again' });
    await again.waitFor({ timeout: 15_000 });
    assert.match(await again.innerText(), /Your session ended .*sign in again/);
    await screenshot(page, 'session-ended');
    // The agent finishes; the archive needs the session, so the message is held.
    await eventually(async () => Object.keys((await tally(`queue/${queue}`)).done).length === 1, 20_000, 'the agent done with the first');
    await page.getByText(/Your session ended/).first().waitFor();
    await sleep(2000);
    let state = await describeQueue(queue);
    assert.equal(state.archived.length, 0, 'nothing archived without a session');
    assert.equal(state.queue_length, 2, 'both messages still in the queue');
    await configureAgent({ latency_ms: 50, mode: 'json' });
    await again.getByLabel('Password').fill(who.password);
    await again.getByRole('button', { name: 'Sign in again' }).click();
    await again.waitFor({ state: 'detached' });
    state = await eventually(async () => {
      const s = await describeQueue(queue);
      return s.archived.length === 2 && s;
    }, 60_000, 'both messages archived after signing in again');
    const delivered = await tally(`queue/${queue}`);
    assert.deepEqual(Object.values(delivered.counts), [1, 1], 'each message delivered once: the held one was not sent again');
    assert.equal(state.queue_length, 0);
    assert.deepEqual(operator.errors.filter((e) => !/Failed to load resource/.test(e)), []);
    await operator.context.close();
  });

  test('a signed-in user who is not an operator is told the policies leave them out: rows hidden by policies, and a table without a grant', async () => {
    const outsider = await freshUser('outsider');
    const hidden = await freshTable('hidden_rows');
    await insertEvents(hidden, [stamp(-2000), stamp(-1000)]);
    const context = await env.browser.newContext();
    const { page, errors } = await openApp(context, `${env.server.url}?table=${hidden}`);
    await logIn(page, { key: ANON, email: outsider.email, password: outsider.password });
    const source = page.getByRole('region', { name: 'Source', exact: true });
    await source.getByText(`nothing visible to ${outsider.email}`).waitFor({ timeout: 20_000 });
    assert.match(await source.innerText(), /policies hide them from this operator/);
    assert.equal(Object.keys((await tally(hidden)).counts).length, 0, 'nothing delivered');
    const closed = await freshTable('no_grant');
    await sql(`revoke all on public.${closed} from authenticated`);
    const other = await openApp(context, `${env.server.url}?table=${closed}`);
    await logIn(other.page, { key: ANON, email: outsider.email, password: outsider.password });
    await other.page.getByText(new RegExp(`${outsider.email.replace(/[.+]/g, '\\$&')} may not read ${closed}.*policies for this operator`)).first().waitFor({ timeout: 20_000 });
    assert.deepEqual([...errors, ...other.errors].filter((e) => !/Failed to load resource/.test(e)), []);
    await context.close();
  });
});
