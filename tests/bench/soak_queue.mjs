// The queue soak (`scripts/soak.sh`, after the table soak): operators
// (browser contexts, each with its own storage) join and leave one Supabase
// Queue of 3,000 messages while the demo agent misbehaves; leaving is
// abrupt (the context closes in the middle of whatever it does). Then it
// compares the queue's archive, its dead-letter queue and what the agent
// saw. Exits non-zero if any message was lost or dead-lettered without a
// designed reason, if any page error (an uncaught error or a panic)
// occurred, or if a message was done more than once other than because the
// operator that had it closed before it could archive it
// (tests/bench/verdict.mjs). SOAK_INJECT_DUPLICATE=1 posts one more delivery
// of a message done early on straight to the demo agent at the end: the
// verdict must then fail, naming it.
import { AGENT_H2, launchBrowser, serveDist, queueOperatorContext, rememberedSession } from '../e2e/harness.mjs';
import { ANON, configureAgent, sleep, freshQueue, describeQueue, sql } from '../e2e/backend.mjs';
import { AGENT } from '../contract/stack.mjs';
import { duplicateDones, isPageError, onEpochClock, verdict } from './verdict.mjs';

const MESSAGES = 3_000;
const MOST_OPERATORS = 4;
const LANES = 2;
const AGENT_FAULTS = { latency_ms: 20, latency_jitter_ms: 40, mode: 'json', reject_rate: 0.01, error_rate: 0.03, timeout_rate: 0.003, retry_after_s: 0 };
const INJECT_DUPLICATE = process.env.SOAK_INJECT_DUPLICATE === '1';
const log = (message) => console.log(`[queue soak +${Math.round(process.uptime())}s] ${message}`);

const queue = await freshQueue('soak', MESSAGES, 'soak.job');
log(`sent ${MESSAGES} messages to ${queue}`);
// Live: each operator's page subscribes to the queue's inserts.
await sql(`ALTER PUBLICATION supabase_realtime ADD TABLE pgmq.q_${queue}`);
await configureAgent(AGENT_FAULTS);
await fetch(`${AGENT}/reset`, { method: 'POST' });

const prefix = `queue/${queue}:`;
const readTally = async () => {
  const t = await (await fetch(`${AGENT}/tally`)).json();
  const mine = (map) => Object.fromEntries(Object.entries(map).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const deliveries = Array.isArray(t.deliveries) && t.deliveries.every((d) => d.started_ms > 1e12)
    ? t.deliveries.filter((d) => d.key.startsWith(prefix)).map((d) => ({ ...d, key: d.key.slice(prefix.length) }))
    : null;
  return {
    counts: mine(t.keys), done: mine(t.done), rejected: mine(t.rejected),
    timeline: t.timeline.filter(([k]) => k.startsWith(prefix)).map(([k, what]) => [k.slice(prefix.length), what]),
    deliveries,
    // The agent's own delivery times (on its monotonic clock), when it keeps them.
    deliveryTimes: Array.isArray(t.delivery_times)
      ? t.delivery_times.filter((d) => d.key.startsWith(prefix)).map((d) => ({ ...d, key: d.key.slice(prefix.length) }))
      : null,
  };
};
// The timeline's length once a second: when each of its entries happened, give or take.
const samples = [];
const sampleTally = async () => {
  const before = Date.now();
  const t = await readTally();
  samples.push({ before, after: Date.now(), length: t.timeline.length });
  return t;
};
const sampler = setInterval(() => sampleTally().catch(() => {}), 1000);

const server = await serveDist();
const browser = await launchBrowser();

// Each operator signs in on its own: a copy of one session in browsers
// that share no lock would spend its single-use refresh tokens twice.

const pageErrors = [];
const operators = [];
// What each operator sent to the agent (by key), and when which one left.
const sentBy = {};
const disruptions = [];
let joined = 0;
let left = 0;

async function join() {
  const label = `operator ${joined + 1}`;
  const session = await rememberedSession(browser, server.url, ANON);
  const context = await queueOperatorContext(browser, { session, queue, agent: { url: AGENT_H2, timeout_s: 2, attempts: 8, lanes: LANES } });
  const page = await context.newPage();
  sentBy[label] = new Set();
  page.on('pageerror', (e) => pageErrors.push({ page: label, kind: 'pageerror', text: e.message }));
  page.on('console', (msg) => {
    const error = { page: label, kind: 'console', text: msg.text() };
    if (msg.type() === 'error' && isPageError(error)) pageErrors.push(error);
  });
  page.on('request', (request) => {
    if (request.method() !== 'POST' || !request.url().startsWith(AGENT_H2)) return;
    const key = decodeURIComponent(request.headers()['idempotency-key'] ?? '');
    if (key.startsWith(prefix)) sentBy[label].add(key.slice(prefix.length));
  });
  page.on('dialog', (dialog) => dialog.accept());
  await page.goto(server.url);
  operators.push({ context, page, label });
  joined += 1;
}

// The queue's archive policy dropped for a while: every operator that
// finishes a message then holds it, halts and reads nothing, until the
// policy is back and "Retry now" is pressed.
const ARCHIVE_OUTAGE = { after_ms: 40_000, for_ms: 20_000 };
let outage = null;
async function archiveOutage(now) {
  if (!outage && now - started >= ARCHIVE_OUTAGE.after_ms) {
    await sql(`drop policy sluice_operator_delete on pgmq.q_${queue}`);
    outage = { at: Date.now() };
    log('archive policy dropped');
  } else if (outage && !outage.until && now - outage.at >= ARCHIVE_OUTAGE.for_ms) {
    await sql(`create policy sluice_operator_delete on pgmq.q_${queue} for delete to authenticated using ((select auth.jwt() -> 'app_metadata' ->> 'sluice_operator') = 'true')`);
    outage.until = Date.now();
    const pressed = await pressRetryNow();
    const halted = (await describeQueue(queue)).queue_length;
    log(`archive policy restored; Retry now pressed on ${pressed} of ${operators.length} pages (${halted} messages left)`);
    outage.pressed = pressed;
  }
}
/** Presses Retry now on every page halted on the queue; how many. */
async function pressRetryNow() {
  let pressed = 0;
  for (const { page, label } of operators) {
    const retry = page.getByRole('button', { name: 'Retry now', exact: true });
    if (await retry.isVisible().catch(() => false)) {
      await retry.click().catch(() => {});
      pressed += 1;
      if (outage?.pressed !== undefined) log(`Retry now pressed on ${label}, halted after the policy came back`);
    }
  }
  return pressed;
}
const started = Date.now();

async function leave() {
  const index = Math.floor(Math.random() * operators.length);
  const [{ context, label }] = operators.splice(index, 1);
  await sampleTally();
  const at = Date.now();
  await context.close();
  const until = Date.now();
  await sampleTally();
  disruptions.push({ label: `${label} left (its context closed)`, cause: 'close', page: label, at, until });
  left += 1;
}

await join();
const deadline = Date.now() + 20 * 60_000;
let most = 1;
for (;;) {
  await sleep(5_000);
  const state = await describeQueue(queue);
  log(`${operators.length} operators; ${state.queue_length} messages left, ${state.archived.length} archived`);
  if (state.queue_length === 0) break;
  if (Date.now() > deadline) {
    log('gave up waiting for the queue to empty');
    break;
  }
  await archiveOutage(Date.now());
  // A page whose archive failed just as the policy came back halts after
  // the first presses: the operator presses Retry now there too.
  if (outage?.until) await pressRetryNow();
  const inOutage = outage && !outage.until;
  // Join while fewer than the most; leave now and then, never the last
  // (nor while the archive is refused: a page holding messages then stays).
  if (operators.length < MOST_OPERATORS && (operators.length < 2 || Math.random() < 0.6)) await join();
  else if (operators.length > 1 && !inOutage) await leave();
  most = Math.max(most, operators.length);
}
// Two operators press "Retry all" on the same dead letters at once: each
// letter is archived by one of them, and only that one sends its message
// back, so each comes back once.
// The dead-letter queue once no operator adds to it any more (a refusal
// may still be on its way when the queue reads empty).
let lettersBefore = (await describeQueue(`${queue}_dlq`)).messages;
for (let stable = 0; stable < 3;) {
  await sleep(2_000);
  const now = (await describeQueue(`${queue}_dlq`)).messages;
  stable = now.length === lettersBefore.length ? stable + 1 : 0;
  lettersBefore = now;
}
while (operators.length < 2) await join();
const retriers = operators.slice(0, 2);
const retryAll = (page) => page.getByRole('button', { name: `Retry all ${lettersBefore.length}`, exact: true });
let retryTwice = { letters: lettersBefore.length, sentBack: 0, seqsTwice: [] };
if (lettersBefore.length > 0) {
  // Each page looks at the dead-letter queue again when its settings are
  // saved: both then list every letter.
  for (const { page } of retriers) {
    await page.getByRole('form', { name: 'Agent settings' }).getByRole('button', { name: 'Save agent' }).click();
    await retryAll(page).waitFor({ timeout: 30_000 }).catch(() => log('a page does not list every dead letter'));
  }
  await Promise.all(retriers.map(({ page }) => retryAll(page).click().catch((e) => log(`Retry all: ${e.message}`))));
  const sentBackDeadline = Date.now() + 120_000;
  for (;;) {
    await sleep(2_000);
    const s = await describeQueue(queue);
    const letters = await describeQueue(`${queue}_dlq`);
    const archivedLetters = letters.archived.filter((l) => lettersBefore.some((b) => b.msg_id === l.msg_id)).length;
    if ((s.queue_length === 0 && archivedLetters === lettersBefore.length) || Date.now() > sentBackDeadline) break;
  }
  const back = (await describeQueue(queue)).archived.filter((m) => m.msg_id > MESSAGES);
  const seqs = back.map((m) => m.message.seq);
  retryTwice = { letters: lettersBefore.length, sentBack: back.length, seqsTwice: seqs.filter((seq, i) => seqs.indexOf(seq) !== i) };
  log(`both operators retried all ${lettersBefore.length} letters: ${back.length} messages came back`);
}
for (const { context } of operators) await context.close();
await browser.close();
await server.close();
clearInterval(sampler);

const state = await describeQueue(queue);
// The letters of the first run (Retry all archived them) and any since.
const lettersNow = (await describeQueue(`${queue}_dlq`)).messages;
const letters = [...lettersBefore, ...lettersNow.filter((l) => !lettersBefore.some((b) => b.msg_id === l.msg_id))];
let tally = await sampleTally();
await configureAgent({});
let injected = null;
if (INJECT_DUPLICATE) {
  // The message done first, long before anyone left, delivered once more.
  injected = tally.timeline.find(([, what]) => what === 'done')?.[0];
  const r = await fetch(`${AGENT}/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `queue/${queue}:${injected}` },
    body: JSON.stringify({ key: injected, table: queue, event: { msg_id: Number(injected), message: { type: 'soak.job' } } }),
  });
  log(`SOAK_INJECT_DUPLICATE: posted message ${injected} to the agent once more: ${r.status} ${await r.text()}`);
  tally = await readTally();
}
const { done, rejected, counts } = tally;
// The first run's messages; those sent back by Retry all are counted apart.
const ids = state.archived.filter((m) => m.msg_id <= MESSAGES).map((m) => String(m.msg_id));
const lettered = new Map(letters.map((l) => [String(l.message.msg_id), l.message.reason]));
const lost = ids.length === MESSAGES ? [] : [`${MESSAGES - ids.length} not archived`];
const unfinished = ids.filter((id) => !done[id] && !lettered.has(id));
const vanished = [...lettered].filter(([, reason]) => /^read \d+ times/.test(reason)).map(([id]) => id);
const withoutCause = [...lettered.keys()].filter((id) => !rejected[id] && !vanished.includes(id));
const designedNotLettered = Object.keys(rejected).filter((id) => !lettered.has(id));
const redelivered = Object.values(counts).filter((n) => n > 1).length;
const doneTwice = Object.values(done).filter((n) => n > 1).length;
const deliveries = tally.deliveries ?? onEpochClock(tally.deliveryTimes, tally.timeline, samples);
const duplicates = duplicateDones({
  timeline: tally.timeline,
  samples,
  deliveries,
  disruptions,
  sentBy: Object.fromEntries(Object.entries(sentBy).map(([label, keys]) => [label, [...keys]])),
  // A message comes back only if it was never archived: an operator that
  // finished it and then held it (its archive refused, the drain halted)
  // until it left explains a second done however long it held it, as long
  // as it left before the second delivery started.
  graceMs: Infinity,
});
// pgmq hands a message out again only through another read: a message done
// more times than it was read got a delivery no read explains, whoever left.
const readCount = new Map(state.archived.map((m) => [String(m.msg_id), m.read_ct]));
for (const [key, n] of Object.entries(done)) {
  const reads = readCount.get(key) ?? 0;
  if (n > reads && !duplicates.unexplained.some((d) => d.key === key)) {
    duplicates.unexplained.push({ key, why: `done ${n} times but read only ${reads} times: no read explains a delivery` });
    const at = duplicates.explained.findIndex((e) => e.key === key);
    if (at >= 0) {
      const [{ label }] = duplicates.explained.splice(at, 1);
      duplicates.byCause[label] -= 1;
    }
  }
}
const closesExplaining = Object.values(duplicates.byCause).reduce((a, b) => a + b, 0);

const lines = [
  ['messages', MESSAGES],
  ['operators joined / left / most at once', `${joined} / ${left} / ${most}`],
  ['archived from the queue', ids.length],
  ['left in the queue', state.queue_length],
  ['done by the agent (distinct)', Object.keys(done).length],
  ['refused by design, dead-lettered with the reason', `${Object.keys(rejected).length - designedNotLettered.length} / ${Object.keys(rejected).length}`],
  ['dead-lettered as read too often (readers left)', vanished.length],
  ['dead-lettered without cause', withoutCause.length],
  ['archived but neither done nor dead-lettered (lost)', unfinished.length],
  ['delivered more than once (same Idempotency-Key)', redelivered],
  ['done more than once', doneTwice],
  ['  explained: done just before its operator left, done again by another', closesExplaining],
  ['  not explained by an operator leaving', duplicates.unexplained.length],
  ['  (times from)', deliveries ? `the agent's delivery times, ±${Math.round(deliveries[0]?.slack ?? 0)} ms` : 'the timeline, sampled'],
  ['archive policy dropped for (s); Retry now pressed on pages', outage?.until ? `${Math.round((outage.until - outage.at) / 1000)}; ${outage.pressed}` : 'never dropped'],
  ['dead letters retried by two operators at once / messages sent back', `${retryTwice.letters} / ${retryTwice.sentBack}`],
  ['page errors (uncaught errors, panics)', pageErrors.length],
];
const width = Math.max(...lines.map(([k]) => k.length));
console.log(`\n## Queue soak: ${MESSAGES} messages, operators joining and leaving (${LANES} lanes each); agent ${JSON.stringify(AGENT_FAULTS)}`);
for (const [k, v] of lines) console.log(`${k.padEnd(width)}  ${v}`);
for (const [label, n] of Object.entries(duplicates.byCause)) console.log(`  ${label}: ${n} done again`);
const other = [];
if (lost.length) other.push(lost.join('; '));
if (state.queue_length > 0) other.push(`${state.queue_length} messages left in the queue`);
if (!outage?.until) other.push('the archive outage did not happen');
if (retryTwice.sentBack !== retryTwice.letters || retryTwice.seqsTwice.length) {
  other.push(`two operators retrying ${retryTwice.letters} letters sent ${retryTwice.sentBack} messages back (seq twice: ${retryTwice.seqsTwice.join(', ') || 'none'})`);
}
if (unfinished.length) other.push(`${unfinished.length} archived but neither done nor dead-lettered: ${unfinished.slice(0, 10).join(', ')}`);
const result = verdict({ deadWithoutCause: withoutCause, designedNotDead: designedNotLettered, unexplainedDuplicates: duplicates.unexplained, pageErrors, other });
for (const { key } of duplicates.unexplained) {
  const senders = Object.entries(sentBy).filter(([, keys]) => keys.has(key)).map(([label]) => label);
  console.log(`  ${key}: sent by ${senders.join(', ') || 'no page'}; timeline: ${tally.timeline.filter(([k]) => k === key).map(([, what]) => what).join(', ')}`);
}
console.log('operators leaving:');
for (const d of disruptions) console.log(`  ${new Date(d.at).toISOString().slice(11, 23)} ${d.label}`);
for (const reason of result.reasons) console.log(`FAILED: ${reason}`);
if (injected !== null) {
  const named = duplicates.unexplained.some((d) => d.key === injected);
  console.log(named ? `the injected duplicate of ${injected} was caught` : `the injected duplicate of ${injected} was NOT caught`);
  if (!named) result.failed = true;
}
console.log(result.failed ? 'QUEUE SOAK FAILED' : 'queue soak passed: nothing lost, nothing dead-lettered without cause, no unexplained duplicate, no page error');
process.exit(result.failed ? 1 : 0);
