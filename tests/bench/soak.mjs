// The fault soak (`scripts/soak.sh`): drains 10,000 events through the
// release build in headless Chromium while the gateway and the demo agent
// misbehave, the page reloads three times, a second tab opens, the gateway
// restarts, the agent is unreachable for a minute, its token is wrong for a
// while (until the operator saves the right one), the operator logs out
// and in, and their session is revoked (they sign in again when the page
// asks). The operator is signed in throughout, with 20 s access tokens
// (scripts/soak.sh). Then it compares what was
// inserted with what the agent saw (by Idempotency-Key) and what the app
// dead-lettered. Exits non-zero if any event was lost or dead-lettered
// without a designed reason, if any page error (an uncaught error or a
// panic) occurred, or if any event was done more than once without a
// disruption to explain it (tests/bench/verdict.mjs says which are).
// Every disruption of the page acts on the tab that drains at that moment.
//
// SOAK_INJECT_DUPLICATE=1: once the soak is over, one more delivery of an
// event done early on is posted straight to the demo agent (same
// Idempotency-Key: the agent counts no other), a duplicate no disruption
// explains: the verdict must then fail, naming that key.
import { execFileSync } from 'node:child_process';
import { ROOT, serveDist, launchBrowser, followLink, logIn, ledgerHeadKey, deadLettersKey } from '../e2e/harness.mjs';
import { freshTable, insert, configureAgent, setFaults, eventually, sleep, agentFront, sql } from '../e2e/backend.mjs';
import { GATEWAY, AGENT, OPERATOR, signIn, authCall, userHeaders } from '../contract/stack.mjs';
import { duplicateDones, isPageError, onEpochClock, verdict } from './verdict.mjs';

const EVENTS = 10_000;
const INJECT_DUPLICATE = process.env.SOAK_INJECT_DUPLICATE === '1';
const GATEWAY_FAULTS = { latency_ms: 20, error_rate: 0.05, drop_rate: 0.02, malformed_rate: 0.02 };
// Six events at the gate at once: as many as a browser opens HTTP/1.1
// connections to the agent's front.
const LANES = 6;
const AGENT_FAULTS = { latency_ms: 0, mode: 'ndjson', progress_steps: 1, reject_rate: 0.005, error_rate: 0.03, timeout_rate: 0.003, midstream_fail_rate: 0.01, garbage_rate: 0.01, retry_after_s: 0 };
const log = (message) => console.log(`[soak +${Math.round(process.uptime())}s] ${message}`);

const table = await freshTable('soak');
const base = Date.now() - 3_600_000;
for (let start = 0; start < EVENTS; start += 1000) {
  await insert(table, Array.from({ length: 1000 }, (_, i) => ({ created_at: new Date(base + start + i).toISOString(), type: 'soak.event' })));
}
log(`inserted ${EVENTS} events into ${table}`);
// Hostile rows among them, written with SQL (PostgREST cannot): rows nested
// deeper than any JSON parser allows (to be dead-lettered as unreadable, by
// key) and rows without a timestamp (never drained, but counted and shown).
const HOSTILE_DEEP = 3;
const deepIds = (await sql(`INSERT INTO public.${table} (created_at, type, payload) SELECT to_timestamp(${(base + 2500) / 1000} + n), 'soak.deep', (repeat('[', 300) || repeat(']', 300))::jsonb FROM generate_series(1, ${HOSTILE_DEEP}) AS n RETURNING id`)).trim().split('\n');
await sql(`ALTER TABLE public.${table} ALTER COLUMN created_at DROP NOT NULL; INSERT INTO public.${table} (created_at, type) VALUES (NULL, 'soak.untimed'), (NULL, 'soak.untimed')`);
log(`added ${HOSTILE_DEEP} unreadable rows (${deepIds.join(', ')}) and 2 without a timestamp`);
// Live: the tabs subscribe to the table's inserts through Realtime, whose
// socket the plan drops a few times.
await sql(`ALTER PUBLICATION supabase_realtime ADD TABLE public.${table}`);
const dropRealtime = async () => {
  await fetch(`${GATEWAY}/_admin/realtime/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ mode: 'drop' }) });
};
await configureAgent(AGENT_FAULTS);
await fetch(`${AGENT}/reset`, { method: 'POST' });
await setFaults(GATEWAY_FAULTS);

const prefix = `${table}:`;
const tally = async () => {
  const t = await (await fetch(`${AGENT}/tally`)).json();
  const mine = (map) => Object.fromEntries(Object.entries(map).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const timeline = t.timeline.filter(([k]) => k.startsWith(prefix)).map(([k, what]) => [k.slice(prefix.length), what]);
  // Per-delivery times, when the agent keeps them (ms since the epoch).
  const deliveries = Array.isArray(t.deliveries) && t.deliveries.every((d) => d.started_ms > 1e12)
    ? t.deliveries.filter((d) => d.key.startsWith(prefix)).map((d) => ({ ...d, key: d.key.slice(prefix.length) }))
    : null;
  // The agent's own delivery times (on its monotonic clock), when it keeps them.
  const deliveryTimes = Array.isArray(t.delivery_times)
    ? t.delivery_times.filter((d) => d.key.startsWith(prefix)).map((d) => ({ ...d, key: d.key.slice(prefix.length) }))
    : null;
  return { counts: mine(t.keys), done: mine(t.done), rejected: mine(t.rejected), outcomes: mine(t.outcomes), timeline, deliveries, deliveryTimes };
};
// The timeline's length over time: when each of its entries happened, give or take.
const samples = [];
const sampleTally = async () => {
  const before = Date.now();
  const t = await tally();
  samples.push({ before, after: Date.now(), length: t.timeline.length });
  return t;
};
// Also once a second in the background, so that long disruptions are sampled too.
const sampler = setInterval(() => sampleTally().catch(() => {}), 1000);

// The page reaches the agent through a front that can refuse connections.
const front = await agentFront();
const server = await serveDist();
const browser = await launchBrowser();
const context = await browser.newContext();
await context.addInitScript(({ agentUrl, lanes }) => {
  if (!localStorage.getItem('sluice:v1:agent')) {
    localStorage.setItem('sluice:v1:agent', JSON.stringify({ url: agentUrl, token: '', timeout_s: 2, attempts: 12, lanes }));
  }
  // Each key this tab posts to the agent, noted in the tab's own
  // sessionStorage (it survives a reload): Playwright does not report the
  // requests a page sends while it is being reloaded (a probe: 4 of 670
  // posts around 5 reloads reached the server unreported), and those are
  // exactly the ones a reload can cut.
  const send = window.fetch;
  window.fetch = function (input, init) {
    try {
      const request = input instanceof Request ? input : null;
      const key = request?.headers.get('idempotency-key') ?? new Headers(init?.headers).get('idempotency-key');
      if (key && String(request?.url ?? input).startsWith(agentUrl)) sessionStorage.setItem(`soak:sent:${decodeURIComponent(key)}`, '1');
    } catch { /* the note is best effort; the request goes on */ }
    return send.call(this, input, init);
  };
}, { agentUrl: front.url, lanes: LANES });
const url = `${server.url}?table=${table}`;
// The tabs, each with its label, and what each sent to the agent (by key)
// and met as errors.
const tabs = [];
const sentBy = {};
const pageErrors = [];
function addTab(page, label) {
  const tab = { page, label };
  tabs.push(tab);
  sentBy[label] = new Set();
  page.on('pageerror', (e) => {
    pageErrors.push({ page: label, kind: 'pageerror', text: e.message });
    log(`page error in ${label}: ${e.message}`);
  });
  page.on('console', (msg) => {
    const error = { page: label, kind: 'console', text: msg.text() };
    if (msg.type() === 'error' && isPageError(error)) {
      pageErrors.push(error);
      log(`page error in ${label}: ${error.text.slice(0, 300)}`);
    }
  });
  page.on('request', (request) => {
    if (request.method() !== 'POST' || !request.url().startsWith(front.url)) return;
    const key = decodeURIComponent(request.headers()['idempotency-key'] ?? '');
    if (key.startsWith(prefix)) sentBy[label].add(key.slice(prefix.length));
  });
  return tab;
}
/** Logs in as an operator would while the gateway injects faults: the
 * login's one check of the project can meet an injected 500, a dropped
 * connection or a garbled body (about one in eleven), which the form
 * reports; the operator then presses Log in again. */
async function logInThroughFaults(page) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await logIn(page, { remember: true, timeout: 20_000 });
      return;
    } catch (error) {
      if (attempt === 5) throw error;
      log(`login attempt ${attempt} did not go through (the form says "${(await page.locator('.login').innerText().catch(() => '?')).replace(/\s+/g, ' ').slice(0, 160)}"); again`);
    }
  }
}
const first = addTab(await context.newPage(), 'tab 1');
await first.page.goto(url);
await followLink(first.page, table);
await first.page.getByRole('slider', { name: 'Consumption rate' }).focus();
await first.page.keyboard.press('Home');
await logInThroughFaults(first.page);
log('logged in; draining');

/** The tab that drains now: logged in, and not saying that another tab
 * drains, while every other tab says so. */
async function drainingTab() {
  const watching = (tab) => tab.page.getByText('Another tab of this browser is draining').count().then((n) => n > 0, () => false);
  const loggedIn = (tab) => tab.page.getByRole('button', { name: 'Log out' }).count().then((n) => n > 0, () => false);
  return eventually(async () => {
    const states = await Promise.all(tabs.map(async (tab) => ({ tab, watching: await watching(tab), loggedIn: await loggedIn(tab) })));
    const drainers = states.filter((s) => s.loggedIn && !s.watching);
    return drainers.length === 1 && states.every((s) => s === drainers[0] || s.watching) && drainers[0].tab;
  }, 60_000, 'the one tab that drains');
}

const finished = (t) => Object.keys(t.done).length + Object.keys(t.rejected).length;
// [after how many finished, what, cause (what can lose a done the page had
// not recorded yet: reload, cut; null when nothing can), act on the draining tab].
// An act may return the {at, until} of its disruptive moment.
const plan = [
  [1_000, 'reload 1', 'reload', async (tab) => { await tab.page.reload(); }],
  [2_000, 'Realtime socket dropped', null, dropRealtime],
  [2_500, 'second tab opened', null, async () => { const second = addTab(await context.newPage(), 'tab 2'); await second.page.goto(url); }],
  [3_000, 'agent unreachable for a minute (its front drops every connection)', 'cut', async () => {
    const at = Date.now();
    await front.down();
    const until = Date.now();
    await sleep(60_000);
    await front.up();
    return { at, until };
  }],
  [4_000, 'gateway restarted', null, async () => {
    execFileSync('bash', [`${ROOT}/scripts/backend.sh`, '--restart-stack']);
    await eventually(async () => (await fetch(`${GATEWAY}/_admin/faults`).catch(() => null))?.ok, 30_000, 'gateway back');
    await setFaults(GATEWAY_FAULTS);
  }],
  [5_000, 'Realtime socket dropped', null, dropRealtime],
  [5_500, 'reload 2', 'reload', async (tab) => { await tab.page.reload(); }],
  [7_000, 'logged out and in', 'logout', async (tab) => {
    await tab.page.getByRole('button', { name: 'Log out' }).click();
    await tab.page.getByRole('button', { name: 'Log in' }).waitFor();
    await sleep(2000);
    await logInThroughFaults(tab.page);
  }],
  [6_500, 'session revoked (the operator signed out everywhere); signed in again 5 s after the page asked', null, async (tab) => {
    const elsewhere = (await signIn(OPERATOR.email, OPERATOR.password)).body;
    const at = Date.now();
    await authCall('/logout', { method: 'POST', headers: userHeaders(elsewhere.access_token) });
    const again = tab.page.getByRole('form', { name: 'Sign in again' });
    await again.waitFor({ timeout: 60_000 });
    await sleep(5_000);
    await again.getByLabel('Password').fill(OPERATOR.password);
    await again.getByRole('button', { name: 'Sign in again' }).click();
    await again.waitFor({ state: 'detached', timeout: 30_000 });
    return { at, until: Date.now() };
  }],
  [7_500, 'Realtime socket dropped', null, dropRealtime],
  [8_000, 'agent token changed; the operator saves the new one 20 s later', null, async (tab) => {
    await configureAgent({ ...AGENT_FAULTS, token: 'soak-token' });
    await sleep(20_000);
    const form = tab.page.getByRole('form', { name: 'Agent settings' });
    await form.getByLabel('Token').fill('soak-token');
    await form.getByRole('button', { name: 'Save agent' }).click();
  }],
  [8_500, 'reload 3', 'reload', async (tab) => { await tab.page.reload(); }],
];
const disruptions = [];
const problems = [];
const deadline = Date.now() + 30 * 60_000;
/** What each tab says, for a drain that stopped moving. */
async function describeTabs() {
  for (const { page, label } of tabs) {
    const text = async (locator) => (await locator.innerText({ timeout: 2_000 }).catch(() => '?')).replace(/\s+/g, ' ').slice(0, 200);
    const crashed = await page.locator('#sluice-crash').count().catch(() => 0);
    log(`  ${label}: ${crashed ? 'CRASH BANNER; ' : ''}status "${await text(page.locator('.status'))}"; gate "${await text(page.getByRole('region', { name: 'Gate' }))}"; alert "${await text(page.locator('.alert'))}"`);
  }
}
let t = await sampleTally();
let lastMoved = { done: -1, at: Date.now() };
while (Date.now() < deadline) {
  t = await sampleTally();
  const done = finished(t);
  if (done !== lastMoved.done) lastMoved = { done, at: Date.now() };
  else if (Date.now() - lastMoved.at > 90_000) {
    log(`nothing finished for 90 s (${done} finished):`);
    await describeTabs();
    lastMoved.at = Date.now();
  }
  while (plan.length && done >= plan[0][0]) {
    const [, what, cause, act] = plan.shift();
    let tab;
    try {
      tab = await drainingTab();
    } catch (error) {
      problems.push(`${what}: could not tell which tab drains (${error.message})`);
      tab = tabs[0];
    }
    log(`${done} finished at the agent: ${what}, on ${tab.label}, the tab that drains`);
    await sampleTally();
    const at = Date.now();
    const moment = await act(tab);
    const until = Date.now();
    await sampleTally();
    disruptions.push({ label: `${what} (${tab.label})`, cause, page: tab.label, ...(moment ?? { at, until }) });
  }
  if (done >= EVENTS && plan.length === 0) break;
  await sleep(500);
}
await sleep(3000);
t = await sampleTally();
clearInterval(sampler);

// What the app dead-lettered and recorded, from the draining tab (the tabs share storage).
const reader = await drainingTab().catch(() => tabs[0]);
const stored = await reader.page.evaluate(({ deadKey, headKey }) => ({
  dead: JSON.parse(localStorage.getItem(deadKey) ?? '[]'),
  untimed: document.querySelector('.node--source [role="note"]')?.textContent ?? '',
  head: JSON.parse(localStorage.getItem(headKey) ?? 'null'),
}), { deadKey: deadLettersKey(table), headKey: ledgerHeadKey(table) });
await browser.close();
server.close();
await front.close();
await setFaults({});
await configureAgent({});

let injected = null;
if (INJECT_DUPLICATE) {
  // The event done first, long before any disruption, delivered once more.
  injected = t.timeline.find(([, what]) => what === 'done')?.[0];
  const r = await fetch(`${AGENT}/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `${table}:${injected}` },
    body: JSON.stringify({ key: injected, table, event: { id: Number(injected), type: 'soak.event' } }),
  });
  log(`SOAK_INJECT_DUPLICATE: posted event ${injected} to the agent once more: ${r.status} ${await r.text()}`);
  t = await tally();
}

// What each tab noted in its sessionStorage as sent, beside what Playwright saw.
for (const { page, label } of tabs) {
  const noted = await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('soak:sent:')).map((k) => k.slice('soak:sent:'.length))).catch(() => []);
  for (const key of noted) if (key.startsWith(prefix)) sentBy[label].add(key.slice(prefix.length));
}

// A fresh table's identity column numbers its rows 1..EVENTS.
const keys = Array.from({ length: EVENTS }, (_, i) => String(i + 1));
const deadKeys = new Set(stored.dead.map((l) => l.key));
const designed = new Set(Object.keys(t.rejected));
const delivered = keys.filter((k) => t.counts[k]);
const repeated = keys.filter((k) => t.counts[k] > 1);
const reasons = {};
for (const k of repeated) {
  const outcomes = t.outcomes[k] ?? [];
  const doneTwice = outcomes.filter((o) => o === 'done').length > 1;
  for (const o of doneTwice ? ['done, then again'] : outcomes.slice(0, -1)) {
    reasons[o] = (reasons[o] ?? 0) + 1;
  }
}
// Done more than once: explained by a disruption of the tab that sent it, or not.
const deliveries = t.deliveries ?? onEpochClock(t.deliveryTimes, t.timeline, samples);
const duplicates = duplicateDones({
  timeline: t.timeline,
  samples,
  deliveries,
  disruptions,
  sentBy: Object.fromEntries(Object.entries(sentBy).map(([label, keys]) => [label, [...keys]])),
});
const lost = keys.filter((k) => !t.done[k] && !deadKeys.has(k));
// The most deliveries the agent was working on at once.
let open = 0;
let mostAtOnce = 0;
for (const [, what] of t.timeline) {
  open += what === 'arrived' ? 1 : -1;
  mostAtOnce = Math.max(mostAtOnce, open);
}
const unreadableKept = deepIds.filter((k) => stored.dead.some((l) => l.key === k && /unreadable row/.test(l.reason)));
const unreadableSent = deepIds.filter((k) => t.counts[k]);
for (const k of unreadableKept) designed.add(k);
const deadWithoutCause = [...deadKeys].filter((k) => !designed.has(k));
const designedNotDead = [...designed].filter((k) => !deadKeys.has(k));
const untimedShown = stored.untimed;

const lines = [
  ['events inserted', EVENTS],
  ['delivered to the agent (distinct Idempotency-Keys)', delivered.length],
  ['deliveries in all', Object.values(t.counts).reduce((a, b) => a + b, 0)],
  ['delivered more than once', repeated.length],
  ...Object.entries(reasons).sort((a, b) => b[1] - a[1]).map(([why, n]) => [`  after ${why}`, n]),
  ['passed (final done)', keys.filter((k) => t.done[k]).length],
  ['dead-lettered', deadKeys.size],
  ['designed rejects (agent refused for good)', designed.size - unreadableKept.length],
  [`unreadable rows dead-lettered by key (of ${HOSTILE_DEEP})`, unreadableKept.length],
  ['unreadable rows sent to the agent', unreadableSent.length],
  ['rows without a timestamp, as the page says', untimedShown || '(not shown)'],
  ['dead-lettered without a designed reject', deadWithoutCause.length],
  ['designed rejects not dead-lettered', designedNotDead.length],
  ['ledger: events recorded as handled', stored.head?.handled ?? 0],
  ['ledger: events still handled ahead of the cursor', stored.head?.ahead?.length ?? 0],
  [`most deliveries at the agent at once (${LANES} lanes)`, mostAtOnce],
  ['done more than once', Object.values(t.done).filter((n) => n > 1).length],
  ...Object.entries(duplicates.byCause).map(([label, n]) => [`  explained: the done was lost to ${label}`, n]),
  ['  not explained by any disruption', duplicates.unexplained.length],
  ['  (times from)', deliveries ? `the agent's delivery times, ±${Math.round(deliveries[0]?.slack ?? 0)} ms` : 'the timeline, sampled'],
  ['lost (neither passed nor dead-lettered)', lost.length],
  ['page errors (uncaught errors, panics)', pageErrors.length],
];
const width = Math.max(...lines.map(([k]) => k.length));
console.log(`\n## Soak: ${EVENTS} events, ${LANES} lanes; gateway ${JSON.stringify(GATEWAY_FAULTS)}; agent ${JSON.stringify(AGENT_FAULTS)}`);
for (const [k, v] of lines) console.log(`${k.padEnd(width)}  ${v}`);
console.log('disruptions:');
for (const d of disruptions) console.log(`  ${new Date(d.at).toISOString().slice(11, 19)}–${new Date(d.until).toISOString().slice(11, 19)} ${d.label}${d.cause ? ` [${d.cause}]` : ''}`);
if (lost.length) console.log(`lost keys (first 20): ${lost.slice(0, 20).join(', ')}`);
const doneTwice = keys.filter((k) => t.done[k] > 1);
if (doneTwice.length) console.log(`done more than once: ${doneTwice.slice(0, 10).map((k) => `${k} (${t.outcomes[k].join(', ')})`).join('; ')}`);
if (deadWithoutCause.length) console.log(`dead-lettered without cause: ${deadWithoutCause.slice(0, 20).join(', ')}; reasons: ${stored.dead.filter((l) => !designed.has(l.key)).slice(0, 5).map((l) => l.reason).join(' | ')}`);
const other = [...problems];
if (unreadableKept.length !== HOSTILE_DEEP) other.push(`${unreadableKept.length} of ${HOSTILE_DEEP} unreadable rows dead-lettered by key`);
if (unreadableSent.length > 0) other.push(`${unreadableSent.length} unreadable rows sent to the agent`);
if (!/^2 rows have no timestamp/.test(untimedShown)) other.push(`the rows without a timestamp not shown (${JSON.stringify(untimedShown)})`);
const result = verdict({ lost, deadWithoutCause, designedNotDead, unexplainedDuplicates: duplicates.unexplained, pageErrors, other });
for (const { key } of duplicates.unexplained) {
  const senders = Object.entries(sentBy).filter(([, keys]) => keys.has(key)).map(([label]) => label);
  console.log(`  ${key}: sent by ${senders.join(', ') || 'no page'}; timeline: ${t.timeline.filter(([k]) => k === key).map(([, what]) => what).join(', ')}`);
}
for (const reason of result.reasons) console.log(`FAILED: ${reason}`);
if (injected !== null) {
  const named = duplicates.unexplained.some((d) => d.key === injected);
  console.log(named ? `the injected duplicate of ${injected} was caught` : `the injected duplicate of ${injected} was NOT caught`);
  if (!named) result.failed = true;
}
console.log(result.failed ? 'SOAK FAILED' : 'soak passed: nothing lost, nothing dead-lettered without cause, no unexplained duplicate, no page error');
process.exit(result.failed ? 1 : 0);
