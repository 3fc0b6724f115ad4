// What the operator sees when the source is not what Sluice expects: an
// unknown table, an unknown column, a row that cannot be handled; and the
// note when the tab is hidden.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suiteWithAgent, openTable, drainedCount, screenshot, deadLettersKey } from './harness.mjs';
import { GATEWAY } from '../contract/stack.mjs';
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
  const r = await fetch(`${GATEWAY}/_admin/tables`, {
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

test('a row whose timestamp does not parse is dead-lettered as unreadable, never sent; its neighbours are handled', async () => {
  const table = await freshTable('malformed', 'bigint', 'text');
  const rows = await insert(table, [
    { created_at: '2024-05-01T10:00:00+00:00', type: 'order.created' },
    { created_at: '2024-05-01T10:00:01+00:00 (corrected)', type: 'order.created' },
    { created_at: '2024-05-01T10:00:02+00:00', type: 'order.created' },
  ]);
  const context = await env.browser.newContext();
  const { page } = await openTable(context, env.server.url, table, ANON);
  await page.getByText(`Row ${rows[1].id} of ${table} could not be read and was dead-lettered (unreadable row: timestamp that does not parse`).waitFor();
  await eventually(async () => (await drainedCount(page)) === 3, 20_000, 'neighbours drained, the odd row dead-lettered');
  assert.deepEqual((await tally(table)).order, [String(rows[0].id), String(rows[2].id)]);
  const letters = await page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? '[]'), deadLettersKey(table));
  assert.deepEqual(letters.map((l) => [l.key, l.event.created_at]), [[String(rows[1].id), '2024-05-01T10:00:01+00:00 (corrected)']], 'kept as PostgreSQL gave it');
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
