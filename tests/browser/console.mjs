// The help-desk console in a real Chromium (Debian's, driven by playwright-core), at a phone's
// width (360×740) and at a desktop's (1280×900): the administrator `root` enrolls the `assent`
// CLI from the enrollment QR, signs in again with a push approved in `assent watch`, then walks
// the console: the dashboard's counts and their links, the user list (search, status filters,
// paging), a user's page, every action through its confirmation page, and the user's log naming
// the admin. Once: a user forced to change their password goes through /password; the read-only
// role sees and cannot act; an administrator creates a help-desk admin and requires MFA for
// every admin; and an idle console session ends after 15 minutes (the portal's test clock).
//
// Needs the binaries (`cargo build -p portal -p push-relay -p assent --bins`) and `chromium`;
// run with `node tests/browser/console.mjs`. Full-page screenshots of every step are kept in
// tests/browser/artefacts/console/ (gitignored). Exits non-zero on failure.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { DEADLINE_MS, PASSWORD, bin, harness, root } from './harness.mjs';

const { dir, cleanup, fail, waitFor, start, startRelay, assentEnv } = harness('console browser test');
const artefacts = join(root, 'tests', 'browser', 'artefacts', 'console');
const WHOLE_RUN_MS = 110000;
const started = Date.now();

const VIEWPORTS = {
  phone: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  desktop: { viewport: { width: 1280, height: 900 } },
};

// The help-desk actions as the console names them (the portal's `Action::label`) and as the
// log records them (`data-outcome`).
const LABELS = {
  'unlock': 'Unlock',
  'reset-mfa': 'Reset MFA',
  'remove-mfa': 'Remove MFA requirement',
  'require-mfa': 'Require MFA',
  'suspend': 'Suspend',
  'restore': 'Restore',
  'force-password-change': 'Force password change',
};

function check(condition, message) {
  if (!condition) fail(message);
}

const db = join(dir, 'portal.db');

/** `portal --db DB ARGS...` (seeding, and the help desk's CLI); fails the test if it fails. */
function portalCli(...args) {
  const run = spawnSync(bin('portal'), ['--db', db, ...args], {
    env: { ...process.env, PORTAL_NEW_PASSWORD: PASSWORD, PORTAL_LOG: 'warn' }, encoding: 'utf8',
  });
  if (run.status !== 0) fail(`portal ${args.join(' ')}: ${run.stderr}${run.stdout}`);
  return run.stdout;
}

let portalUrl;
let relayUrl;
const violations = [];

/** A fresh browser context at `vp`, its Content-Security-Policy reports and script errors kept. */
async function newContext(browser, vp) {
  const context = await browser.newContext(VIEWPORTS[vp]);
  context.setDefaultTimeout(DEADLINE_MS);
  context.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(`${vp}: ${msg.text()}`);
  });
  context.on('weberror', (e) => violations.push(`${vp}: script error: ${e.error().message}`));
  return context;
}

/** A full-page screenshot `<vp>-<step>.png` in the artefacts directory. */
async function shot(page, vp, step) {
  await page.screenshot({ path: join(artefacts, `${vp}-${step}.png`), fullPage: true });
}

const text = async (page, selector) => ((await page.textContent(selector)) ?? '').trim();
const present = async (page, selector) => (await page.locator(selector).count()) > 0;

/** At the phone's width, a console page must not scroll sideways (wide tables scroll inside). */
async function fitsWidth(page, vp, where) {
  if (vp !== 'phone') return;
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  check(scroll <= client + 1, `${vp} ${where}: the page scrolls sideways (${scroll}px wide in ${client}px)`);
}

/** Submits with a click and waits for the page it leads to (also when it is the same URL). */
async function submit(page, selector) {
  const navigated = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() });
  await page.click(selector);
  await navigated;
  await page.waitForLoadState('load');
}

/** The console's sign-in form, filled and sent for `name`. */
async function consoleSignIn(page, name) {
  if (!(await present(page, '#sign-in-form')) || !page.url().startsWith(`${portalUrl}/admin`)) {
    await page.goto(`${portalUrl}/admin`);
  }
  await page.fill('#username', name);
  await page.fill('#password', PASSWORD);
  await page.click('#sign-in');
}

/** root's first sign-in: no second factor yet, so the portal shows the enrollment QR, and the
 * CLI enrolls from a screenshot of it as the browser rendered it; the page then opens the
 * dashboard. */
async function enrollAdmin(page, vp) {
  await page.goto(`${portalUrl}/admin`);
  await shot(page, vp, 'console-sign-in');
  await consoleSignIn(page, 'root');
  await page.waitForURL(`${portalUrl}/enroll`);
  const qr = page.locator('#qr');
  await qr.waitFor();
  check(/^otpauth:\/\/totp\//.test(await text(page, '#enrollment-uri')), `the enrollment page shows no otpauth URI: ${await text(page, '#enrollment-uri')}`);
  await waitFor('the QR image to load', () => qr.evaluate((img) => img.complete && img.naturalWidth > 0));
  await shot(page, vp, 'enroll');
  const png = join(dir, 'qr.png');
  await qr.screenshot({ path: png });
  const enroll = spawnSync(bin('assent'), ['enroll', '--relay', relayUrl, '--name', 'console test', png], {
    env: { ...process.env, ...assentEnv }, encoding: 'utf8',
  });
  if (enroll.status !== 0) fail(`assent enroll: ${enroll.stderr}`);
  check(/Enrolled/.test(enroll.stdout + enroll.stderr), `assent enroll said: ${enroll.stdout}${enroll.stderr}`);
  await page.waitForSelector('#enroll-status[data-status="enrolled"]');
  // The page goes to `/`, which sends a console account to the dashboard.
  await page.waitForURL(`${portalUrl}/admin`);
  await page.waitForSelector('h1#dashboard');
}

/** The header's sign-out: back at the console's sign-in form. */
async function signOut(page) {
  await page.click('#sign-out');
  await page.waitForURL(/\/admin\?message=/);
  await page.waitForSelector('#sign-in-form');
  check((await text(page, 'p.ok[role=status]')) === 'Signed out.', 'no "Signed out." after signing out');
}

/** root signs in at /admin with the password, the portal pushes to the enrolled CLI device,
 * `assent watch --once` approves it with the number the page shows, and the waiting page opens
 * the dashboard: an admin's push sign-in approved by the assent CLI device. */
async function signInAdminWithPush(page, vp) {
  const watch = start(bin('assent'), ['watch', '--once'], assentEnv);
  await waitFor('assent watch to start', async () => /watching 1 account/.test(watch.output()));
  await consoleSignIn(page, 'root');
  await page.waitForURL(`${portalUrl}/login/push`);
  const number = await text(page, '#number');
  check(/^\d{2}$/.test(number), `no number on the waiting page: ${number}`);
  await shot(page, vp, 'push-wait');

  await waitFor('the request in assent watch', async () => /Approve\?/.test(watch.output()));
  check(watch.output().includes('root'), `the prompt does not name root: ${watch.output()}`);
  watch.child.stdin.write('y\n');
  await waitFor('the number prompt', async () => /Number shown/.test(watch.output()));
  watch.child.stdin.write(`${number}\n`);
  const code = await new Promise((ok) => (watch.child.exitCode !== null ? ok(watch.child.exitCode) : watch.child.on('exit', ok)));
  check(code === 0, `assent watch exited ${code}: ${watch.output()}`);

  await page.waitForSelector('#status[data-status="approved"]');
  await page.waitForURL(`${portalUrl}/admin`);
  await page.waitForSelector('h1#dashboard');
  check((await text(page, '#signed-in-as')) === 'root · Administrator',
    `after the push the header says: ${await text(page, '#signed-in-as')}`);
}

/** The number on a dashboard card. */
async function countOf(page, id) {
  return Number(await text(page, `#${id} .count`));
}

/** The dashboard: header, navigation, each count as seeded (`expected`) and where it links. */
async function checkDashboard(page, vp, expected) {
  if (!page.url().endsWith('/admin')) await page.goto(`${portalUrl}/admin`);
  await page.waitForSelector('h1#dashboard');
  for (const id of ['#console-nav', '#nav-dashboard', '#nav-users', '#nav-admins', '#sign-out']) {
    check(await present(page, id), `${vp} dashboard: no ${id}`);
  }
  check((await text(page, '#signed-in-as')) === 'root · Administrator', `${vp} dashboard: header says ${await text(page, '#signed-in-as')}`);
  const links = {
    'count-locked': '/admin/users?status=locked',
    'count-suspended': '/admin/users?status=suspended',
    'count-mfa-removed': '/admin/users?status=mfa_removed',
    'count-no-device': '/admin/users?status=no_device',
    'count-admins-without-mfa': '/admin/admins?status=mfa_removed',
  };
  for (const [id, href] of Object.entries(links)) {
    check((await page.getAttribute(`#${id}`, 'href')) === href, `${vp} dashboard: #${id} links to ${await page.getAttribute(`#${id}`, 'href')}`);
    const count = await countOf(page, id);
    check(count === expected[id], `${vp} dashboard: #${id} shows ${count}, expected ${expected[id]}`);
  }
  check((await present(page, '#require-mfa-admins')) === (expected['count-admins-without-mfa'] > 0),
    `${vp} dashboard: #require-mfa-admins shown ${await present(page, '#require-mfa-admins')} with ${expected['count-admins-without-mfa']} admins without MFA`);
  await fitsWidth(page, vp, 'dashboard');
  await shot(page, vp, 'dashboard');
}

/** The names of the rows of a list (`users` or `admins`). */
async function rowsOf(page, table = 'users') {
  const attr = table === 'users' ? 'data-user' : 'data-admin';
  return page.$$eval(`table#${table} tbody tr`, (rows, a) => rows.map((r) => r.getAttribute(a)), attr);
}

/** Follows the dashboard card `id` and expects exactly the accounts `names` listed. */
async function followCount(page, vp, id, heading, names, table = 'users') {
  await page.goto(`${portalUrl}/admin`);
  await page.click(`#${id}`);
  await page.waitForURL((url) => url.search.includes('status='));
  const h1 = table === 'users' ? '#users-heading' : '#admins-heading';
  check((await text(page, h1)) === heading, `${vp} ${id}: heading ${await text(page, h1)}`);
  const rows = await rowsOf(page, table);
  check(JSON.stringify(rows) === JSON.stringify(names), `${vp} ${id}: listed ${rows.join(', ')}, expected ${names.join(', ')}`);
  await shot(page, vp, `${id.replace('count-', 'list-')}`);
}

/** The user list: all users on two pages of 25, search by name, and no match. */
async function checkUserList(page, vp, total) {
  await page.click('#nav-users');
  await page.waitForURL(`${portalUrl}/admin/users`);
  check((await text(page, '#users-heading')) === 'Users', `${vp} users: heading ${await text(page, '#users-heading')}`);
  let rows = await rowsOf(page);
  check(rows.length === 25, `${vp} users: page 1 has ${rows.length} rows`);
  check(rows[0] === 'alice', `${vp} users: the list starts with ${rows[0]}`);
  check((await text(page, '.paging')).includes(`page 1 · ${total} in all`), `${vp} users: paging says ${await text(page, '.paging')}`);
  check(!(await present(page, '#prev-page')), `${vp} users: page 1 has #prev-page`);
  check(await present(page, 'tr[data-user="carol"] span.badge.suspended'), `${vp} users: carol has no suspended badge`);
  check(await present(page, 'tr[data-user="bob"] span.badge.mfa-removed'), `${vp} users: bob has no MFA-removed badge`);
  check(await present(page, 'tr[data-user="alice"] span.badge.not-enrolled'), `${vp} users: alice has no not-enrolled badge`);
  await fitsWidth(page, vp, 'users');
  await shot(page, vp, 'users');

  // Paging: the rest on page 2, and back.
  await page.click('#next-page');
  await page.waitForURL(/page=2/);
  rows = await rowsOf(page);
  check(rows.length === total - 25, `${vp} users: page 2 has ${rows.length} rows, expected ${total - 25}`);
  check((await text(page, '.paging')).includes(`page 2 · ${total} in all`), `${vp} users page 2: paging says ${await text(page, '.paging')}`);
  check(!(await present(page, '#next-page')), `${vp} users: the last page has #next-page`);
  await shot(page, vp, 'users-page-2');
  await page.click('#prev-page');
  await page.waitForURL(/page=1/);
  check((await rowsOf(page)).length === 25, `${vp} users: #prev-page did not lead back to a full page 1`);

  // Search: the name contains `user1`.
  await page.fill('#q', 'user1');
  await page.click('#search-button');
  await page.waitForURL(/q=user1/);
  rows = await rowsOf(page);
  const wanted = ['user1', ...Array.from({ length: 10 }, (_, i) => `user1${i}`)];
  check(JSON.stringify(rows) === JSON.stringify(wanted), `${vp} search user1: listed ${rows.join(', ')}`);
  check((await text(page, '.paging')).includes('page 1 · 11 in all'), `${vp} search: paging says ${await text(page, '.paging')}`);
  check(!(await present(page, '#next-page')), `${vp} search: 11 rows have a #next-page`);
  check((await page.inputValue('#q')) === 'user1', `${vp} search: the form forgot the query`);
  await shot(page, vp, 'users-search');

  await page.fill('#q', 'nobody-by-that-name');
  await page.click('#search-button');
  await page.waitForURL(/q=nobody/);
  check(await present(page, '#no-users'), `${vp} search: no #no-users for a name nobody has`);
  check((await rowsOf(page)).length === 0, `${vp} search: rows for a name nobody has`);
}

/** The status badges of the user page now shown. */
async function badgesOf(page) {
  return page.$$eval('#user-name + p .badge', (spans) => spans.map((s) => [...s.classList].find((c) => c !== 'badge')));
}

/** A user's page, opened from the list by searching for them. */
async function openUser(page, vp, user) {
  await page.goto(`${portalUrl}/admin/users`);
  await page.fill('#q', user);
  await page.click('#search-button');
  await page.waitForURL(/q=/);
  await page.click(`tr[data-user="${user}"] a`);
  await page.waitForURL(`${portalUrl}/admin/users/${user}`);
  check((await text(page, 'h1#user-name')) === user, `${vp}: the user page is of ${await text(page, 'h1#user-name')}`);
  for (const id of ['dl#state', '#lock-state', '#device', '#actions', 'table#events']) {
    check(await present(page, id), `${vp} user page: no ${id}`);
  }
  check((await text(page, '#lock-state')) === 'not locked', `${vp} user page: lock state ${await text(page, '#lock-state')}`);
  check(!(await present(page, '#mfa-warning')), `${vp} user page: #mfa-warning while MFA is required`);
  check(await present(page, 'tr[data-kind="user_created"]'), `${vp} user page: the log lacks the creation`);
  for (const action of Object.keys(LABELS)) {
    check((await page.getAttribute(`#action-${action}`, 'href')) === `/admin/users/${user}/${action}`, `${vp} user page: #action-${action} link`);
  }
  await fitsWidth(page, vp, 'user page');
  await shot(page, vp, 'user');
}

/** One help-desk action on `user` through its confirmation page: the user page's link, the
 * page naming the action and the user (with `hours` for a removal of the MFA requirement),
 * the confirm button, and the user page again saying "<label>: done.". */
async function confirmAction(page, vp, user, action, { hours } = {}) {
  const userUrl = `${portalUrl}/admin/users/${user}`;
  if (new URL(page.url()).pathname !== `/admin/users/${user}`) await page.goto(userUrl);
  await page.click(`#action-${action}`);
  await page.waitForURL(`${userUrl}/${action}`);
  const heading = await text(page, 'h1#confirm-heading');
  check(heading === `${LABELS[action]}: ${user}?`, `${vp} confirm ${action}: heading ${heading}`);
  check((await page.getAttribute('#cancel', 'href')) === `/admin/users/${user}`, `${vp} confirm ${action}: #cancel link`);
  check(await present(page, 'form#confirm-form button#confirm'), `${vp} confirm ${action}: no #confirm`);
  check((await present(page, 'select#hours')) === (action === 'remove-mfa'), `${vp} confirm ${action}: select#hours present: ${await present(page, 'select#hours')}`);
  if (action === 'remove-mfa') {
    const options = await page.$$eval('select#hours option', (os) => os.map((o) => o.value));
    check(JSON.stringify(options) === JSON.stringify(['1', '8', '24', '72', '168']), `${vp} confirm remove-mfa: hours ${options.join(', ')}`);
    await page.selectOption('select#hours', String(hours ?? 24));
  }
  await fitsWidth(page, vp, `confirm ${action}`);
  await shot(page, vp, `confirm-${action}`);
  await page.click('#confirm');
  await page.waitForURL((url) => url.pathname === `/admin/users/${user}` && url.searchParams.has('done'));
  const done = await text(page, 'p.ok');
  check(done === `${LABELS[action]}: done.`, `${vp} ${action}: the notice says "${done}"`);
  return badgesOf(page);
}

/** Every action on `user`, each with what it visibly changed. */
async function walkActions(page, vp, user) {
  let badges = await confirmAction(page, vp, user, 'unlock');
  check((await text(page, '#lock-state')) === 'not locked', `${vp} unlock: lock state ${await text(page, '#lock-state')}`);

  badges = await confirmAction(page, vp, user, 'reset-mfa');
  check(badges.includes('not-enrolled') && !badges.includes('enrolled'), `${vp} reset-mfa: badges ${badges}`);

  // Removed for 8 hours: the warning says the password alone signs in, until when.
  badges = await confirmAction(page, vp, user, 'remove-mfa', { hours: 8 });
  check(badges.includes('mfa-removed'), `${vp} remove-mfa: badges ${badges}`);
  check(await page.isVisible('#mfa-warning'), `${vp} remove-mfa: #mfa-warning not visible`);
  check(/until \d{4}-\d\d-\d\dT/.test(await text(page, '#mfa-warning')), `${vp} remove-mfa: warning ${await text(page, '#mfa-warning')}`);
  check((await text(page, 'tr[data-kind="admin"][data-outcome="remove-mfa"]')).includes('for 8 h'), `${vp} remove-mfa: the log lacks "for 8 h"`);
  await shot(page, vp, 'user-mfa-removed');

  badges = await confirmAction(page, vp, user, 'require-mfa');
  check(!badges.includes('mfa-removed'), `${vp} require-mfa: badges ${badges}`);
  check(!(await present(page, '#mfa-warning')), `${vp} require-mfa: #mfa-warning still shown`);

  badges = await confirmAction(page, vp, user, 'suspend');
  check(badges.includes('suspended'), `${vp} suspend: badges ${badges}`);
  check(await present(page, '#state dd:text-is("suspended")'), `${vp} suspend: the state does not say suspended`);
  await shot(page, vp, 'user-suspended');

  badges = await confirmAction(page, vp, user, 'restore');
  check(!badges.includes('suspended'), `${vp} restore: badges ${badges}`);

  badges = await confirmAction(page, vp, user, 'force-password-change');
  check(badges.includes('password'), `${vp} force-password-change: badges ${badges}`);
}

/** The outcomes of the log's admin rows that name `admin` in the Who column, newest first. */
async function adminRows(page, admin) {
  return page.$$eval('table#events tr[data-kind="admin"]', (rows, name) => rows
    .filter((r) => r.querySelector('td:nth-child(2) strong')?.textContent === name)
    .map((r) => r.dataset.outcome), admin);
}

/** A user forced to change their password signs in at /login in another context (the password
 * alone: no device, MFA removed) and must choose a new one first: the policy's refusals, then
 * the home page. */
async function forcedPasswordChange(browser, vp, user) {
  const context = await newContext(browser, vp);
  const page = await context.newPage();
  await page.goto(`${portalUrl}/login`);
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  await shot(page, vp, 'sign-in');
  await page.click('#sign-in');
  await page.waitForURL(`${portalUrl}/password`);
  for (const id of ['#new-password', '#new-password-again', '#change-password']) {
    check(await present(page, id), `${vp} /password: no ${id}`);
  }
  const attempt = async (password, again, error) => {
    await page.fill('#new-password', password);
    await page.fill('#new-password-again', again);
    await submit(page, '#change-password');
    check(new URL(page.url()).pathname === '/password', `${vp} /password: a refused password left for ${page.url()}`);
    const shown = await text(page, 'p.error');
    check(shown === error, `${vp} /password: expected "${error}", got "${shown}"`);
  };
  await attempt('too short', 'too short', 'the password must be at least 12 characters');
  await shot(page, vp, 'password-change');
  await attempt(`${user} forever and ever`, `${user} forever and ever`, 'the password must not contain the user name');
  await attempt('a brand new battery staple', 'a brand new battery stapler', 'The two passwords are not the same.');
  await attempt(PASSWORD, PASSWORD, 'Choose a password other than your current one.');
  await page.fill('#new-password', 'a brand new battery staple');
  await page.fill('#new-password-again', 'a brand new battery staple');
  await page.click('#change-password');
  await page.waitForURL(`${portalUrl}/`);
  check((await text(page, '#welcome')) === `Signed in as ${user}`, `${vp} after the new password: ${await text(page, '#welcome')}`);
  await shot(page, vp, 'password-changed');
  await context.close();
}

/** The read-only role: signs in (the password alone: MFA removed at seeding), sees the
 * dashboard and a user, but has no actions, no admins page, and is refused both the
 * confirmation page and the action's post. */
async function checkReadOnly(browser, vp) {
  const context = await newContext(browser, vp);
  const page = await context.newPage();
  await consoleSignIn(page, 'viewer');
  await page.waitForURL(`${portalUrl}/admin`);
  await page.waitForSelector('h1#dashboard');
  check((await text(page, '#signed-in-as')) === 'viewer · Read-only', `read-only: header says ${await text(page, '#signed-in-as')}`);
  check(!(await present(page, '#nav-admins')), 'read-only: #nav-admins shown');
  check(!(await present(page, '#count-admins-without-mfa')), 'read-only: the admins-without-MFA count shown');
  check(!(await present(page, '#require-mfa-admins')), 'read-only: #require-mfa-admins shown');
  await shot(page, vp, 'viewer-dashboard');

  await page.goto(`${portalUrl}/admin/users/alice`);
  check((await text(page, 'h1#user-name')) === 'alice', 'read-only: alice\'s page did not open');
  check(await present(page, '#no-actions'), 'read-only: no #no-actions');
  check(!(await present(page, '#actions')), 'read-only: #actions shown');
  await shot(page, vp, 'viewer-user');

  let response = await page.goto(`${portalUrl}/admin/users/alice/suspend`);
  check(response.status() === 403, `read-only: the suspend confirmation answered ${response.status()}`);
  check(await present(page, '#forbidden'), 'read-only: no #forbidden on the suspend confirmation');
  await shot(page, vp, 'viewer-forbidden');

  // The post itself (with the session's CSRF value and the confirmation) is refused too.
  await page.goto(`${portalUrl}/admin`);
  const csrf = await page.inputValue('header input[name="csrf"]');
  const posted = await context.request.post(`${portalUrl}/admin/users/alice/suspend`, {
    form: { csrf, confirm: 'yes' }, maxRedirects: 0,
  });
  check(posted.status() === 403, `read-only: POST /admin/users/alice/suspend answered ${posted.status()}`);

  response = await page.goto(`${portalUrl}/admin/admins`);
  check(response.status() === 403, `read-only: /admin/admins answered ${response.status()}`);
  check(await present(page, '#forbidden'), 'read-only: no #forbidden on /admin/admins');
  await context.close();
}

/** root's own page: the enrolled CLI device and the push sign-ins it approved. */
async function checkAdminDevice(page, vp) {
  await page.goto(`${portalUrl}/admin/users/root`);
  check((await text(page, '#device-platform')).length > 0, `${vp}: root's page has no device platform`);
  check(/^\d{4}-\d\d-\d\dT/.test(await text(page, '#device-last-seen')), `${vp}: root's device last seen: ${await text(page, '#device-last-seen')}`);
  check((await badgesOf(page)).includes('enrolled'), `${vp}: root's badges ${await badgesOf(page)}`);
  check(await present(page, 'tr[data-kind="push_login"][data-outcome="approved"]'), `${vp}: root's log has no approved push sign-in`);
  await shot(page, vp, 'admin-user');
}

/** The admins page: roles (not one's own), and a new help-desk admin. */
async function createHelpDeskAdmin(page, vp) {
  await page.click('#nav-admins');
  await page.waitForURL(`${portalUrl}/admin/admins`);
  let admins = await rowsOf(page, 'admins');
  check(JSON.stringify(admins) === JSON.stringify(['root', 'viewer']), `${vp} admins: listed ${admins}`);
  check(!(await present(page, 'tr[data-admin="root"] select[name="role"]')), `${vp} admins: root may change their own role`);
  check((await page.inputValue('tr[data-admin="viewer"] select[name="role"]')) === 'read_only', `${vp} admins: viewer's role`);
  await shot(page, vp, 'admins');

  await page.fill('#new-username', 'deskhand');
  await page.fill('#new-password', PASSWORD);
  await page.selectOption('select#new-role', 'help_desk');
  await page.click('#create-admin-button');
  await page.waitForURL((url) => url.pathname === '/admin/admins' && url.searchParams.has('done'));
  check((await text(page, 'p.ok')) === 'Admin deskhand created (Help desk).', `${vp} create admin: ${await text(page, 'p.ok')}`);
  admins = await rowsOf(page, 'admins');
  check(admins.includes('deskhand'), `${vp} create admin: no deskhand row in ${admins}`);
  check((await text(page, 'tr[data-admin="deskhand"] span.badge.role')) === 'Help desk', `${vp} create admin: deskhand's badge`);
  check((await page.inputValue('tr[data-admin="deskhand"] select[name="role"]')) === 'help_desk', `${vp} create admin: deskhand's role select`);
  await shot(page, vp, 'admin-created');
}

/** Relying parties: an administrator registers one for device logins and sees its key once. */
async function registerClient(page, vp) {
  await page.click('#nav-clients');
  await page.waitForURL(`${portalUrl}/admin/clients`);
  await page.fill('#client-name', 'build-hosts');
  await page.selectOption('select#client-mode', 'push_number');
  await submit(page, '#create-client-button');
  const key = await text(page, '#client-key');
  check(/^build-hosts\.[A-Za-z0-9_-]{43}$/.test(key), `${vp} register client: the key shown is ${key}`);
  await shot(page, vp, 'client-registered');
  await page.goto(`${portalUrl}/admin/clients`);
  check(await present(page, 'tr[data-client="build-hosts"]'), `${vp} clients: no build-hosts row`);
  check(!(await page.content()).includes(key), `${vp} clients: the key is shown again`);
  await shot(page, vp, 'clients');
}

/** The bulk action: with an admin lacking MFA, the dashboard says so and offers to require MFA
 * for every admin; confirmed, the count is 0 and the offer gone. */
async function requireMfaForAdmins(page, vp) {
  portalCli('admin', 'remove-mfa', 'viewer', '--hours', '24');
  await page.goto(`${portalUrl}/admin`);
  check((await countOf(page, 'count-admins-without-mfa')) === 1, `${vp} bulk: ${await countOf(page, 'count-admins-without-mfa')} admins without MFA before`);
  await page.click('#require-mfa-admins');
  await page.waitForURL(`${portalUrl}/admin/admins/require-mfa`);
  check((await text(page, 'h1#confirm-heading')) === 'Require MFA for every admin?', `${vp} bulk: heading ${await text(page, 'h1#confirm-heading')}`);
  check(await present(page, '#cancel'), `${vp} bulk: no #cancel`);
  await shot(page, vp, 'confirm-require-mfa-admins');
  await page.click('#confirm');
  await page.waitForURL((url) => url.pathname === '/admin/admins' && url.searchParams.has('done'));
  check((await text(page, 'p.ok')) === 'MFA is required for every admin (1 changed).', `${vp} bulk: ${await text(page, 'p.ok')}`);
  check(!(await present(page, 'tr[data-admin="viewer"] span.badge.mfa-removed')), `${vp} bulk: viewer still has MFA removed`);
  await page.click('#nav-dashboard');
  await page.waitForURL(`${portalUrl}/admin`);
  check((await countOf(page, 'count-admins-without-mfa')) === 0, `${vp} bulk: ${await countOf(page, 'count-admins-without-mfa')} admins without MFA after`);
  check(!(await present(page, '#require-mfa-admins')), `${vp} bulk: the dashboard still offers #require-mfa-admins`);
  await shot(page, vp, 'dashboard-after-bulk');
}

/** Moves the portal's clock (`--test-clock`). */
async function advanceClock(seconds) {
  const r = await fetch(`${portalUrl}/test/clock`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advance: seconds }),
  });
  check(r.ok, `POST /test/clock answered ${r.status}`);
}

/** A console session lives 15 minutes after its last visit: visits 10 minutes apart keep it,
 * 16 minutes without one end it, and the sign-in form says so. */
async function checkIdleTimeout(page, vp) {
  await page.goto(`${portalUrl}/admin`);
  for (const step of [1, 2]) {
    await advanceClock(600);
    await page.reload();
    check(await present(page, 'h1#dashboard'), `${vp} idle: signed out ${step * 10} minutes after sign-in, 10 after the last visit`);
  }
  await advanceClock(960);
  await page.reload();
  check(await present(page, '#sign-in-form'), `${vp} idle: no sign-in form 16 minutes after the last visit`);
  check(!(await present(page, 'h1#dashboard')), `${vp} idle: still the dashboard after 16 idle minutes`);
  const message = await text(page, 'p.ok[role=status]');
  check(message === 'Your session expired; sign in again.', `${vp} idle: the sign-in form says "${message}"`);
  await shot(page, vp, 'session-expired');
}

/** One walk of the console at `vp`, acting on `target`. */
async function walk(browser, vp, { target, first, expected }) {
  const context = await newContext(browser, vp);
  const page = await context.newPage();

  // Proves the admin's push sign-in approved by the assent CLI device (after enrolling it from
  // the page's QR the first time).
  if (first) {
    await enrollAdmin(page, vp);
    await signOut(page);
  } else {
    await page.goto(`${portalUrl}/admin`);
  }
  await signInAdminWithPush(page, vp);

  // The dashboard's counts are what was seeded, and the cards lead to the matching lists.
  await checkDashboard(page, vp, expected);
  await followCount(page, vp, 'count-suspended', 'Users: Suspended', ['carol']);
  await followCount(page, vp, 'count-mfa-removed', 'Users: MFA removed', expected.mfaRemovedUsers);
  if (!first) await followCount(page, vp, 'count-admins-without-mfa', 'Admins', ['viewer'], 'admins');

  // The user list: paging through all users, searching by name.
  await page.goto(`${portalUrl}/admin`);
  await checkUserList(page, vp, expected.users);

  // A user's page, and every action through its confirmation page.
  await openUser(page, vp, target);
  if (!first) {
    // Cancel does nothing; a post without the confirmation page's field does nothing either.
    await page.click('#action-suspend');
    await page.waitForURL(`${portalUrl}/admin/users/${target}/suspend`);
    await page.click('#cancel');
    await page.waitForURL(`${portalUrl}/admin/users/${target}`);
    check(!(await badgesOf(page)).includes('suspended'), `${vp} cancel: ${target} got suspended`);
    const csrf = await page.inputValue('header input[name="csrf"]');
    const unconfirmed = await context.request.post(`${portalUrl}/admin/users/${target}/suspend`, { form: { csrf }, maxRedirects: 0 });
    check(unconfirmed.status() === 400, `${vp} unconfirmed suspend answered ${unconfirmed.status()}`);
    await page.reload();
    check(!(await badgesOf(page)).includes('suspended'), `${vp} an unconfirmed post suspended ${target}`);
  }
  await walkActions(page, vp, target);

  // The log names root for each action, newest first.
  const order = ['force-password-change', 'restore', 'suspend', 'require-mfa', 'remove-mfa', 'reset-mfa', 'unlock'];
  let logged = await adminRows(page, 'root');
  check(JSON.stringify(logged) === JSON.stringify(order), `${vp} ${target}'s log: root's actions ${logged.join(', ')}`);
  check((await text(page, 'table#events tr[data-kind="admin"] td:nth-child(4)')) === '127.0.0.1', `${vp}: the log's From column`);
  await shot(page, vp, 'user-log');

  if (first) {
    // The forced password change, signed in as the user: without a device they need the MFA
    // requirement removed to sign in with the password alone.
    await confirmAction(page, vp, target, 'remove-mfa', { hours: 1 });
    await forcedPasswordChange(browser, vp, target);
    await page.goto(`${portalUrl}/admin/users/${target}`);
    const badges = await badgesOf(page);
    check(!badges.includes('password'), `${vp}: ${target} still has a new password due: ${badges}`);
    check(await present(page, 'tr[data-kind="session"][data-outcome="signed_in"]:has-text("a new password chosen")'), `${vp}: ${target}'s log lacks the new password`);
    logged = await adminRows(page, 'root');
    check(JSON.stringify(logged) === JSON.stringify(['remove-mfa', ...order]), `${vp} ${target}'s log: root's actions ${logged.join(', ')}`);
    await shot(page, vp, 'user-after-password-change');
  } else {
    await checkAdminDevice(page, vp);
    await createHelpDeskAdmin(page, vp);
    await registerClient(page, vp);
    await requireMfaForAdmins(page, vp);
    await checkIdleTimeout(page, vp);
  }
  await context.close();
}

const timer = setTimeout(() => fail(`the test took longer than ${WHOLE_RUN_MS / 1000} s`), WHOLE_RUN_MS);

try {
  rmSync(artefacts, { recursive: true, force: true });
  mkdirSync(artefacts, { recursive: true });

  // The relay: direct delivery only, one tenant (the portal).
  let apiKey;
  ({ relayUrl, apiKey } = await startRelay('console-test'));

  // The accounts, before the server starts: root (administrator), viewer (read-only, MFA
  // removed so it signs in with the password alone), 34 users to page through (user1 so that
  // the search `user1` finds 11), bob without the MFA requirement, carol suspended.
  portalCli('admin', 'create-admin', 'root', '--role', 'administrator');
  portalCli('admin', 'create-admin', 'viewer', '--role', 'read_only');
  portalCli('admin', 'remove-mfa', 'viewer', '--hours', '24');
  const users = ['alice', 'bob', 'carol', 'user1', ...Array.from({ length: 30 }, (_, i) => `user${String(i).padStart(2, '0')}`)];
  for (const name of users) portalCli('user', 'add', name);
  portalCli('admin', 'remove-mfa', 'bob', '--hours', '24');
  portalCli('admin', 'suspend', 'carol');

  const portal = start(bin('portal'), ['--db', db, '--listen', '127.0.0.1:0', '--relay-url', relayUrl, '--relay-api-key', apiKey, '--test-clock'], { PORTAL_LOG: 'warn' });
  portalUrl = await waitFor('the portal', async () => portal.output().match(/portal listening on (\S+)/)?.[1]);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });

  const counts = (mfaRemovedUsers) => ({
    'count-locked': 0,
    'count-suspended': 1,
    'count-mfa-removed': mfaRemovedUsers.length,
    'count-no-device': users.length,
    'count-admins-without-mfa': 1,
    mfaRemovedUsers,
    users: users.length,
  });
  // Phone: root enrolls, then signs in with push; acts on user05, who then changes password.
  await walk(browser, 'phone', { target: 'user05', first: true, expected: counts(['bob']) });
  // Once: the read-only role.
  await checkReadOnly(browser, 'phone');
  // Desktop: push sign-in again; acts on user06; admins, the bulk action, the idle timeout.
  // (user05 still has the MFA requirement removed for an hour from the phone walk.)
  await walk(browser, 'desktop', { target: 'user06', first: false, expected: counts(['bob', 'user05']) });

  await browser.close();
  if (violations.length) fail(`Content-Security-Policy violations or script errors: ${violations.join('; ')}`);
  clearTimeout(timer);
  const shots = readdirSync(artefacts).filter((f) => f.endsWith('.png')).sort();
  console.log(`console browser test: ok in ${((Date.now() - started) / 1000).toFixed(1)} s (phone 360×740 and desktop 1280×900: `
    + 'enrollment from the QR, admin push sign-in approved by the assent CLI, dashboard counts and links, '
    + 'user search and paging, every action confirmed, the log naming root, forced password change, '
    + 'read-only role refused, new help-desk admin, a relying party registered, MFA required for every admin, idle timeout)');
  console.log(`screenshots (${shots.length}) in ${artefacts}`);
  cleanup();
} catch (e) {
  fail(e?.stack ?? String(e));
}
