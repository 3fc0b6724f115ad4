// The benchmark (`scripts/bench.sh`): runs the release build in headless
// Chromium against the local stack and prints its figures, next to the
// targets, each row as soon as it is measured. It measures; it asserts
// nothing, but a row that cannot be measured prints why, the other rows go
// on, and the process exits non-zero at the end. The seed prototype's
// persistence and fetch are run beside Sluice's in the same run.
import { createServer } from 'node:http';
import { readFile, readdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { extname, join, normalize } from 'node:path';
import { ROOT, AGENT_URL, AGENT_H2, launchBrowser, queueOperatorContext, rememberedSession, logIn, distConfig } from '../e2e/harness.mjs';
import { ANON, freshTable, freshQueue, insert, configureAgent, eventually, sleep, sql } from '../e2e/backend.mjs';
import { GATEWAY, REST, serviceHeaders } from '../contract/stack.mjs';

// AGENT_H2 is the same demo agent over HTTPS with HTTP/2: more lanes than a
// browser opens HTTP/1.1 connections to one host (six) need it.
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml' };
const BENCH_PAGE = `<!doctype html><meta charset="utf-8"><title>persistence probe</title>
<script type="module">
import init, * as probe from './persistence_bench.js';
await init();
window.probe = probe;
</script>`;

/** dist/ at /, the persistence probe at /bench/. */
async function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path === '/bench/' || path === '/bench/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(BENCH_PAGE);
      return;
    }
    const file = path.startsWith('/bench/')
      ? join(ROOT, 'target', 'bench-pkg', path.slice('/bench/'.length))
      : join(ROOT, 'dist', path.endsWith('/') ? 'index.html' : path);
    try {
      const body = path === '/config.json' ? await distConfig() : await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

const rows = [];
const failures = [];
const WIDTH = 64;
const VALUE_WIDTH = 56;
const line = (r) => {
  if (r.section) return `\n## ${r.section}`;
  const verdict = r.met === null ? '' : r.met ? '  met' : '  MISSED';
  return `${r.measure.padEnd(WIDTH)}  ${r.value.padEnd(VALUE_WIDTH)}  ${r.target}${verdict}`;
};
/** Records a section or a row and prints it at once. */
const emit = (r) => { rows.push(r); console.log(line(r)); };
const section = (name) => emit({ section: name });
const row = (measure, value, target = '', met = null) => emit({ measure, value, target, met });
/**
 * Runs one measurement (its rows print as it measures them); if it throws,
 * prints a FAILED row with the reason (the stack on stderr) and goes on.
 */
async function step(name, measure) {
  try {
    return await measure();
  } catch (error) {
    failures.push(name);
    emit({ measure: name, value: `FAILED: ${String(error?.message ?? error).split('\n')[0]}`, target: '', met: null });
    console.error(`# ${name} failed:`, error);
    return undefined;
  }
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ms = (x) => `${x.toFixed(x < 1 ? 3 : x < 10 ? 2 : 0)} ms`;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

/** Every row a fresh table gets: `n` events a millisecond apart, an hour old. */
async function tableWith(label, n) {
  const table = await freshTable(label);
  const base = Date.now() - 3_600_000;
  for (let start = 0; start < n; start += 1000) {
    const count = Math.min(1000, n - start);
    await insert(table, Array.from({ length: count }, (_, i) => ({ created_at: new Date(base + start + i).toISOString(), type: 'order.created' })));
  }
  return table;
}

/** A context whose storage already holds a remembered login, agent settings
 * (an empty URL is pass-through, chosen) and the table among the sources. */
async function contextWith(browser, { session, agentUrl, table, lanes = 1 }) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await context.addInitScript(({ session, agent, tables }) => {
    if (session) localStorage.setItem('sluice:v1:session', session);
    localStorage.setItem('sluice:v1:agent', agent);
    localStorage.setItem('sluice:v1:tables', tables);
    window.__marks = {};
    window.__longTasks = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
      .observe({ type: 'longtask' });
    new MutationObserver(() => {
      if (!window.__marks.rail && document.querySelector('.rail')) window.__marks.rail = performance.now();
      if (!window.__marks.admitted && document.querySelector('.pill')) window.__marks.admitted = performance.now();
    }).observe(document, { childList: true, subtree: true });
    addEventListener('TrunkApplicationStarted', (e) => { window.__wasmMemory = e.detail.wasm.memory; });
  }, {
    session,
    agent: JSON.stringify({ url: agentUrl, pass_through: agentUrl === '', token: '', timeout_s: 30, attempts: 5, lanes }),
    tables: JSON.stringify([{ table, timestamp_column: 'created_at', key_column: 'id' }]),
  });
  return context;
}

async function bundle() {
  section('Bundle (release, gzip -9)');
  const files = await readdir(join(ROOT, 'dist'));
  let raw = 0; let gz = 0;
  for (const ext of ['.wasm', '.js', '.css']) {
    const name = files.find((f) => f.endsWith(ext) && !f.endsWith('.json'));
    const body = await readFile(join(ROOT, 'dist', name));
    const zipped = gzipSync(body, { level: 9 }).length;
    raw += body.length; gz += zipped;
    row(`${ext.slice(1)} raw / gzip`, `${kb(body.length)} / ${kb(zipped)}`);
  }
  row('total raw / gzip', `${kb(raw)} / ${kb(gz)}`, '< 150 KB gzip', gz < 150 * 1024);
}

async function start(browser, url, session) {
  section('Start (5 cold loads: new context, empty cache; logged in, pass-through)');
  const rail = []; const admitted = [];
  for (let i = 0; i < 5; i++) {
    const table = await tableWith(`start${i}`, 20);
    const context = await contextWith(browser, { session, agentUrl: '', table });
    const page = await context.newPage();
    await page.goto(`${url}?table=${table}`);
    await page.locator('.pill').first().waitFor();
    const marks = await page.evaluate(() => window.__marks);
    rail.push(marks.rail); admitted.push(marks.admitted);
    await context.close();
  }
  const spread = (xs) => `median ${ms(median(xs))} (${ms(Math.min(...xs))}–${ms(Math.max(...xs))})`;
  row('navigation → rail rendered', spread(rail), '< 300 ms', median(rail) < 300);
  row('navigation → first event admitted', spread(admitted));
}

/** Drains a backlog of `events` (all of it, or for `seconds` after the
 * first event when given) through `lanes`; returns events/s and the page's
 * figures. */
async function drain(browser, url, session, agentUrl, { lanes = 1, events = 10_000, seconds = null, limitMs = 10 * 60_000 } = {}) {
  const table = await tableWith('drain', events);
  const context = await contextWith(browser, { session: null, agentUrl, table, lanes });
  try {
    const page = await context.newPage();
    await page.goto(`${url}?table=${table}`);
    await page.getByRole('region', { name: 'Gate' }).waitFor();
    const cdp = await context.newCDPSession(page);
    const measure = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const heap = await cdp.send('Runtime.getHeapUsage');
      const page_ = await page.evaluate(() => ({ nodes: document.getElementsByTagName('*').length, wasm: window.__wasmMemory?.buffer.byteLength ?? 0 }));
      return { heap: heap.usedSize, ...page_ };
    };
    const before = await measure();
    await page.evaluate(() => { window.__longTasks = []; });
    await logIn(page, { key: ANON });
    // The drain node is rendered by now (the rail is); the loop below reads it
    // in the page, which costs less than a locator while it measures.
    await page.locator('.node--drain').waitFor();
    const drained = () => page.evaluate(() => Number(/(\d+) drained/.exec(document.querySelector('.node--drain')?.innerText ?? '')?.[1] ?? 0));
    await page.locator('.pill').first().waitFor({ timeout: 60_000 });
    const first = await page.evaluate(() => performance.now());
    const firstCount = await drained();
    let last = first;
    let count = firstCount;
    for (;;) {
      count = await drained();
      last = await page.evaluate(() => performance.now());
      if (count >= events || (seconds && last - first >= seconds * 1000)) break;
      if (last - first > limitMs) {
        throw new Error(`${count} of ${events} drained after ${Math.round(limitMs / 1000)} s`);
      }
      await sleep(50);
    }
    const rate = (count - firstCount) / ((last - first) / 1000);
    const longTasks = await page.evaluate(() => window.__longTasks);
    await sleep(1500);
    const after = await measure();
    return { rate, before, after, longTasks };
  } finally {
    await context.close();
  }
}

async function throughput(browser, url, session) {
  section('Drain throughput (10,000-event backlog)');
  const pass = await step('pass-through gate', async () => {
    const run = await drain(browser, url, session, '');
    row('pass-through gate', `${run.rate.toFixed(0)} events/s`, '≥ 3,000 events/s', run.rate >= 3000);
    return run;
  });
  const agent = await step('demo agent, zero latency (one HTTP POST per event)', async () => {
    await configureAgent({ latency_ms: 0, mode: 'json' });
    const run = await drain(browser, url, session, AGENT_URL);
    row('demo agent, zero latency (one HTTP POST per event)', `${run.rate.toFixed(0)} events/s`);
    return run;
  });

  section('Memory and smoothness (the pass-through run: before login → after 10,000 events, after GC)');
  const worst = (runs) => Math.max(0, ...runs);
  if (pass) {
    const growth = pass.after.heap - pass.before.heap;
    row('JS heap', `${kb(pass.before.heap)} → ${kb(pass.after.heap)} (${growth >= 0 ? '+' : ''}${kb(growth)})`, '< 5 MB growth', growth < 5 * 1024 * 1024);
    row('wasm linear memory', `${kb(pass.before.wasm)} → ${kb(pass.after.wasm)}`);
    row('DOM elements', `${pass.before.nodes} → ${pass.after.nodes}`);
    row('long tasks (> 50 ms) while draining, pass-through', `${pass.longTasks.length}, longest ${ms(worst(pass.longTasks))}`, 'none over 50 ms', pass.longTasks.length === 0);
  } else {
    row('JS heap, wasm memory, DOM, long tasks (pass-through)', 'not measured: the pass-through run failed');
  }
  if (agent) {
    row('long tasks (> 50 ms) while draining, demo agent', `${agent.longTasks.length}, longest ${ms(worst(agent.longTasks))}`, 'none over 50 ms', agent.longTasks.length === 0);
  }
}

/** Requests per second that `lanes` loops of bare fetch() reach from a page
 * for `ms`, each posting an event-sized body and reading the reply. */
async function bareFetches(browser, url, agentUrl, lanes, ms) {
  await configureAgent({ latency_ms: 0, mode: 'json' });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${url}bench/`);
  const rate = await page.evaluate(async ({ agentUrl, lanes, ms }) => {
    let done = 0;
    let k = 0;
    const until = performance.now() + ms;
    const lane = async () => {
      while (performance.now() < until) {
        const key = String(k++);
        const reply = await fetch(agentUrl, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `bench_ceiling:${key}` },
          body: JSON.stringify({ key, table: 'bench_ceiling', event: { id: key, type: 'order.created' } }),
        });
        await reply.arrayBuffer();
        done++;
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    return done / (ms / 1000);
  }, { agentUrl, lanes, ms });
  await context.close();
  return rate;
}

/** Lanes side by side, each run on a fresh table of its own. */
async function lanes(browser, url) {
  section('Lanes (demo agent over HTTP/2, built in release; 15 s of draining per row)');
  const slow = {};
  for (const n of [1, 4, 16]) {
    const name = `agent at 200 ms, ${n} lane${n > 1 ? 's' : ''}`;
    slow[n] = await step(name, async () => {
      await configureAgent({ latency_ms: 200, mode: 'json' });
      const run = await drain(browser, url, null, AGENT_H2, { lanes: n, events: 400 * n, seconds: 15 });
      const speedUp = slow[1] ? `×${(run.rate / slow[1].rate).toFixed(1)} over 1 lane` : 'no 1-lane figure to compare';
      row(name, `${run.rate.toFixed(1)} events/s (${speedUp})`,
        n === 16 ? '≥ 12× over 1 lane' : '', n === 16 && slow[1] ? run.rate / slow[1].rate >= 12 : null);
      return run;
    });
  }
  const fast = await step('agent at zero latency, 16 lanes (10,000 events)', async () => {
    await configureAgent({ latency_ms: 0, mode: 'json' });
    const run = await drain(browser, url, null, AGENT_H2, { lanes: 16, events: 10_000 });
    row('agent at zero latency, 16 lanes (10,000 events)', `${run.rate.toFixed(0)} events/s`, '≥ 500 events/s', run.rate >= 500);
    return run;
  });
  // The ceiling the page cannot pass: bare fetches from its main thread,
  // 16 at a time, to the same agent, with nothing else to do.
  await step('browser ceiling: bare fetch() from the page, 16 at a time, same agent', async () => {
    const ceiling = await bareFetches(browser, url, AGENT_H2, 16, 5000);
    const share = fast ? `Sluice at 16 lanes: ${(fast.rate / ceiling * 100).toFixed(0)} % of it` : 'no 16-lane figure to compare';
    row('browser ceiling: bare fetch() from the page, 16 at a time, same agent', `${ceiling.toFixed(0)} requests/s (${share})`);
  });
  const runs = [fast, slow[16]].filter(Boolean);
  if (runs.length) {
    const tasks = runs.flatMap((run) => run.longTasks);
    row(`long tasks (> 50 ms) while draining at 16 lanes${runs.length < 2 ? ' (one run only)' : ''}`, `${tasks.length}, longest ${ms(Math.max(0, ...tasks))}`, 'none over 50 ms', tasks.length === 0);
  }
}

/** `operators` browser contexts (one lane each) drain one queue for
 * `seconds`; the rate counts what they drained together, from the moment
 * each has drained a message. */
async function drainQueue(browser, url, session, operators, seconds) {
  const queue = await freshQueue(`bench_ops${operators}`, 150 * operators);
  const pages = [];
  for (let i = 0; i < operators; i += 1) {
    const agent = { url: AGENT_H2, timeout_s: 10, attempts: 3, lanes: 1 };
    const context = await queueOperatorContext(browser, { session, queue, agent });
    const page = await context.newPage();
    await page.goto(url);
    pages.push({ context, page });
  }
  try {
    return await measureQueue(pages, operators, seconds);
  } finally {
    for (const { context } of pages) await context.close();
  }
}

/** The shared rate of `pages` draining one queue (see drainQueue). */
async function measureQueue(pages, operators, seconds) {
  // Through a locator, which waits for the page to render its drain node
  // (read too early, document.querySelector gave null on a cold start).
  const perPage = () => Promise.all(pages.map(async ({ page }) => {
    const text = await page.locator('.node--drain').innerText({ timeout: 30_000 });
    return Number(/(\d+) drained/.exec(text)?.[1] ?? 0);
  }));
  const drained = async () => (await perPage()).reduce((a, b) => a + b, 0);
  // The window opens once every operator is draining (they start one after
  // another), so the rate is that of all of them together.
  await eventually(async () => (await perPage()).every((n) => n > 0), 60_000, 'every operator draining');
  const first = Date.now();
  const firstCount = await drained();
  let count = firstCount;
  while (Date.now() - first < seconds * 1000 && count < 150 * operators) {
    await sleep(200);
    count = await drained();
  }
  return (count - firstCount) / ((Date.now() - first) / 1000);
}

/** Operators side by side on one queue each run, a 100 ms agent. */
async function queues(browser, url, session) {
  section('Supabase Queues (pgmq through pgmq_public; one queue per row, 1 lane per operator, agent at 100 ms over HTTP/2; 15 s of draining per row)');
  const rates = {};
  for (const n of [1, 2, 4]) {
    const name = `${n} operator${n > 1 ? 's' : ''}`;
    rates[n] = await step(name, async () => {
      await configureAgent({ latency_ms: 100, mode: 'json' });
      const rate = await drainQueue(browser, url, session, n, 15);
      const goal = { 1: null, 2: 1.8, 4: 3.4 }[n];
      const speedUp = rates[1] ? rate / rates[1] : null;
      row(name, `${rate.toFixed(1)} messages/s (${speedUp === null ? 'no 1-operator figure to compare' : `×${speedUp.toFixed(2)} over 1`})`,
        goal ? `≥ ${goal}× over 1` : '', goal && speedUp !== null ? speedUp >= goal : null);
      return rate;
    });
  }
  await configureAgent({ latency_ms: 0, mode: 'json' });
}

async function persistence(browser, url) {
  section('Persistence: recording the k-th processed event (mean over 200 records for Sluice, 20 for the seed, each batch timed whole), same browser, same run');
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}bench/`);
  await page.waitForFunction(() => window.probe);
  for (const k of [1_000, 10_000, 100_000]) {
    const sluice = await page.evaluate(({ k }) => {
      localStorage.clear();
      const perRecord = window.probe.sluice_record_ms('bench_events', k, 200);
      let chars = 0;
      for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        chars += key.length + localStorage.getItem(key).length;
      }
      const load = window.probe.sluice_load_ms('bench_events');
      return { perRecord, chars, load };
    }, { k });
    // The seed prototype, as its research notes give it: one Set of
    // "{table}:{id}", written whole as a JSON array after every event.
    const seed = await page.evaluate(({ k }) => {
      localStorage.clear();
      const KEY = 'ms-processed-events';
      const processed = new Set();
      for (let i = 1; i < k; i++) processed.add(`bench_events:${i}`);
      localStorage.setItem(KEY, JSON.stringify(Array.from(processed)));
      let perRecord;
      try {
        const started = performance.now();
        for (let i = k; i < k + 20; i++) {
          processed.add(`bench_events:${i}`);
          localStorage.setItem(KEY, JSON.stringify(Array.from(processed)));
        }
        perRecord = (performance.now() - started) / 20;
      } catch (error) {
        return { error: error.name };
      }
      const chars = KEY.length + localStorage.getItem(KEY).length;
      const started = performance.now();
      const loaded = new Set(JSON.parse(localStorage.getItem(KEY)));
      const load = performance.now() - started;
      return { perRecord, chars, load, size: loaded.size };
    }, { k });
    const label = k.toLocaleString('en');
    if (seed.error) {
      row(`k = ${label}: Sluice / seed`, `${ms(sluice.perRecord)} / failed (${seed.error})`);
      continue;
    }
    const [a, b] = [sluice.perRecord, seed.perRecord];
    row(`k = ${label}: time to record, Sluice / seed`, `${ms(a)} / ${ms(b)} (seed ×${(b / a).toFixed(1)})`);
    row(`k = ${label}: localStorage characters, Sluice / seed`, `${sluice.chars.toLocaleString('en')} / ${seed.chars.toLocaleString('en')} (seed ×${(seed.chars / sluice.chars).toFixed(1)})`,
      k === 100_000 ? '< 16 KB for Sluice' : '', k === 100_000 ? sluice.chars * 1 < 16 * 1024 : null);
    row(`k = ${label}: reading it back on load, Sluice / seed`, `${ms(sluice.load)} / ${ms(seed.load)}`);
  }
  await context.close();
}

async function fetchStall() {
  section('Fetching after the oldest 100 rows are processed (300-row table, 3 polls each)');
  const table = await tableWith('stall', 300);
  const get = async (params) => (await (await fetch(`${REST}/${table}?${new URLSearchParams(params)}`, { headers: serviceHeaders })).json());
  const all = await get({ select: 'id,created_at', order: 'created_at.asc,id.asc' });
  const processed = new Set(all.slice(0, 100).map((r) => `${table}:${r.id}`));
  const seedNew = [];
  for (let poll = 0; poll < 3; poll++) {
    const data = await get({ select: '*', order: 'created_at.asc', limit: '100' });
    seedNew.push(data.filter((r) => !processed.has(`${table}:${r.id}`)).length);
  }
  const sluiceNew = [];
  let cursor = all[99];
  for (let poll = 0; poll < 3; poll++) {
    const data = await get({ select: '*', order: 'created_at.asc,id.asc', limit: '100', or: `(created_at.gt."${cursor.created_at}",and(created_at.eq."${cursor.created_at}",id.gt.${cursor.id}))` });
    sluiceNew.push(data.length);
    if (data.length) cursor = data[data.length - 1];
  }
  row('seed: oldest 100 ascending, filtered in the browser', `new events per poll: ${seedNew.join(', ')} (stalled)`);
  row('Sluice: keyset after the cursor', `new events per poll: ${sluiceNew.join(', ')}`);
}

async function idle(browser, url, session) {
  section('Idle cost (nothing new, default rate: every 2 s; 30 s observed)');
  const table = await tableWith('idle', 5);
  const context = await contextWith(browser, { session, agentUrl: '', table });
  const page = await context.newPage();
  await page.goto(`${url}?table=${table}`);
  await eventually(async () => /5 drained/.test(await page.locator('.node--drain').innerText()), 20_000, 'drained');
  await sleep(3000);
  const seen = [];
  page.on('requestfinished', async (request) => {
    if (!request.url().startsWith(GATEWAY)) return;
    const sizes = await request.sizes();
    seen.push(sizes.requestHeadersSize + sizes.requestBodySize + sizes.responseHeadersSize + sizes.responseBodySize);
  });
  await sleep(30_000);
  await context.close();
  row('requests per minute', `${seen.length * 2}`);
  row('bytes per poll (request + response, headers included)', seen.length ? `${Math.round(seen.reduce((a, b) => a + b, 0) / seen.length)} B` : 'no polls');
}

/**
 * Supabase Realtime against polling, in the same run: 200 rows inserted one
 * by one at random intervals (100 to 500 ms), each timed from just before
 * its insert to the moment the page counts it drained (the pass-through
 * agent, so that is when its pill reached the gate, plus a few
 * milliseconds); then a drained table watched, live for two minutes (its
 * safety reads come a minute apart), polled for 30 s.
 */
async function live(browser, url, session) {
  section('Live (Supabase Realtime) against polling at the default rate (every 2 s), same run');
  const measured = {};
  for (const mode of ['live', 'polling']) {
    const table = await freshTable(mode);
    if (mode === 'live') await sql(`alter publication supabase_realtime add table public.${table}`);
    const context = await contextWith(browser, { session, agentUrl: '', table });
    const page = await context.newPage();
    let frames = 0;
    page.on('websocket', (socket) => socket.on('framesent', () => { frames += 1; }));
    await page.goto(`${url}?table=${table}`);
    const shown = page.locator('.node--source .node__mode');
    const wanted = mode === 'live' ? /^live$/ : /^polling every 2 s: .* not in the supabase_realtime publication/;
    await eventually(async () => wanted.test(await shown.innerText()), 30_000, `the Source says ${mode}`);
    await sleep(2_000);
    await page.evaluate(() => {
      window.__drained = [];
      const node = document.querySelector('.node--drain');
      new MutationObserver(() => {
        const n = Number(/(\d+) drained/.exec(node.innerText)?.[1] ?? 0);
        if (n !== window.__drained.at(-1)?.[0]) window.__drained.push([n, Date.now()]);
      }).observe(node, { subtree: true, childList: true, characterData: true });
    });
    const inserted = [];
    for (let i = 0; i < 200; i += 1) {
      await sleep(100 + Math.random() * 400);
      inserted.push(Date.now());
      await insert(table, [{ type: 'bench.live', payload: { i } }]);
    }
    await eventually(async () => (await page.evaluate(() => window.__drained.at(-1)?.[0] ?? 0)) >= 200, 30_000, '200 drained');
    const drained = await page.evaluate(() => window.__drained);
    const latencies = inserted.map((at, i) => drained.find(([n]) => n >= i + 1)[1] - at).sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length * 0.5)];
    const p95 = latencies[Math.floor(latencies.length * 0.95)];
    // Idle: nothing new; requests to the project and frames on the socket.
    await sleep(3_000);
    const observed = mode === 'live' ? 120_000 : 30_000;
    let requests = 0;
    frames = 0;
    const count = (request) => { if (request.url().startsWith(GATEWAY)) requests += 1; };
    page.on('requestfinished', count);
    await sleep(observed);
    page.off('requestfinished', count);
    const perMinute = (n) => (n * 60_000) / observed;
    measured[mode] = { p50, p95, requests: perMinute(requests), frames: perMinute(frames) };
    await context.close();
  }
  const { live: on, polling: off } = measured;
  row('insert → gate, p50 / p95 (200 rows, live)', `${ms(on.p50)} / ${ms(on.p95)}`, 'p95 < 100 ms', on.p95 < 100);
  row('insert → gate, p50 / p95 (200 rows, polling every 2 s)', `${ms(off.p50)} / ${ms(off.p95)}`, 'about 2 s');
  row('live against polling, p50 and p95', `×${(off.p50 / on.p50).toFixed(1)} and ×${(off.p95 / on.p95).toFixed(1)} faster`);
  row('idle requests per minute, live (2 min observed)', `${on.requests.toFixed(1)} (+ ${on.frames.toFixed(1)} socket frames)`, '≤ 2 + heartbeats', on.requests <= 2);
  row('idle requests per minute, polling (30 s observed)', `${off.requests.toFixed(1)}`);
}

const server = await serve();
const browser = await launchBrowser();
try {
  const session = await rememberedSession(browser, server.url, ANON);
  // `node tests/bench/bench.mjs live` measures one section alone.
  const only = process.argv[2];
  const wanted = (name) => !only || only === name;
  if (wanted('bundle')) await step('bundle', () => bundle());
  if (wanted('start')) await step('start', () => start(browser, server.url, session));
  if (wanted('throughput')) await throughput(browser, server.url, session);
  if (wanted('lanes')) await lanes(browser, server.url);
  if (wanted('queues')) await queues(browser, server.url, session);
  if (wanted('persistence')) await step('persistence', () => persistence(browser, server.url));
  if (wanted('fetch')) await step('fetching after the oldest 100', () => fetchStall());
  if (wanted('idle')) await step('idle cost', () => idle(browser, server.url, session));
  if (wanted('live')) await step('live', () => live(browser, server.url, session));
} catch (error) {
  failures.push('the benchmark itself');
  console.error('# the benchmark stopped:', error);
} finally {
  await browser.close();
  server.close();
  await configureAgent({}).catch(() => {});
}
const measured = rows.filter((r) => r.measure).length;
if (failures.length) {
  console.log(`\n${measured} rows printed; ${failures.length} could not be measured: ${failures.join('; ')}`);
  process.exit(1);
}
console.log(`\n${measured} rows measured.`);
