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

await test('the catalog is the genai-prices data set: well over a thousand models, priced', () => {
  const all = list([]);
  assert.ok(all.length > 1300, `${all.length} models`);
  assert.ok(all.filter((m) => m.input_price !== null && m.output_price !== null).length > 1200);
  const r = run(['models', '-p', 'openai']);
  assert.match(r.stdout.trim().split('\n').at(-1), /from pydantic\/genai-prices@[0-9a-f]{40}/);
  // A tiered model says so in the table and lists its tiers in --json.
  const pro = list(['--search', 'google/gemini-2.5-pro']).find((m) => m.id === 'google/gemini-2.5-pro');
  assert.deepEqual(pro.tiers.map((t) => [t.above, t.input_price, t.output_price]), [[200000, 2.5, 15]]);
  const row = run(['models', '-p', 'google', 'gemini-2.5-pro'], { env: { COLUMNS: '200' } })
    .stdout.split('\n').find((l) => /^google\s+gemini-2\.5-pro\s/.test(l));
  assert.match(row, /\$1\.25\+\s+\$10\.00\+/);
});

await test('--search and TEXT; a model id finds the model it resolves to', () => {
  assert.deepEqual(list(['--search', 'MINI']).map((m) => m.id), list(['MINI']).map((m) => m.id));
  const ids = list(['anthropic/claude-sonnet-4.6']).map((m) => m.id);
  assert.ok(ids.includes('anthropic/claude-sonnet-4-6'), ids.join(' '));  // resolved
  assert.ok(ids.includes('openrouter/anthropic/claude-sonnet-4.6'), ids.join(' '));  // contains the text
  assert.deepEqual(list(['bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0']).map((m) => m.id),
                   ['bedrock/regional.anthropic.claude-sonnet-4-20250514-v1:0']);
  const reasoning = list(['--capability', 'reasoning']);
  assert.ok(reasoning.length > 0 && reasoning.every((m) => m.reasoning));
  const r = run(['models', '--search', 'a', 'b']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /one search TEXT at most/);
});

const vendored = fs.readFileSync(new URL('../../data/genai-prices/data_slim.json', import.meta.url), 'utf8');

await test('--update: checks a newer copy, says what changed, writes it where it is used', () => {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/llmux-update-test-`);
  try {
    // The vendored copy itself: valid, nothing changes.
    fs.writeFileSync(`${dir}/same.json`, vendored);
    let r = run(['models', '--update', `${dir}/same.json`, '--dry-run', '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    let o = json(r);
    assert.equal(o.models, 1285);
    assert.equal(o.providers, 34);
    assert.deepEqual([o.added, o.removed, o.changed], [[], [], []]);
    assert.equal(o.ignored_fields.length, 34);  // pricing_urls, which the slim schema omits
    assert.equal(o.written, null);

    // A newer copy: one model gone, one new, one repriced.
    const data = JSON.parse(vendored);
    const openai = data.find((p) => p.id === 'openai');
    const mini = openai.models.find((m) => m.id === 'gpt-4o-mini');
    mini.prices = { ...mini.prices, input_mtok: 0.1 };
    openai.models = openai.models.filter((m) => m.id !== 'gpt-4-32k');
    openai.models.push({ id: 'gpt-9', match: { starts_with: 'gpt-9' }, prices: { input_mtok: 9, output_mtok: 90 } });
    fs.writeFileSync(`${dir}/newer.json`, JSON.stringify(data));
    r = run(['models', '--update', `${dir}/newer.json`, '--out', `${dir}/prices.json`], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid genai-prices data, 34 providers and 1285 models/);
    assert.match(r.stdout, /added 1 model\n  openai\/gpt-9\n/);
    assert.match(r.stdout, /removed 1 model\n  openai\/gpt-4-32k\n/);
    assert.match(r.stdout, /changed prices of 1 model\n  openai\/gpt-4o-mini: input 0\.15 -> 0\.1\n/);
    assert.match(r.stdout, /wrote .*prices\.json; use it with \{"prices": /);
    assert.equal(fs.readFileSync(`${dir}/prices.json`, 'utf8'), JSON.stringify(data));
    // Compared with the file it replaces from then on.
    o = json(run(['models', '--update', `${dir}/newer.json`, '--out', `${dir}/prices.json`, '--json']));
    assert.deepEqual([o.added, o.removed, o.changed], [[], [], []]);

    // Used through a config file's "prices": the new prices, the overlay's capabilities.
    fs.writeFileSync(`${dir}/cfg.json`, JSON.stringify({ prices: `${dir}/prices.json` }));
    const got = list(['--config', `${dir}/cfg.json`, '-p', 'openai']);
    const m = got.find((x) => x.id === 'openai/gpt-4o-mini');
    assert.equal(m.input_price, 0.1);
    assert.equal(m.tools, true);
    assert.ok(got.some((x) => x.id === 'openai/gpt-9'));
    assert.ok(!got.some((x) => x.id === 'openai/gpt-4-32k'));

    // From a source tree (data/genai-prices/ here), without --out: over the vendored copy.
    fs.mkdirSync(`${dir}/tree/data/genai-prices`, { recursive: true });
    fs.writeFileSync(`${dir}/tree/data/genai-prices/SOURCE.md`, 'commit `0`\n');
    fs.writeFileSync(`${dir}/tree/data/genai-prices/data_slim.json`, vendored);
    r = run(['models', '--update', `${dir}/newer.json`], { cwd: `${dir}/tree` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote data\/genai-prices\/data_slim\.json; name the upstream commit/);
    assert.equal(fs.readFileSync(`${dir}/tree/data/genai-prices/data_slim.json`, 'utf8'), JSON.stringify(data));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

await test('--update refuses bad data with one line naming the place, and writes nothing', () => {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/llmux-update-bad-`);
  try {
    const data = JSON.parse(vendored);
    const bad = (mutate) => { const d = structuredClone(data); mutate(d); return JSON.stringify(d); };
    const cases = [
      ['{"not": "an array"}', /does not follow the genai-prices schema: \/: expected an array/],
      ['[', /not valid JSON/],
      [bad((d) => { d[0].models[0].prices = { input_mtok: 'cheap' }; }), /\/0\/models\/0\/prices: matches none of/],
      [bad((d) => { delete d[1].models; }), /\/1: missing required field 'models'/],
      [bad((d) => { d[0].models[0].match = { regex: '(' }; }), /not a valid regex/],
      [bad((d) => { d[0].models[0].prices = { input_mtok: -1 }; }), /prices\.input_mtok: must be a finite number >= 0/],
      [bad((d) => { d[0].fallback_model_providers = ['nowhere']; }), /unknown provider 'nowhere'/],
    ];
    for (const [text, re] of cases) {
      fs.writeFileSync(`${dir}/in.json`, text);
      const r = run(['models', '--update', `${dir}/in.json`, '--out', `${dir}/out.json`]);
      assert.equal(r.code, 1, `${re}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!fs.existsSync(`${dir}/out.json`), 'nothing written');
    }
    // Outside a source tree, without --out: where would it go? Usage error.
    fs.writeFileSync(`${dir}/in.json`, vendored);
    let r = run(['models', '--update', `${dir}/in.json`], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give --out FILE/);
    r = run(['models', '--update', `${dir}/in.json`, '--tools']);
    assert.equal(r.code, 2);
    r = run(['models', '--out', `${dir}/x.json`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /go with --update/);
    r = run(['models', '--update', `${dir}/nonexistent.json`, '--dry-run']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

await test('--help for models', () => {
  const r = run(['models', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--json', '--provider', '--search', '--tools', '--vision', '--json-schema', '--update', '--out', '--dry-run'])
    assert.ok(r.stdout.includes(flag), flag);
});

done();
