// The fault soak (`scripts/soak.sh`): drains 10,000 events through the
// release build in headless Chromium while the gateway and the demo agent
// misbehave, the page reloads three times, a second tab opens, the gateway
// restarts, the agent is unreachable for a minute, its token is wrong for a
// while (until the operator saves the right one) and the operator logs out
// and in. Then it compares what was
// inserted with what the agent saw (by Idempotency-Key) and what the app
// dead-lettered. Exits non-zero if any event was lost or dead-lettered
// without a designed reason.
import { execFileSync } from 'node:child_process';
import { ROOT, serveDist, launchBrowser, followLink } from '../e2e/harness.mjs';
import { ANON, freshTable, insert, configureAgent, setFaults, eventually, sleep, agentFront, sql } from '../e2e/backend.mjs';
import { GATEWAY, AGENT } from '../contract/stack.mjs';

const EVENTS = 10_000;
const PROJECT = 'http://127.0.0.1:54321';
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
await configureAgent(AGENT_FAULTS);
await fetch(`${AGENT}/reset`, { method: 'POST' });
await setFaults(GATEWAY_FAULTS);

const tally = async () => {
  const t = await (await fetch(`${AGENT}/tally`)).json();
  const prefix = `${table}:`;
  const mine = (map) => Object.fromEntries(Object.entries(map).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const timeline = t.timeline.filter(([k]) => k.startsWith(prefix));
  return { counts: mine(t.keys), done: mine(t.done), rejected: mine(t.rejected), outcomes: mine(t.outcomes), timeline };
};

// The page reaches the agent through a front that can refuse connections.
const front = await agentFront();
const server = await serveDist();
const browser = await launchBrowser();
const context = await browser.newContext();
await context.addInitScript(({ agentUrl, lanes }) => {
  if (!localStorage.getItem('sluice:v1:agent')) {
    localStorage.setItem('sluice:v1:agent', JSON.stringify({ url: agentUrl, token: '', timeout_s: 2, attempts: 12, lanes }));
  }
}, { agentUrl: front.url, lanes: LANES });
const url = `${server.url}?table=${table}`;
let page = await context.newPage();
const pageErrors = [];
const watch = (p) => p.on('pageerror', (e) => pageErrors.push(e.message));
watch(page);
await page.goto(url);
await followLink(page, table);
await page.getByRole('slider', { name: 'Consumption rate' }).focus();
await page.keyboard.press('Home');

async function logIn(p) {
  await p.getByLabel('API key').fill(ANON);
  await p.getByLabel('Remember me').check();
  await p.getByRole('button', { name: 'Log in' }).click();
  await p.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 60_000 });
}
await logIn(page);
log('logged in; draining');

const finished = (t) => Object.keys(t.done).length + Object.keys(t.rejected).length;
const disruptions = [
  [1_000, 'reload 1', async () => { await page.reload(); }],
  [2_500, 'second tab opened', async () => { const second = await context.newPage(); watch(second); await second.goto(url); }],
  [3_000, 'agent unreachable for a minute', async () => {
    await front.down();
    await sleep(60_000);
    await front.up();
  }],
  [4_000, 'gateway restarted', async () => {
    execFileSync('bash', [`${ROOT}/scripts/backend.sh`, '--restart-stack']);
    await eventually(async () => (await fetch(`${GATEWAY}/_admin/faults`).catch(() => null))?.ok, 30_000, 'gateway back');
    await setFaults(GATEWAY_FAULTS);
  }],
  [5_500, 'reload 2', async () => { await page.reload(); }],
  [7_000, 'logged out and in', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    await sleep(2000);
    await logIn(page);
  }],
  [8_000, 'agent token changed; the operator saves the new one 20 s later', async () => {
    await configureAgent({ ...AGENT_FAULTS, token: 'soak-token' });
    await sleep(20_000);
    const form = page.getByRole('form', { name: 'Agent settings' });
    await form.getByLabel('Token').fill('soak-token');
    await form.getByRole('button', { name: 'Save agent' }).click();
  }],
  [8_500, 'reload 3', async () => { await page.reload(); }],
];
const deadline = Date.now() + 30 * 60_000;
let t = await tally();
while (Date.now() < deadline) {
  t = await tally();
  const done = finished(t);
  while (disruptions.length && done >= disruptions[0][0]) {
    const [, what, act] = disruptions.shift();
    log(`${done} finished at the agent: ${what}`);
    await act();
  }
  if (done >= EVENTS && disruptions.length === 0) break;
  await sleep(500);
}
await sleep(3000);
t = await tally();

// What the app dead-lettered and recorded, from any tab (they share storage).
const stored = await page.evaluate(({ project, table }) => ({
  dead: JSON.parse(localStorage.getItem(`sluice:v1:dead:${project}|${table}`) ?? '[]'),
  untimed: document.querySelector('.node--source [role="note"]')?.textContent ?? '',
  head: JSON.parse(localStorage.getItem(`sluice:v1:ledger:${project}|${table}:head`) ?? 'null'),
}), { project: PROJECT, table });
await browser.close();
server.close();
await front.close();
await setFaults({});
await configureAgent({});

// A fresh table's identity column numbers its rows 1..EVENTS.
const keys = Array.from({ length: EVENTS }, (_, i) => String(i + 1));
const deadKeys = new Set(stored.dead.map((l) => l.key));
const designed = new Set(Object.keys(t.rejected));
const delivered = keys.filter((k) => t.counts[k]);
const repeated = keys.filter((k) => t.counts[k] > 1);
const reasons = {};
for (const k of repeated) {
  const outcomes = t.outcomes[k] ?? [];
  const before = outcomes.slice(0, -1);
  const doneTwice = outcomes.filter((o) => o === 'done').length > 1;
  for (const o of doneTwice ? ['done, then again (reload or hand-over before the ledger write)'] : before) {
    reasons[o] = (reasons[o] ?? 0) + 1;
  }
}
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
  ['lost (neither passed nor dead-lettered)', lost.length],
  ['page errors', pageErrors.length],
];
const width = Math.max(...lines.map(([k]) => k.length));
console.log(`\n## Soak: ${EVENTS} events, ${LANES} lanes; gateway ${JSON.stringify(GATEWAY_FAULTS)}; agent ${JSON.stringify(AGENT_FAULTS)}`);
for (const [k, v] of lines) console.log(`${k.padEnd(width)}  ${v}`);
if (lost.length) console.log(`lost keys (first 20): ${lost.slice(0, 20).join(', ')}`);
const doneTwice = keys.filter((k) => t.done[k] > 1);
if (doneTwice.length) console.log(`done more than once: ${doneTwice.slice(0, 10).map((k) => `${k} (${t.outcomes[k].join(', ')})`).join('; ')}`);
if (deadWithoutCause.length) console.log(`dead-lettered without cause: ${deadWithoutCause.slice(0, 20).join(', ')}; reasons: ${stored.dead.filter((l) => !designed.has(l.key)).slice(0, 5).map((l) => l.reason).join(' | ')}`);
if (pageErrors.length) console.log(`page errors: ${pageErrors.slice(0, 5).join(' | ')}`);
const failed = lost.length > 0 || deadWithoutCause.length > 0 || designedNotDead.length > 0
  || unreadableKept.length !== HOSTILE_DEEP || unreadableSent.length > 0 || !/^2 rows have no timestamp/.test(untimedShown);
console.log(failed ? 'SOAK FAILED' : 'soak passed: nothing lost, nothing dead-lettered without cause');
process.exit(failed ? 1 : 0);
