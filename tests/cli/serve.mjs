// SPDX-License-Identifier: BSL-1.0
// `llmux serve` as a user runs it: started with no keys (the built-in emulator answers), called
// with fetch, stopped with SIGTERM.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, cleanEnv, run, test, done, assert } from './harness.mjs';

/// Starts `llmux serve` and resolves with { url, stderr(), stop() } once it printed its URL.
function serve(args = [], env = {}, port = '0') {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['serve', '--port', port, '--threads', '2', ...args], { env: cleanEnv(env) });
    let out = '', err = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`no URL printed; stderr: ${err}`)); }, 15_000);
    p.stderr.on('data', (d) => { err += d; });
    p.stdout.on('data', (d) => {
      out += d;
      const first = out.split('\n')[0];
      const m = /^llmux gateway listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(first);
      if (m && out.includes('\n')) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          stderr: () => err,
          stop: (signal = 'SIGTERM') => new Promise((res) => {
            p.on('exit', (code, sig) => res({ code, sig }));
            p.kill(signal);
          }),
        });
      }
    });
    p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code} before printing a URL: ${err}`)); });
    p.on('error', reject);
  });
}

const body = (model, extra = {}) => JSON.stringify({
  model, messages: [{ role: 'user', content: 'Say something' }], ...extra,
});

await test('--help prints usage and exits 0', () => {
  const r = run(['serve', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /usage: llmux serve/);
  assert.match(r.stdout, /--port/);
  assert.match(r.stdout, /--config/);
  assert.match(r.stdout, /--threads/);
  assert.match(r.stdout, /--reuse-port/);
});

await test('bad flags: one line on stderr, exit 2', () => {
  for (const args of [['--bogus'], ['--port', '70000'], ['--threads', '0'], ['--port', 'x'], ['stray'],
                      ['--reuse-port', '--port', '0']]) {
    const r = run(['serve', ...args]);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '');
  }
});

await test('a public address without gateway keys is refused with a clear message', () => {
  const r = run(['serve', '--host', '0.0.0.0', '--port', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /without gateway keys/);
  assert.equal(r.stdout, '');
});

await test('a bad config file is named in the error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmux-serve-'));
  const f = join(dir, 'gw.json');
  writeFileSync(f, '{"models":{"x":{"deployments":[]}}}');
  const r = run(['serve', '--config', f]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /gw\.json/);
  assert.match(r.stderr, /no deployments/);
});

await test('serves chat, streams, models, health and metrics on the emulator; SIGTERM exits 0', async () => {
  const gw = await serve();
  try {
    assert.match(gw.stderr(), /built-in emulator/);
    assert.match(gw.stderr(), /without authentication/);
    const h = await fetch(`${gw.url}/health`);
    assert.equal(h.status, 200);
    assert.equal((await h.json()).status, 'ok');

    const m = await (await fetch(`${gw.url}/v1/models`)).json();
    assert.equal(m.object, 'list');
    assert.ok(m.data.some((x) => x.id === 'openai/gpt-4o-mini'), JSON.stringify(m).slice(0, 300));

    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: body('openai/gpt-4o-mini'),
    });
    assert.equal(r.status, 200);
    const c = await r.json();
    assert.equal(c.object, 'chat.completion');
    assert.ok(c.choices[0].message.content.length > 0);

    const s = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: body('anthropic/claude-sonnet-4.6', { stream: true }),
    });
    assert.equal(s.status, 200);
    assert.match(s.headers.get('content-type'), /text\/event-stream/);
    const text = await s.text();
    assert.match(text, /data: \[DONE\]\n\n$/);

    const a = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'google/gemini-2.0-flash', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(a.status, 200);
    assert.equal((await a.json()).type, 'message');

    const bad = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"openai/gpt-4o-mini"}',
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.param, 'messages');

    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /^llmux_gateway_requests_total\{model="openai\/gpt-4o-mini"\} 1$/m);
    // Access log lines go to stderr, one per request, without prompts.
    assert.match(gw.stderr(), /POST "\/v1\/chat\/completions" model="openai\/gpt-4o-mini" .*status=200/);
    assert.doesNotMatch(gw.stderr(), /Say something/);
  } finally {
    const { code } = await gw.stop('SIGTERM');
    assert.equal(code, 0);
  }
});

await test('--config model groups with fallback', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmux-serve-'));
  const f = join(dir, 'gw.json');
  writeFileSync(f, JSON.stringify({
    gateway: { access_log: false },
    models: { smart: { deployments: ['openai/gpt-4o-mini~error=503', 'deepseek/deepseek-chat'] } },
  }));
  const gw = await serve(['--config', f]);
  try {
    const m = await (await fetch(`${gw.url}/v1/models`)).json();
    assert.deepEqual(m.data.map((x) => x.id), ['smart']);
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: body('smart'),
    });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).model, 'smart');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /^llmux_gateway_fallbacks_total\{model="smart"\} 1$/m);
  } finally {
    const { code } = await gw.stop('SIGINT');
    assert.equal(code, 0);
  }
});

/// A port that was free a moment ago.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/// One chat request on a connection of its own (no keep-alive pool): resolves with its status.
function chatOnce(url) {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/chat/completions`, {
      method: 'POST', agent: false, headers: { 'content-type': 'application/json', connection: 'close' },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body('openai/gpt-4o-mini'));
  });
}

await test('--reuse-port: two processes serve one port, each some of the connections', async () => {
  const port = String(await freePort());
  const a = await serve(['--reuse-port'], {}, port);
  let b;
  try {
    // Without --reuse-port the port is taken.
    const refused = run(['serve', '--port', port]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`cannot bind 127\\.0\\.0\\.1:${port}`));
    b = await serve(['--reuse-port'], {}, port);
    assert.equal(a.url, b.url);
    const statuses = [];
    for (let i = 0; i < 48; ++i) statuses.push(await chatOnce(a.url));
    assert.deepEqual(statuses, Array(48).fill(200));
  } finally {
    const sa = await a.stop();
    const sb = b ? await b.stop() : { code: 0 };
    assert.equal(sa.code, 0);
    assert.equal(sb.code, 0);
  }
  // Each wrote an access log line per request it served: the kernel spread the 48 connections
  // between the two (all on one side has a chance of 2^-47).
  const served = (gw) => (gw.stderr().match(/POST "\/v1\/chat\/completions" .*status=200/g) || []).length;
  assert.equal(served(a) + served(b), 48);
  assert.ok(served(a) > 0 && served(b) > 0, `${served(a)} and ${served(b)}`);
});

done();
