// axe-core (WCAG 2.0/2.1 A and AA rules) on the main states of the page, in
// the light and the dark theme: before login, the source dialog open, and a
// drain under way with its history and the inspector filled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { openApp, openTable, fastestRate, drainedCount, screenshot, suiteWithAgent } from './harness.mjs';
import { ANON, freshTable, insertEvents, stamp, eventually } from './backend.mjs';

const env = suiteWithAgent({ latency_ms: 20, mode: 'json' });
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The violations axe finds on the page as it is now, described one a line. */
async function violations(page) {
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  return found;
}

async function chooseTheme(page, theme) {
  await page.getByLabel('Theme').selectOption(theme);
  await eventually(async () => (await page.evaluate(() => document.documentElement.dataset.theme)) === theme.toLowerCase(), 5_000, `${theme} theme`);
}

for (const theme of ['Light', 'Dark']) {
  test(`no WCAG 2.1 AA violations before login, in the source dialog and while draining (${theme})`, async () => {
    const table = await freshTable(`axe_${theme.toLowerCase()}`);
    await insertEvents(table, Array.from({ length: 6 }, (_, i) => stamp(-60_000 + i)));
    const context = await env.browser.newContext();
    const { page: front, errors: frontErrors } = await openApp(context, env.server.url);
    await chooseTheme(front, theme);
    assert.deepEqual(await violations(front), [], 'before login');
    await front.close();

    const { page, errors } = await openTable(context, env.server.url, table, ANON);
    await chooseTheme(page, theme);
    await fastestRate(page);
    await eventually(async () => (await drainedCount(page)) === 6, 20_000, 'drained');
    await page.getByRole('region', { name: 'History' }).getByRole('button').first().click();
    await page.getByRole('complementary', { name: 'Inspector' }).getByText('Row (').waitFor();
    assert.deepEqual(await violations(page), [], 'while draining, with the inspector open');
    await screenshot(page, `axe-${theme.toLowerCase()}`);

    await page.getByRole('button', { name: 'Source' }).click();
    const dialog = page.getByRole('dialog', { name: 'Select source' });
    await dialog.waitFor();
    await eventually(async () => /waiting|reachable/.test(await dialog.innerText()), 10_000, 'backlog shown');
    assert.deepEqual(await violations(page), [], 'with the source dialog open');
    assert.deepEqual([...frontErrors, ...errors], []);
    await context.close();
  });
}
