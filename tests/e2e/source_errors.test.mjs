// What the operator sees when the source is not what Sluice expects: an
// unknown table, an unknown column, a row that cannot be handled; and the
// note when the tab is hidden.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suiteWithAgent, openTable, drainedCount, screenshot } from './harness.mjs';
import { ANON, freshTable, insert, insertEvents, stamp, configureAgent, tally, eventually } from './backend.mjs';

const env = suiteWithAgent();

test('an unknown table is named, and the gate says the source is offline', async () => {
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, 'no_such_table', ANON);
  await page.getByText('The table no_such_table does not exist in this project').waitFor();
  assert.equal(await page.getByRole('region', { name: 'Gate' }).getAttribute('data-state'), 'offline');
  await context.close();
});

test('an unknown column is named, and the drain waits for the operator', async () => {
  // A table whose timestamp column is not the default created_at.
  const name = `e2e_column_${process.pid}_${Date.now() % 1e8}`;
  const r = await fetch('http://127.0.0.1:54321/_admin/tables', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, timestamp_column: 'logged_at' }),
  });
  assert.equal(r.status, 201);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, name, ANON);
  await page.getByText(`column ${name}.created_at does not exist`).waitFor();
  assert.equal(await page.getByRole('region', { name: 'Gate' }).getAttribute('data-state'), 'offline');
  await screenshot(page, 'source-unknown-column');
  await context.close();
});

test('a malformed row is reported and skipped; its neighbours are handled', async () => {
  const table = await freshTable('malformed', 'bigint', 'text');
  const rows = await insert(table, [
    { created_at: '2024-05-01T10:00:00+00:00', type: 'order.created' },
    { created_at: '2024-05-01T10:00:01+00:00 (corrected)', type: 'order.created' },
    { created_at: '2024-05-01T10:00:02+00:00', type: 'order.created' },
  ]);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await page.getByText(`a row of ${table} was skipped: row ${rows[1].id}`).waitFor();
  await eventually(async () => (await drainedCount(page)) === 2, 20_000, 'neighbours drained');
  assert.deepEqual((await tally(table)).order, [String(rows[0].id), String(rows[2].id)]);
  await context.close();
});

test('a hidden tab says idle polling may slow down, and keeps draining', async () => {
  const table = await freshTable('hidden');
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await page.evaluate(() => {
    // A hidden tab, as browsers report it: both properties change.
    Object.defineProperty(document, 'hidden', { value: true, configurable: true });
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  });
  await page.getByText('This tab is hidden').waitFor();
  const rows = await insertEvents(table, [stamp(0)]);
  await eventually(async () => (await tally(table)).order.length === 1, 20_000, 'drained while hidden');
  assert.deepEqual((await tally(table)).order, [String(rows[0].id)]);
  await context.close();
});
