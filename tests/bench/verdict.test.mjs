// The soaks' verdict on made-up records: `node --test tests/bench/verdict.test.mjs`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplicateDones, verdict, whenIndex, isPageError, onEpochClock } from './verdict.mjs';

// Timeline lengths sampled once a second from t = 0 (sample n: length 10n).
const T0 = 1_700_000_000_000;
const samples = Array.from({ length: 61 }, (_, n) => ({ before: T0 + n * 1000 - 50, after: T0 + n * 1000, length: 10 * n }));
/** A timeline whose entry `i` happened between samples: 10 entries a second. */
function timeline(entries) {
  const out = Array.from({ length: 600 }, (_, i) => [`filler${i >> 1}`, i % 2 ? 'done' : 'arrived']);
  for (const [i, entry] of entries) out[i] = entry;
  return out;
}
const reloadAt30s = { label: 'reload 1 of tab 1', cause: 'reload', page: 'tab 1', at: T0 + 30_000, until: T0 + 31_000 };

test('the samples bound when an entry happened', () => {
  assert.deepEqual(whenIndex(305, samples), [T0 + 30_000 - 50, T0 + 31_000]);
  assert.deepEqual(whenIndex(10_000, samples), [T0 + 60_000 - 50, Infinity]);
});

test('a done just before a reload of the page that sent it, delivered again after it: explained, counted by cause', () => {
  // Key 7 done at entry 300 (t ≈ 30 s, the reload), arrives again at 320 and is done at 321.
  const t = timeline([[299, ['7', 'arrived']], [300, ['7', 'done']], [320, ['7', 'arrived']], [321, ['7', 'done']]]);
  const result = duplicateDones({ timeline: t, samples, disruptions: [reloadAt30s], sentBy: { 'tab 1': ['7'] } });
  assert.deepEqual(result.unexplained, []);
  assert.deepEqual(result.byCause, { 'reload 1 of tab 1': 1 });
  assert.equal(verdict({ unexplainedDuplicates: result.unexplained }).failed, false);
});

test('a second done long after any disruption fails the verdict, naming the key', () => {
  // Key 3 done at t ≈ 5 s; delivered again at the very end (as SOAK_INJECT_DUPLICATE does).
  const t = [...timeline([[49, ['3', 'arrived']], [50, ['3', 'done']]]), ['3', 'arrived'], ['3', 'done']];
  const result = duplicateDones({ timeline: t, samples, disruptions: [reloadAt30s], sentBy: { 'tab 1': ['3'] } });
  assert.equal(result.unexplained.length, 1);
  assert.equal(result.unexplained[0].key, '3');
  const v = verdict({ unexplainedDuplicates: result.unexplained });
  assert.equal(v.failed, true);
  assert.match(v.reasons[0], /1 done more than once without a disruption to explain it: 3 \(/);
});

test('a reload of another page, or a disruption that cannot lose a done, explains nothing', () => {
  const t = timeline([[299, ['7', 'arrived']], [300, ['7', 'done']], [320, ['7', 'arrived']], [321, ['7', 'done']]]);
  const otherTab = duplicateDones({ timeline: t, samples, disruptions: [reloadAt30s], sentBy: { 'tab 1': [], 'tab 2': ['7'] } });
  assert.equal(otherTab.unexplained.length, 1, 'tab 1 never sent key 7');
  const logout = duplicateDones({ timeline: t, samples, disruptions: [{ ...reloadAt30s, label: 'logged out and in', cause: 'logout' }] });
  assert.equal(logout.unexplained.length, 1, 'logging out lets the gate finish: no done is lost');
});

test('a done well before the reload had been recorded: its repeat is not explained', () => {
  // Done at t ≈ 20 s, ten seconds before the reload at 30 s.
  const t = timeline([[199, ['9', 'arrived']], [200, ['9', 'done']], [320, ['9', 'arrived']], [321, ['9', 'done']]]);
  const result = duplicateDones({ timeline: t, samples, disruptions: [reloadAt30s] });
  assert.equal(result.unexplained.length, 1);
});

test('per-delivery times, when the agent gives them, are used instead of the samples', () => {
  const deliveries = [
    { key: '5', started_ms: T0 + 29_000, ended_ms: T0 + 29_900, outcome: 'done' },
    { key: '5', started_ms: T0 + 32_000, ended_ms: T0 + 32_100, outcome: 'done' },
    { key: '6', started_ms: T0 + 10_000, ended_ms: T0 + 10_100, outcome: 'done' },
    { key: '6', started_ms: T0 + 50_000, ended_ms: T0 + 50_100, outcome: 'done' },
  ];
  const result = duplicateDones({ timeline: [], samples: [], deliveries, disruptions: [reloadAt30s] });
  assert.deepEqual(result.explained.map((e) => e.key), ['5']);
  assert.deepEqual(result.unexplained.map((e) => e.key), ['6']);
});

test('a key done three times needs a reason for each repeat', () => {
  const deliveries = [
    { key: '8', started_ms: T0 + 29_000, ended_ms: T0 + 29_900, outcome: 'done' },
    { key: '8', started_ms: T0 + 32_000, ended_ms: T0 + 32_100, outcome: 'done' },
    { key: '8', started_ms: T0 + 55_000, ended_ms: T0 + 55_100, outcome: 'done' },
  ];
  const result = duplicateDones({ timeline: [], deliveries, disruptions: [reloadAt30s] });
  assert.equal(result.explained.length, 1);
  assert.equal(result.unexplained.length, 1);
});

test('any page error fails the verdict; failed loads from injected faults are not page errors', () => {
  assert.equal(isPageError({ kind: 'console', text: 'Failed to load resource: the server responded with a status of 503 ()' }), false);
  assert.equal(isPageError({ kind: 'console', text: 'panicked at src/runner/drive.rs:10:5: oops' }), true);
  assert.equal(isPageError({ kind: 'pageerror', text: 'TypeError: x is undefined' }), true);
  const v = verdict({ pageErrors: [{ page: 'tab 1', text: 'RuntimeError: unreachable' }] });
  assert.deepEqual(v, { failed: true, reasons: ['1 page errors: tab 1 RuntimeError: unreachable'] });
  assert.deepEqual(verdict({}), { failed: false, reasons: [] });
});

test("the agent's own delivery times are put on the samples' clock, or not used when too loose", () => {
  // 600 entries, 10 a second; arrivals at even indices. The agent started at T0 - 5 s.
  const t = timeline([]);
  const times = [];
  t.forEach(([key, what], i) => { if (what === 'arrived') times.push({ key, started_ms: 5000 + i * 100, ended_ms: 5000 + i * 100 + 50, outcome: 'done' }); });
  // Only the latest 100 kept, as the agent keeps the latest ones.
  const kept = times.slice(-100);
  const onEpoch = onEpochClock(kept, t, samples);
  assert.ok(onEpoch, 'calibrated');
  const last = onEpoch.at(-1);
  assert.ok(Math.abs(last.started_ms - (T0 + 598 * 100)) <= 1000, `${last.started_ms - T0}`);
  assert.ok(last.slack <= 500);
  assert.equal(onEpochClock(kept, t, [], 1000), null, 'no samples: no calibration');
  assert.equal(onEpochClock([], t, samples), null);
});
