// The portal in a real Chromium (Debian's, driven by playwright-core): sign in, read the
// enrollment QR from the rendered page, enroll the `assent` CLI with it, sign in again with push,
// approve in `assent watch` by typing the number the page shows, and see the approval. Then a
// page on another site posts the sign-in form, and the portal refuses it (login CSRF).
//
// Needs the workspace binaries (`cargo build --workspace --bins`) and `chromium`; run with
// `node tests/browser/enroll-and-login.mjs` (scripts/test.sh does). Exits non-zero on failure.

import { spawnSync } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { DEADLINE_MS, PASSWORD, bin, harness } from './harness.mjs';

const { dir, cleanup, fail, waitFor, start, startRelay, assentEnv } = harness('browser test');

try {
  // The relay: direct delivery only, one tenant (the portal).
  const { relayUrl, apiKey } = await startRelay('browser-test');

  // The portal and its user.
  const db = join(dir, 'portal.db');
  const add = spawnSync(bin('portal'), ['--db', db, 'user', 'add', 'alice'], {
    env: { ...process.env, PORTAL_NEW_PASSWORD: PASSWORD },
  });
  if (add.status !== 0) fail(`portal user add: ${add.stderr}`);
  const portal = start(bin('portal'), ['--db', db, '--listen', '127.0.0.1:0', '--relay-url', relayUrl, '--relay-api-key', apiKey], { PORTAL_LOG: 'warn' });
  const portalUrl = await waitFor('the portal', async () => portal.output().match(/portal listening on (\S+)/)?.[1]);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      // Another site for the login-CSRF check, served on loopback.
      '--host-resolver-rules=MAP attacker.test 127.0.0.1'],
  });
  const page = await browser.newPage({ viewport: { width: 900, height: 1100 } });
  // The pages' Content-Security-Policy allows only the portal's own script files: a page that
  // still carried inline script would log a violation here (and its poll would never run).
  const violations = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });

  // Sign in: no second factor yet, so the portal shows the enrollment QR.
  await page.goto(`${portalUrl}/login`);
  await page.fill('#username', 'alice');
  await page.fill('#password', PASSWORD);
  await page.click('#sign-in');
  await page.waitForURL(`${portalUrl}/enroll`);
  const qr = page.locator('#qr');
  await qr.waitFor();
  await waitFor('the QR image to load', () => qr.evaluate((img) => img.complete && img.naturalWidth > 0));
  const shot = join(dir, 'qr.png');
  await qr.screenshot({ path: shot });

  // The CLI enrolls from the QR as the browser rendered it.
  const enroll = spawnSync(bin('assent'), ['enroll', '--relay', relayUrl, '--name', 'browser test', shot], {
    env: { ...process.env, ...assentEnv }, encoding: 'utf8',
  });
  if (enroll.status !== 0) fail(`assent enroll: ${enroll.stderr}`);
  if (!/Enrolled/.test(enroll.stdout + enroll.stderr)) fail(`assent enroll said: ${enroll.stdout}${enroll.stderr}`);

  // The page notices and signs the session in.
  await page.waitForSelector('#enroll-status[data-status="enrolled"]', { timeout: DEADLINE_MS });
  await page.waitForURL(`${portalUrl}/`, { timeout: DEADLINE_MS });
  if (!(await page.textContent('#welcome')).includes('alice')) fail('not signed in after enrollment');

  // Sign out, watch for requests, sign in again with push.
  await page.click('text=Sign out');
  await page.waitForURL(/\/login/);
  const watch = start(bin('assent'), ['watch', '--once'], assentEnv);
  await waitFor('assent watch to start', async () => /watching 1 account/.test(watch.output()));
  await page.fill('#username', 'alice');
  await page.fill('#password', PASSWORD);
  await page.click('#sign-in');
  await page.waitForURL(`${portalUrl}/login/push`);
  const number = (await page.textContent('#number')).trim();
  if (!/^\d{2}$/.test(number)) fail(`no number on the waiting page: ${number}`);

  // The request reaches the CLI through the relay stream; approve it with the number.
  await waitFor('the request in assent watch', async () => /Approve\?/.test(watch.output()));
  if (!watch.output().includes('alice')) fail(`the prompt does not name the user: ${watch.output()}`);
  watch.child.stdin.write('y\n');
  await waitFor('the number prompt', async () => /Number shown/.test(watch.output()));
  watch.child.stdin.write(`${number}\n`);
  const code = await new Promise((ok) => watch.child.on('exit', ok));
  if (code !== 0) fail(`assent watch exited ${code}: ${watch.output()}`);

  // The waiting page shows the approval and signs the browser in.
  await page.waitForSelector('#status[data-status="approved"]', { timeout: DEADLINE_MS });
  await page.waitForURL(`${portalUrl}/`, { timeout: DEADLINE_MS });
  if (!(await page.textContent('#welcome')).includes('Signed in as alice')) fail('not signed in after approval');
  const policy = (await page.goto(`${portalUrl}/`)).headers()['content-security-policy'] ?? '';
  if (!/script-src 'self'/.test(policy)) fail(`the pages' Content-Security-Policy allows more script: ${policy}`);
  if (violations.length) fail(`Content-Security-Policy violations: ${violations.join('; ')}`);

  // Login CSRF: a page on another site posts the sign-in form (to sign the victim in as
  // someone else); the portal refuses what the browser marks as cross-site.
  const attacker = createHttpServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<form id="f" method="post" action="${portalUrl}/login">`
      + `<input name="username" value="alice"><input name="password" value="${PASSWORD}"></form>`
      + '<script>document.getElementById("f").submit()</script>');
  });
  await new Promise((ok) => attacker.listen(0, '127.0.0.1', ok));
  const other = await browser.newPage();
  const posted = other.waitForResponse((r) => r.url() === `${portalUrl}/login` && r.request().method() === 'POST');
  await other.goto(`http://attacker.test:${attacker.address().port}/`);
  const refused = await posted;
  if (refused.status() !== 403) fail(`a sign-in posted from another site got ${refused.status()}`);
  await other.waitForSelector('#cross-site', { timeout: DEADLINE_MS });
  attacker.close();

  await browser.close();
  console.log('browser test: ok (sign-in, QR from the page, CLI enrollment, push approved in Chromium, no inline script, cross-site sign-in refused)');
  cleanup();
} catch (e) {
  fail(e?.stack ?? String(e));
}
