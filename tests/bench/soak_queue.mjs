// The queue soak (`scripts/soak.sh`, after the table soak): operators
// (browser contexts, each with its own storage) join and leave one Supabase
// Queue of 3,000 messages while the demo agent misbehaves; leaving is
// abrupt (the context closes in the middle of whatever it does). Then it
// compares the queue's archive, its dead-letter queue and what the agent
// saw. Exits non-zero if any message was lost or dead-lettered without a
// designed reason.
import { launchBrowser, serveDist, queueOperatorContext, rememberedSession } from '../e2e/harness.mjs';
import { ANON, configureAgent, sleep, freshQueue, describeQueue } from '../e2e/backend.mjs';
import { AGENT } from '../contract/stack.mjs';

const MESSAGES = 3_000;
const MOST_OPERATORS = 4;
const LANES = 2;
const AGENT_FAULTS = { latency_ms: 20, latency_jitter_ms: 40, mode: 'json', reject_rate: 0.01, error_rate: 0.03, timeout_rate: 0.003, retry_after_s: 0 };
const log = (message) => console.log(`[queue soak +${Math.round(process.uptime())}s] ${message}`);

const queue = await freshQueue('soak', MESSAGES, 'soak.job');
log(`sent ${MESSAGES} messages to ${queue}`);
await configureAgent(AGENT_FAULTS);
await fetch(`${AGENT}/reset`, { method: 'POST' });

const server = await serveDist();
const browser = await launchBrowser();

// One login, remembered, reused by every operator's storage.
const session = await rememberedSession(browser, server.url, ANON);

const pageErrors = [];
const operators = [];
let joined = 0;
let left = 0;

async function join() {
  const context = await queueOperatorContext(browser, { session, queue, agent: { url: 'https://127.0.0.1:54331/', timeout_s: 2, attempts: 8, lanes: LANES } });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(server.url);
  operators.push(context);
  joined += 1;
}

async function leave() {
  const index = Math.floor(Math.random() * operators.length);
  const [context] = operators.splice(index, 1);
  await context.close();
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
  // Join while fewer than the most; leave now and then, never the last.
  if (operators.length < MOST_OPERATORS && (operators.length < 2 || Math.random() < 0.6)) await join();
  else if (operators.length > 1) await leave();
  most = Math.max(most, operators.length);
}
for (const context of operators) await context.close();
await browser.close();
await server.close();

const state = await describeQueue(queue);
const letters = (await describeQueue(`${queue}_dlq`)).messages;
const tally = await (await fetch(`${AGENT}/tally`)).json();
await configureAgent({});
const prefix = `${queue}:`;
const mine = (map) => Object.fromEntries(Object.entries(map).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
const done = mine(tally.done);
const rejected = mine(tally.rejected);
const counts = mine(tally.keys);
const ids = state.archived.map((m) => String(m.msg_id));
const lettered = new Map(letters.map((l) => [String(l.message.msg_id), l.message.reason]));
const lost = ids.length === MESSAGES ? [] : [`${MESSAGES - ids.length} not archived`];
const unfinished = ids.filter((id) => !done[id] && !lettered.has(id));
const vanished = [...lettered].filter(([, reason]) => /^read \d+ times/.test(reason)).map(([id]) => id);
const withoutCause = [...lettered.keys()].filter((id) => !rejected[id] && !vanished.includes(id));
const designedNotLettered = Object.keys(rejected).filter((id) => !lettered.has(id));
const redelivered = Object.values(counts).filter((n) => n > 1).length;
const doneTwice = Object.values(done).filter((n) => n > 1).length;

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
  ['page errors', pageErrors.length],
];
const width = Math.max(...lines.map(([k]) => k.length));
console.log(`\n## Queue soak: ${MESSAGES} messages, operators joining and leaving (${LANES} lanes each); agent ${JSON.stringify(AGENT_FAULTS)}`);
for (const [k, v] of lines) console.log(`${k.padEnd(width)}  ${v}`);
if (pageErrors.length) console.log(`page errors: ${pageErrors.slice(0, 5).join(' | ')}`);
const failed = lost.length > 0 || state.queue_length > 0 || unfinished.length > 0 || withoutCause.length > 0 || designedNotLettered.length > 0 || pageErrors.length > 0;
console.log(failed ? 'QUEUE SOAK FAILED' : 'queue soak passed: nothing lost, nothing dead-lettered without cause');
process.exit(failed ? 1 : 0);
