// What both browser tests need: the workspace's binaries, a temporary folder, child processes
// that are killed at the end, free loopback ports, polling with a deadline, and the `assent`
// CLI's environment (a vault of its own in the folder, no OS keyring).

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bin = (name) => join(root, 'target', process.env.PROFILE ?? 'debug', name);
export const PASSWORD = 'correct horse battery';
export const DEADLINE_MS = 15000;

/** A test's harness; `label` starts its failure message. */
export function harness(label) {
  const dir = mkdtempSync(join(tmpdir(), 'assent-browser-'));
  const children = [];

  function cleanup() {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }

  function fail(message) {
    console.error(`${label}: FAILED: ${message}`);
    cleanup();
    // Playwright kills the Chromium it launched when this process exits.
    process.exit(1);
  }

  function freePort() {
    return new Promise((ok) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => ok(port));
      });
    });
  }

  async function waitFor(what, probe) {
    const end = Date.now() + DEADLINE_MS;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value) return value;
      if (Date.now() > end) fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Starts a process; returns it and a function returning its output so far. */
  function start(command, args, env = {}) {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    return { child, output: () => out };
  }

  const assentEnv = {
    HOME: dir,
    XDG_RUNTIME_DIR: join(dir, 'run'),
    ASSENT_VAULT: join(dir, 'vault.json'),
    ASSENT_PASSPHRASE: 'a vault passphrase',
    DBUS_SESSION_BUS_ADDRESS: 'disabled:',
  };

  /** Starts a push relay with direct delivery only and one tenant; returns its URL and the
   * tenant's API key. */
  async function startRelay(tenant) {
    const apiKey = randomBytes(32).toString('hex');
    const relayPort = await freePort();
    writeFileSync(join(dir, 'relay.toml'), [
      `listen = "127.0.0.1:${relayPort}"`,
      'log_level = "warn"',
      '[[tenants]]',
      `id = "${tenant}"`,
      `api_key_sha256 = "${createHash('sha256').update(apiKey).digest('hex')}"`,
      'direct = true',
      '',
    ].join('\n'));
    const relayUrl = `http://127.0.0.1:${relayPort}`;
    start(bin('push-relay'), ['--config', join(dir, 'relay.toml')]);
    await waitFor('the relay', async () => (await fetch(`${relayUrl}/healthz`)).ok);
    return { relayUrl, apiKey };
  }

  return { dir, cleanup, fail, freePort, waitFor, start, startRelay, assentEnv };
}
