// The soaks' verdict (tests/bench/soak.mjs, soak_queue.mjs), as pure
// functions of what they recorded, so that it can be tried on made-up data
// (tests/bench/verdict.test.mjs) and shown to fail.
//
// Every event is to be done once. A second "done" for a key is allowed only
// when a disruption the soak caused explains it: the page (or tab, or
// operator) that had the key at the gate went away (reload, close) or had its
// connections to the agent cut, just when the agent had finished it, so the
// page never recorded that done, and the key was delivered again after that.
// The demo agent counts deliveries by Idempotency-Key and refuses (400,
// uncounted) a delivery whose Idempotency-Key is not `{table}:{key}` of its
// body: every counted delivery of a key carried the same Idempotency-Key.

/** How long after the agent records a done the page may still not have it
 * recorded (the reply on its way, the ledger write), in ms. */
export const GRACE_MS = 3000;

/**
 * When timeline entry `index` can have happened, from the soak's samples of
 * the timeline's length (`{before, after, length}`: the length read by a
 * request sent at `before`, answered at `after`, in ms since the epoch):
 * `[earliest, latest]`, unbounded (±Infinity) where no sample tells.
 */
export function whenIndex(index, samples) {
  let earliest = -Infinity;
  let latest = Infinity;
  for (const s of samples) {
    if (s.length <= index) earliest = Math.max(earliest, s.before);
    else latest = Math.min(latest, s.after);
  }
  return [earliest, latest];
}

/** Each key's deliveries, in order, from the timeline: `{started, ended,
 * outcome}` with times as `[earliest, latest]` windows. A key's outcomes are
 * matched to its arrivals in order (one key's deliveries run one after
 * another; an outcome not yet recorded leaves `ended` unbounded). */
function deliveriesFromTimeline(timeline, samples) {
  const byKey = new Map();
  timeline.forEach(([key, what], index) => {
    if (!byKey.has(key)) byKey.set(key, { arrivals: [], outcomes: [] });
    const entry = byKey.get(key);
    if (what === 'arrived') entry.arrivals.push(index);
    else entry.outcomes.push({ index, what });
  });
  const out = new Map();
  for (const [key, { arrivals, outcomes }] of byKey) {
    out.set(key, arrivals.map((arrived, n) => ({
      started: whenIndex(arrived, samples),
      ended: outcomes[n] ? whenIndex(outcomes[n].index, samples) : [-Infinity, Infinity],
      outcome: outcomes[n]?.what ?? null,
    })));
  }
  return out;
}

/** The same from the agent's own per-delivery times (ms since the epoch). */
function deliveriesFromTimes(deliveries) {
  const out = new Map();
  for (const d of deliveries) {
    if (!out.has(d.key)) out.set(d.key, []);
    const slack = d.slack ?? 0;
    out.get(d.key).push({
      started: [d.started_ms - slack, d.started_ms + slack],
      ended: d.ended_ms == null ? [-Infinity, Infinity] : [d.ended_ms - slack, d.ended_ms + slack],
      outcome: d.outcome,
    });
  }
  for (const list of out.values()) list.sort((a, b) => a.started[0] - b.started[0]);
  return out;
}

/**
 * The demo agent's per-delivery times (`delivery_times`: `{key, started_ms,
 * ended_ms, outcome}`, ms on the agent's own monotonic clock, in the order
 * the deliveries arrived, the latest ones kept) put on the epoch clock of the
 * samples: the n-th of them from the end is the n-th arrival from the end
 * of the timeline (both are recorded under one lock), whose window the
 * samples bound, and so bound the agent clock's offset. Returns the
 * deliveries with epoch times, or null when the offset is not known to
 * within `withinMs`.
 */
export function onEpochClock(deliveryTimes, timeline, samples, withinMs = 1000) {
  if (!Array.isArray(deliveryTimes) || deliveryTimes.length === 0) return null;
  const arrivals = [];
  timeline.forEach(([, what], index) => { if (what === 'arrived') arrivals.push(index); });
  if (arrivals.length < deliveryTimes.length) return null;
  const skip = arrivals.length - deliveryTimes.length;
  let low = -Infinity;
  let high = Infinity;
  deliveryTimes.forEach((d, n) => {
    const [earliest, latest] = whenIndex(arrivals[skip + n], samples);
    low = Math.max(low, earliest - d.started_ms);
    high = Math.min(high, latest - d.started_ms);
  });
  if (!(high - low <= withinMs) || high < low) return null;
  const offset = (low + high) / 2;
  const slack = (high - low) / 2;
  return deliveryTimes.map((d) => ({
    key: d.key,
    started_ms: d.started_ms + offset,
    ended_ms: d.ended_ms == null ? null : d.ended_ms + offset,
    outcome: d.outcome,
    slack,
  }));
}

/**
 * Sorts the keys done more than once into those a disruption explains and
 * the others.
 *
 * - `timeline`: `[[key, 'arrived' | outcome]]` as the demo agent recorded it.
 * - `samples`: `[{before, after, length}]`, the timeline's length over time.
 * - `deliveries` (optional): `[{key, started_ms, ended_ms, outcome, slack}]`
 *   with times in ms since the epoch, give or take `slack` (see
 *   onEpochClock); when given, used instead of the timeline.
 * - `disruptions`: `[{label, cause, page, at, until}]`: what the soak did to
 *   which page, from `at` to `until` (ms since the epoch).
 * - `sentBy` (optional): `{page: [keys]}`: the keys each page sent to the
 *   agent; a disruption explains only keys its page had sent.
 * - `causes`: the causes that can lose a done (default: reload, close, cut).
 *
 * A repeat is explained by a disruption when the done before it was lost
 * to that disruption: that delivery was sent before the disruption ended,
 * and ended no more than `graceMs` before it began (or while it lasted);
 * and the repeat was sent after the disruption began. One disruption
 * explains at most one repeat of a key.
 *
 * Returns `{ explained: [{key, label, cause, page}], unexplained: [{key, why}],
 * byCause: {label: n} }`.
 */
export function duplicateDones({ timeline, samples = [], deliveries = null, disruptions, sentBy = null, causes = ['reload', 'close', 'cut'], graceMs = GRACE_MS }) {
  const explained = [];
  const unexplained = [];
  const candidates = disruptions.filter((d) => causes.includes(d.cause));
  const sent = sentBy && Object.fromEntries(Object.entries(sentBy).map(([page, keys]) => [page, new Set(keys)]));
  const perKey = deliveries ? deliveriesFromTimes(deliveries) : deliveriesFromTimeline(timeline, samples);
  for (const [key, list] of perKey) {
    const dones = list.filter((d) => d.outcome === 'done');
    const used = new Set();
    // Each done after the first needs its own reason: the one before it was lost.
    for (let n = 1; n < dones.length; n += 1) {
      const lost = dones[n - 1];
      const again = dones[n];
      const reason = candidates.find((d) => !used.has(d)
        && (!sent || sent[d.page]?.has(key))
        && lost.started[0] <= d.until
        && lost.ended[1] >= d.at - graceMs && lost.ended[0] <= d.until + graceMs
        && again.started[1] >= d.at);
      if (reason) {
        used.add(reason);
        explained.push({ key, label: reason.label, cause: reason.cause, page: reason.page });
      } else {
        unexplained.push({ key, why: `done ${dones.length} times; done no. ${n} (at ${describe(lost.ended)}) was not lost to a reload, close or cut of a page that sent it` });
      }
    }
  }
  const byCause = {};
  for (const e of explained) byCause[e.label] = (byCause[e.label] ?? 0) + 1;
  return { explained, unexplained, byCause };
}

function describe([earliest, latest]) {
  const t = (ms) => (Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 23) : '?');
  return earliest === latest ? t(earliest) : `${t(earliest)}–${t(latest)}`;
}

/** The page errors that fail a soak: every uncaught error, and console
 * errors that come from a panic (failed loads from injected faults do not). */
export function isPageError({ kind, text }) {
  return kind === 'pageerror' || /panicked at|RuntimeError|unreachable|wasm-bindgen/i.test(text);
}

/**
 * The verdict: `{ failed, reasons }`. Each argument is a list of what went
 * wrong of its kind (empty when nothing did); `other` holds further
 * failures as sentences.
 */
export function verdict({ lost = [], deadWithoutCause = [], designedNotDead = [], unexplainedDuplicates = [], pageErrors = [], other = [] }) {
  const reasons = [];
  const say = (list, what, show = (x) => x) => {
    if (list.length) reasons.push(`${list.length} ${what}: ${list.slice(0, 10).map(show).join('; ')}${list.length > 10 ? '; …' : ''}`);
  };
  say(lost, 'lost (neither passed nor dead-lettered)');
  say(deadWithoutCause, 'dead-lettered without cause');
  say(designedNotDead, 'designed rejects not dead-lettered');
  say(unexplainedDuplicates, 'done more than once without a disruption to explain it', (d) => `${d.key} (${d.why})`);
  say(pageErrors, 'page errors', (e) => (typeof e === 'string' ? e : `${e.page ?? ''} ${e.text}`.trim()));
  reasons.push(...other);
  return { failed: reasons.length > 0, reasons };
}
