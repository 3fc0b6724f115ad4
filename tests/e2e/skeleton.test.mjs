// The page frame in a real browser, found by accessible names as an operator
// with a screen reader (or a test) would find it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GATEWAY, serveDist, launchBrowser, openApp, logIn, tryLogin, screenshot } from './harness.mjs';
import { ANON } from './backend.mjs';

let server;
let browser;
before(async () => {
  server = await serveDist();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('the rail, the slider, the buttons and the alert region are all there', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openApp(context, server.url);
  for (const name of ['Source', 'Gate', 'Drain']) {
    assert.ok(await page.getByRole('region', { name }).isVisible(), `region ${name}`);
  }
  assert.equal(await page.getByRole('region', { name: 'Gate' }).getAttribute('data-state'), 'idle');
  assert.ok(await page.getByRole('slider', { name: 'Consumption rate' }).isVisible());
  assert.ok(await page.getByRole('button', { name: 'Pause' }).isVisible());
  assert.ok(await page.getByRole('button', { name: 'Log in' }).isVisible());
  assert.ok(await page.getByLabel('Project URL').isVisible());
  assert.ok(await page.getByLabel('API key').isVisible());
  assert.equal(await page.getByRole('alert').count(), 1);
  const shot = await screenshot(page, 'skeleton');
  console.log(`screenshot: ${shot}`);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the login form is pre-filled from config.json', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openApp(context, server.url);
  await page.waitForFunction(() => document.querySelector('input[name="project-url"]')?.value !== '');
  // The tests serve config.json with the stack they run against.
  assert.equal(await page.getByLabel('Project URL').inputValue(), GATEWAY);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the consumption rate reads in words and is remembered across a reload', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openApp(context, server.url);
  const slider = page.getByRole('slider', { name: 'Consumption rate' });
  assert.equal(await slider.getAttribute('aria-valuetext'), 'every 2 s');
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await slider.getAttribute('aria-valuetext'), 'every 5 s');
  assert.ok(await page.getByText('every 5 s', { exact: true }).isVisible());
  await page.reload();
  await page.getByRole('region', { name: 'Gate' }).waitFor();
  assert.equal(await slider.getAttribute('aria-valuetext'), 'every 5 s');
  await page.keyboard.press('Home');
  assert.deepEqual(errors, []);
  await context.close();
});

test('damaged saved settings give a message and safe defaults, never a crash', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openApp(context, server.url);
  await page.evaluate(() => localStorage.setItem('sluice:v1:rate', '{"oops":'));
  await page.reload();
  await page.getByRole('region', { name: 'Gate' }).waitFor();
  assert.match(await page.getByRole('alert').innerText(), /sluice:v1:rate is damaged/);
  const slider = page.getByRole('slider', { name: 'Consumption rate' });
  assert.equal(await slider.getAttribute('aria-valuetext'), 'every 2 s');
  assert.equal(await page.evaluate(() => localStorage.getItem('sluice:v1:rate')), '{"oops":');
  assert.deepEqual(errors, []);
  await context.close();
});

test('pause shows on the gate and the button offers to resume', async () => {
  const context = await browser.newContext();
  const { page } = await openApp(context, server.url);
  const gate = page.getByRole('region', { name: 'Gate' });
  await page.getByRole('button', { name: 'Pause' }).click();
  assert.equal(await gate.getAttribute('data-state'), 'paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  assert.equal(await gate.getAttribute('data-state'), 'idle');
  await context.close();
});

test('a secret key is refused with a reason; an anon key logs in and out', async () => {
  const context = await browser.newContext();
  const { page, errors } = await openApp(context, server.url);
  await tryLogin(page, { key: 'sb_secret_abcdef' });
  assert.match(await page.getByRole('alert').innerText(), /secret key.*never be used in a browser/s);
  assert.equal(await page.getByRole('button', { name: 'Log out' }).count(), 0);

  await logIn(page, { key: ANON });
  // Without "Remember me" the key lives in this tab's session only.
  assert.equal(await page.evaluate(() => localStorage.getItem('sluice:v1:session')), null);
  assert.ok(await page.evaluate(() => sessionStorage.getItem('sluice:v1:session')));
  await page.reload();
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice:v1:session')), null);
  assert.deepEqual(errors, []);
  await context.close();
});
