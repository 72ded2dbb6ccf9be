// SPDX-License-Identifier: BSL-1.0
// `llmux models` as a user runs it: the catalog as a table and as JSON, and its filters.
import fs from 'node:fs';
import os from 'node:os';
import { run, json, test, done, assert } from './harness.mjs';

const list = (args, env) => {
  const r = run(['models', '--json', ...args], { env });
  assert.equal(r.code, 0, r.stderr);
  const a = json(r);
  assert.ok(Array.isArray(a));
  return a;
};

await test('the table lists the catalog with prices and capabilities', () => {
  const r = run(['models'], { env: { COLUMNS: '150' } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^PROVIDER\s+MODEL\s+INPUT \$\/M\s+OUTPUT \$\/M\s+CONTEXT\s+MAX OUT\s+QUALITY\s+CAPABILITIES$/);
  const row = lines.find((l) => /^openai\s+gpt-4o-mini\s/.test(l));
  assert.ok(row, r.stdout);
  assert.match(row, /\$0\.15\s+\$0\.6\d?\s+128k/);
  const n = list([]).length;
  assert.match(lines.at(-1), new RegExp(`^${n} models; prices in USD per million tokens`));
  assert.equal(lines.length, n + 2);
  assert.doesNotMatch(r.stdout, /\x1b\[/);
});

await test('--json has every field, for every model', () => {
  const all = list([]);
  assert.ok(all.length > 10);
  for (const m of all) {
    for (const k of ['id', 'provider', 'model', 'input_price', 'output_price', 'context_window',
                     'max_output_tokens', 'tools', 'vision', 'json_schema', 'quality'])
      assert.ok(k in m, `${m.id}: missing ${k}`);
    assert.equal(m.id, `${m.provider}/${m.model}`);
  }
  const mini = all.find((m) => m.id === 'openai/gpt-4o-mini');
  assert.equal(mini.input_price, 0.15);
  assert.equal(mini.tools, true);
});

await test('filters: --provider, --tools, --vision, --json-schema, TEXT', () => {
  const all = list([]);
  const openai = list(['--provider', 'openai']);
  assert.ok(openai.length > 0 && openai.every((m) => m.provider === 'openai'));
  assert.equal(openai.length, all.filter((m) => m.provider === 'openai').length);
  const two = list(['-p', 'openai,anthropic']);
  assert.equal(two.length, all.filter((m) => ['openai', 'anthropic'].includes(m.provider)).length);
  for (const [flag, key] of [['--tools', 'tools'], ['--vision', 'vision'], ['--json-schema', 'json_schema']]) {
    const got = list([flag]);
    assert.equal(got.length, all.filter((m) => m[key]).length, flag);
    assert.ok(got.length > 0, `${flag} keeps some models`);
  }
  assert.ok(list(['--vision']).length < all.length, '--vision filters something');
  const both = list(['--vision', '--tools', '--provider', 'google']);
  assert.deepEqual(both.map((m) => m.id), all.filter((m) => m.vision && m.tools && m.provider === 'google').map((m) => m.id));
  assert.deepEqual(list(['--capability', 'vision']).map((m) => m.id), list(['--vision']).map((m) => m.id));
  const search = list(['MINI']);
  assert.ok(search.length > 0 && search.every((m) => m.id.toLowerCase().includes('mini')));
  const none = run(['models', 'no-such-model-anywhere']);
  assert.equal(none.code, 0);
  assert.match(none.stderr, /no model matches/);
});

await test('a config file catalog is merged', () => {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/llmux-models-test-`);
  try {
    const cat = `${dir}/catalog.json`;
    fs.writeFileSync(cat, JSON.stringify({ models: [{ id: 'lab/tiny', input: 0.01, output: 0.02, context: 4096, tools: true }] }));
    fs.writeFileSync(`${dir}/cfg.json`, JSON.stringify({ catalog: cat }));
    const got = list(['--config', `${dir}/cfg.json`, '--provider', 'lab']);
    assert.deepEqual(got.map((m) => m.id), ['lab/tiny']);
    assert.equal(got[0].input_price, 0.01);
    assert.equal(got[0].context_window, 4096);
    assert.equal(got[0].tools, true);
    assert.equal(got[0].vision, false);
    // A bad catalog is one line naming the file.
    fs.writeFileSync(cat, '{"models": 3}');
    const r = run(['models', '--config', `${dir}/cfg.json`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /catalog/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

await test('bad input gets one clear line and a non-zero exit', () => {
  const cases = [
    [['models', '--frobnicate'], 2, /frobnicate/],
    [['models', '--capability', 'telepathy'], 2, /unknown capability 'telepathy'/],
    [['models', 'a', 'b'], 2, /one search TEXT at most/],
    [['models', '--provider', 'nosuch'], 1, /unknown provider 'nosuch'/],
    [['models', '--config', '/nonexistent.json'], 1, /nonexistent\.json/],
    [['models', '--openrouter', '/nonexistent.json'], 1, /cannot read '\/nonexistent\.json'/],
  ];
  for (const [args, code, re] of cases) {
    const r = run(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `more than one line for ${args.join(' ')}:\n${r.stderr}`);
  }
});

await test('--help for models', () => {
  const r = run(['models', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--json', '--provider', '--tools', '--vision', '--json-schema'])
    assert.ok(r.stdout.includes(flag), flag);
});

done();
