// SPDX-License-Identifier: BSL-1.0
// Shared helpers for the CLI tests: run the binary with a clean environment (no provider keys
// leak in from the machine), start `llmux emulate` in the background, assert.
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import path from 'node:path';

// Absolute, so that tests may run it from another working directory.
export const bin = process.argv[2] && path.resolve(process.argv[2]);
if (!bin) { console.error('usage: node <test>.mjs /path/to/llmux'); process.exit(2); }

// Only what a process needs; every provider variable is left out on purpose.
export function cleanEnv(extra = {}) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
  return { ...env, ...extra };
}

export function run(args, { env = {}, input, timeout = 60_000, cwd } = {}) {
  const r = spawnSync(bin, args, { env: cleanEnv(env), input, encoding: 'utf8', timeout, cwd });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/// As `run`, without blocking the event loop (for tests that serve the binary from this
/// process).
export function runAsync(args, { env = {}, timeout = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { env: cleanEnv(env) });
    let stdout = '', stderr = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}`)); }, timeout);
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

export function json(r) {
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `expected one JSON line, got:\n${r.stdout}`);
  return JSON.parse(lines[0]);
}

/// Starts `llmux emulate` and resolves with { url, stop() }.
export function emulate(args = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['emulate', '--port', '0', ...args], { env: cleanEnv() });
    let out = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error('emulator printed no URL')); }, 10_000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          stop: () => new Promise((res) => { p.on('exit', (code) => res(code)); p.kill('SIGTERM'); }),
        });
      }
    });
    p.on('error', reject);
  });
}

/** Starts a process that answers every POST with recorded provider bodies (tests/data
    fixtures): `whole` for a plain request, `stream` (SSE) when the request asks for a stream.
    For what the built-in emulator does not script, such as cache hits and reasoning tokens.
    Resolves with { url, stop() }. */
export function replay({ whole, stream }) {
  const code = `
    const http = require('node:http');
    const [whole, stream] = JSON.parse(process.argv[1]);
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        let streamed = false;
        try { streamed = JSON.parse(body).stream === true; } catch {}
        res.writeHead(200, { 'content-type': streamed ? 'text/event-stream' : 'application/json' });
        res.end(streamed ? stream : whole);
      });
    });
    server.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
    process.on('SIGTERM', () => server.close(() => process.exit(0)));`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', code, JSON.stringify([whole, stream])], { env: cleanEnv() });
    let out = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error('replay printed no URL')); }, 10_000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], stop: () => new Promise((res) => { p.on('exit', res); p.kill('SIGTERM'); }) });
      }
    });
    p.on('error', reject);
  });
}

let failures = 0;
export async function test(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n${e.stack ?? e}`);
  }
}
export function done() {
  if (failures) { console.log(`${failures} failed`); process.exit(1); }
  console.log('all passed');
}
export { assert };
