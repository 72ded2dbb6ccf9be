// SPDX-License-Identifier: BSL-1.0
// `llmux embed` as a user runs it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, json, test, done, assert } from './harness.mjs';

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

await test('no keys: embeds on the built-in emulator, one vector per text, in order', () => {
  const r = run(['embed', '-m', 'openai/text-embedding-3-small', 'hello', 'world', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /built-in emulator/);
  const o = json(r);
  for (const k of ['model', 'provider', 'response_model', 'inputs', 'dimensions', 'batches', 'usage',
                   'latency_ms', 'request_id', 'cost_usd', 'embeddings'])
    assert.ok(k in o, `missing ${k}`);
  assert.equal(o.model, 'openai/text-embedding-3-small');
  assert.equal(o.provider, 'openai');
  assert.equal(o.inputs, 3);
  assert.equal(o.embeddings.length, 3);
  assert.equal(o.dimensions, 1536);
  for (const v of o.embeddings) {
    assert.equal(v.length, 1536);
    assert.ok(Math.abs(norm(v) - 1) < 1e-3, `not normalised: ${norm(v)}`);
  }
  // The same text, the same vector; different texts, different vectors.
  assert.deepEqual(o.embeddings[0], o.embeddings[2]);
  assert.notDeepEqual(o.embeddings[0], o.embeddings[1]);
  assert.ok(o.usage.input_tokens > 0);
  assert.equal(o.usage.output_tokens, 0);
  assert.ok(o.cost_usd > 0, 'priced from the catalog');
  assert.ok(o.latency_ms > 0);
});

await test('--dimensions shortens the vectors; the same text gives the same vector in every call', () => {
  const a = json(run(['embed', '-m', 'openai/text-embedding-3-large', '--dimensions', '8', 'x']));
  const b = json(run(['embed', '-m', 'openai/text-embedding-3-large', '--dimensions', '8', 'y', 'x']));
  assert.equal(a.dimensions, 8);
  assert.equal(a.embeddings[0].length, 8);
  assert.deepEqual(b.embeddings[1], a.embeddings[0]);
});

await test('lines of a file or of standard input, blank lines skipped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-embed-'));
  const file = path.join(dir, 'lines.txt');
  fs.writeFileSync(file, 'first\r\n\n  \nsecond\nthird');
  const f = json(run(['embed', '-m', 'openai/text-embedding-3-small', '--dimensions', '4', '--file', file]));
  assert.equal(f.inputs, 3);
  const s = json(run(['embed', '-m', 'openai/text-embedding-3-small', '--dimensions', '4', '-'],
                     { input: 'first\nsecond\n\nthird\n' }));
  assert.deepEqual(s.embeddings, f.embeddings);
  fs.rmSync(dir, { recursive: true });
});

await test('a provider error is reported with code and status, exit 1', () => {
  const r = run(['embed', '-m', 'openai/text-embedding-3-small~error=429,retry_after=2s', 'hi']);
  assert.equal(r.code, 1);
  const o = json(r);
  assert.equal(o.error.code, 'rate_limited');
  assert.equal(o.error.status, 429);
  assert.ok(!('embeddings' in o));
  assert.match(r.stderr, /rate_limited/);
});

await test('bad usage names the problem, exit 2', () => {
  const cases = [
    [['embed', 'hi'], /missing -m MODEL/],
    [['embed', '-m', 'openai/text-embedding-3-small'], /nothing to embed/],
    [['embed', '-m', 'openai/text-embedding-3-small', '--dimensions', '0', 'x'], /--dimensions/],
    [['embed', '-m', 'openai/text-embedding-3-small', '--task', 'nope', 'x'], /unknown --task 'nope'/],
    [['embed', '-m', 'openai/text-embedding-3-small', '--file', '/nonexistent/x'], /cannot read --file/],
  ];
  for (const [args, why] of cases) {
    const r = run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why);
  }
});

await test('a provider without embeddings is refused by name before any call', () => {
  const r = run(['embed', '-m', 'anthropic/claude-sonnet-4-5', 'x']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /anthropic/);
  assert.match(r.stderr, /unsupported|embeddings/);
});

await test('a task OpenAI has no field for is refused, not dropped', () => {
  const r = run(['embed', '-m', 'openai/text-embedding-3-small', '--task', 'query', 'x']);
  assert.equal(r.code, 1);
  assert.equal(json(r).error.code, 'unsupported');
});

done();
