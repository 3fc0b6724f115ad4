// Progress in the browser: the prototype's keys imported once, damaged or
// full storage handled without losing or repeating events, history per
// table across switches, and "Clear history" behind a confirmation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suiteWithAgent, openApp, logIn, ledgerHeadKey, drainedCount, screenshot } from './harness.mjs';
import { ANON, freshTable, insertEvents, stamp, configureAgent, tally, eventually, sleep } from './backend.mjs';

const env = suiteWithAgent();

test("the seed prototype's processed keys are imported once, only when the operator confirms, and not delivered again", async () => {
  for (const answer of ['accept', 'dismiss']) {
    const table = await freshTable(`prototype_${answer}`);
    const rows = await insertEvents(table, [stamp(-4000), stamp(-3000), stamp(-2000), stamp(-1000)]);
    const [a, b, c, d] = rows.map((r) => String(r.id));
    const context = await env.browser.newContext();
    const { page, errors } = await openApp(context, `${env.server.url}?table=${table}`);
    await page.evaluate(([t, x, y]) => localStorage.setItem('ms-processed-events', JSON.stringify([`${t}:${x}`, `${t}:${y}`, 'other_table:1'])), [table, a, c]);
    await logIn(page);
    // Asked in the page, not with a dialog that would freeze it.
    const question = page.getByRole('alertdialog', { name: 'Question' });
    await question.waitFor({ timeout: 20_000 });
    assert.match(await question.textContent(), /holds 2 keys of table .* do not say which project/s);
    // Paused while the question waits: the drain that starts after the
    // answer keeps the operator's choice.
    await page.getByRole('button', { name: 'Pause' }).click();
    await question.getByRole('button', { name: answer === 'accept' ? 'Treat as handled' : 'Ignore them' }).click();
    await question.waitFor({ state: 'detached' });
    await sleep(1500);
    assert.deepEqual((await tally(table)).order, [], 'nothing delivered while paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await eventually(async () => (await drainedCount(page)) === 4, 20_000, 'all four handled');
    const t = await tally(table);
    assert.deepEqual(t.order, answer === 'accept' ? [b, d] : [a, b, c, d], answer === 'accept' ? 'only the events the prototype had not handled' : 'declined: every event delivered');
    assert.ok(await page.evaluate(() => localStorage.getItem('ms-processed-events')), "the prototype's data is left in place");
    await page.reload();
    await eventually(async () => (await drainedCount(page)) === 4, 20_000, 'reloaded, the ledger read back');
    await sleep(1000);
    assert.equal(await question.count(), 0, 'not asked again after a reload');
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('damaged progress halts the table with a message instead of starting over; Clear history restarts it', async () => {
  const table = await freshTable('damaged');
  const rows = await insertEvents(table, [stamp(-2000), stamp(-1000)]);
  const context = await env.browser.newContext();
  const { page } = await openApp(context, `${env.server.url}?table=${table}`);
  await page.evaluate((key) => localStorage.setItem(key, '{"cursor": 12'), ledgerHeadKey(table));
  await logIn(page);
  await page.getByText(`The saved progress of ${table} cannot be read`).waitFor();
  await screenshot(page, 'storage-damaged');
  await sleep(1000);
  assert.deepEqual((await tally(table)).order, [], 'nothing replayed');
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'Source' }).click();
  await page.getByRole('dialog', { name: 'Select source' }).getByRole('button', { name: 'Clear history', exact: true }).click();
  await eventually(async () => (await tally(table)).order.length === 2, 20_000, 'drained after clearing');
  assert.deepEqual((await tally(table)).order, rows.map((r) => String(r.id)));
  await context.close();
});

test('switching tables keeps each one\'s place; coming back resumes without repeats', async () => {
  const first = await freshTable('switch_a');
  const second = await freshTable('switch_b');
  const rowsA = await insertEvents(first, [stamp(-2000), stamp(-1000)]);
  const rowsB = await insertEvents(second, [stamp(-2000)]);
  const context = await env.browser.newContext();
  const { page } = await openApp(context, `${env.server.url}?table=${first}`);
  await logIn(page);
  await eventually(async () => (await drainedCount(page)) === 2, 20_000, 'first table drained');
  const dialog = page.getByRole('dialog', { name: 'Select source' });
  await page.getByRole('button', { name: 'Source' }).click();
  // Added by keyboard alone; adding selects it.
  await dialog.getByLabel('Table', { exact: true }).focus();
  await page.keyboard.type(second);
  await page.keyboard.press('Enter');
  assert.ok(await dialog.getByRole('radio', { name: new RegExp(`^${second}`) }).isChecked());
  await page.keyboard.press('Escape');
  await eventually(async () => (await drainedCount(page)) === 1, 20_000, 'second table drained');
  assert.ok(await page.getByRole('button', { name: 'Source' }).evaluate((b) => b === document.activeElement), 'focus returns to the Source button');
  const moreA = await insertEvents(first, [stamp(0)]);
  await page.getByRole('button', { name: 'Source' }).click();
  assert.match(await dialog.innerText(), new RegExp(`${first}\\s*— 2 handled`));
  await dialog.getByRole('radio', { name: new RegExp(`^${first}`) }).check();
  await dialog.getByRole('button', { name: 'Close' }).click();
  await eventually(async () => (await drainedCount(page)) === 3, 20_000, 'back on the first table');
  const a = await tally(first);
  assert.deepEqual(a.order, [...rowsA, ...moreA].map((r) => String(r.id)), 'no repeats after coming back');
  assert.deepEqual((await tally(second)).order, rowsB.map((r) => String(r.id)));
  await context.close();
});

test('a full storage quota pauses the drain with a message rather than risk handling events twice', async () => {
  const table = await freshTable('quota');
  const context = await env.browser.newContext();
  const { page } = await openApp(context, `${env.server.url}?table=${table}`);
  await page.getByRole('button', { name: 'Pause' }).click();
  await logIn(page);
  // Fill localStorage to the last character.
  await page.evaluate(() => {
    let size = 1 << 20;
    let i = 0;
    while (size >= 1) {
      try {
        localStorage.setItem(`filler:${i++}`, 'x'.repeat(size));
      } catch {
        size = Math.floor(size / 2);
      }
    }
  });
  await insertEvents(table, [stamp(-2000), stamp(-1000)]);
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.getByText('storage is full').first().waitFor({ timeout: 20_000 });
  await page.getByRole('button', { name: 'Resume' }).waitFor();
  await screenshot(page, 'storage-full');
  await sleep(1000);
  assert.equal((await tally(table)).order.length, 1, 'the drain stopped after the event it could not record');
  await context.close();
});
