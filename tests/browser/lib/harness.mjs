// harness.mjs - what the browser tests share: a real `hotpath serve` on a
// free loopback port with an empty data directory, Debian's Chromium driven
// by playwright-core, and small waiting and posting helpers.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const BIN = resolve(process.env.HOTPATH_BIN || 'build/hotpath');
export const SHOTS = resolve('build/screenshots');
const run = promisify(execFile);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** Poll `fn` until it returns something truthy; an error with .fatal stops at once. */
export async function waitFor(fn, what, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      if (err.fatal) throw err;
      last = err;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await sleep(100);
  }
}

/**
 * Start hotpath (with extra `args`) and wait for /health.  Returns {base, stop}: stop() sends
 * SIGTERM (SIGKILL after 5 s) and removes the data directory.
 */
export async function startHotpath(prefix, args = []) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout.on('data', (d) => { log += d; });
  server.stderr.on('data', (d) => { log += d; });
  let spawnError = null;
  server.once('error', (err) => { spawnError = err; });
  process.on('exit', () => { if (server.exitCode === null) server.kill('SIGKILL'); });

  const stop = async () => {
    if (server.exitCode === null && !spawnError) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      const gone = spawnError ? `cannot run ${BIN}: ${spawnError.message}`
        : server.exitCode !== null ? `hotpath exited with ${server.exitCode}: ${log}` : null;
      if (gone) throw Object.assign(new Error(gone), { fatal: true });
      const res = await fetch(`${base}/health`);
      return res.ok && (await res.json()).status === 'ok';
    }, `${base}/health`, 15000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { base, stop };
}

/** Chromium with one page; console errors and page errors are collected. */
export async function launchPage(viewport) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport, colorScheme: 'dark' });
  const page = await context.newPage();
  const consoleErrors = [];
  page.setDefaultTimeout(10000);
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => consoleErrors.push(`page error: ${err.message}`));
  mkdirSync(SHOTS, { recursive: true });
  return { browser, page, consoleErrors };
}

/**
 * A server loaded with the demo's history (`hotpath demo --backfill 3`,
 * docs/DEMO.md) and Chromium with one page.  Returns {hotpath, base,
 * browser, page, consoleErrors}; hand browser and hotpath to closeAll().
 */
export async function startDemoPage(prefix, viewport) {
  const hotpath = await startHotpath(prefix);
  try {
    await run(BIN, ['demo', '--target', hotpath.base, '--backfill', '3', '--duration', '1', '--quiet'],
      { timeout: 240000 });
    return { hotpath, base: hotpath.base, ...(await launchPage(viewport)) };
  } catch (err) {
    await hotpath.stop();
    throw err;
  }
}

/** GET `path` with query `params` from the server at `base`: asserts a 200 and returns the JSON. */
export async function getApi(base, path, params = {}) {
  const q = new URLSearchParams(params).toString();
  const res = await fetch(`${base}${path}${q ? `?${q}` : ''}`);
  const text = await res.text();
  assert.equal(res.status, 200, `${path}?${q}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Close the browser and stop hotpath (either may be missing), hotpath even if closing fails. */
export async function closeAll(browser, hotpath) {
  try {
    if (browser) await browser.close();
  } finally {
    if (hotpath) await hotpath.stop();
  }
}

/** POST an OTLP/JSON request; it must be accepted whole. */
export async function postOtlpJson(base, request) {
  const res = await fetch(`${base}/v1/traces`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(request),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST /v1/traces: ${res.status} ${text}`);
  assert.ok(!/rejectedSpans"\s*:\s*"?[1-9]/.test(text), `spans rejected: ${text}`);
}
