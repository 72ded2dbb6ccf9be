// SPDX-License-Identifier: BSL-1.0
// `llmux compare` as a user runs it, on the built-in emulator.
import fs from 'node:fs';
import os from 'node:os';
import { run, replay, test, done, assert } from './harness.mjs';

const five = ['openai/gpt-4o-mini', 'anthropic/claude-haiku-4.5', 'google/gemini-2.0-flash',
              'deepseek/deepseek-chat', 'groq/llama-3.3-70b'];

function jsonLines(r) {
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

await test('five models: a table row each, a summary, the emulator named', () => {
  const r = run(['compare', '-m', five.join(','), 'Introduce Python in one sentence'],
                { env: { COLUMNS: '160' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /built-in emulator/);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^MODEL\s+STATUS\s+TTFT\s+LATENCY\s+IN\s+OUT\s+COST\s+ANSWER$/);
  for (const m of five) {
    const row = lines.find((l) => l.startsWith(m + ' '));
    assert.ok(row, `no row for ${m}:\n${r.stdout}`);
    assert.match(row, /\sok\s+\d+(\.\d+)? (µs|ms|s)\s+\d+(\.\d+)? (µs|ms|s)\s+\d+\s+\d+\s+(\$0\.\d+|<\$0\.000001|\$0|-)\s+\S/);
  }
  assert.match(r.stdout, /5 models · 5 ok · 0 failed · cost \$0\.\d+( \(\+1 unpriced\))? · .* wall/);
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'no escape sequences when stdout is not a terminal');
});

await test('small costs are shown readably, never cut', () => {
  const r = run(['compare', '-m', 'google/gemini-2.0-flash~tokens=5,openai/gpt-4o-mini', 'hi']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /\$0\.0+…/);
  const o = jsonLines(run(['compare', '--json', '-m', 'google/gemini-2.0-flash~tokens=5,openai/gpt-4o-mini', 'hi']));
  for (const x of o) {
    assert.ok(x.cost_usd > 0 && x.cost_usd < 0.001, `${x.model}: ${x.cost_usd}`);
    const row = r.stdout.split('\n').find((l) => l.startsWith(x.model + ' '));
    const shown = /(<?)\$(0\.\d+)/.exec(row);
    assert.ok(shown, row);
    if (shown[1]) assert.ok(x.cost_usd < 0.000001);
    else assert.ok(Math.abs(+shown[2] - x.cost_usd) / x.cost_usd < 0.06, `${shown[0]} for ${x.cost_usd}`);
  }
});

await test('--json: one object per model, in -m order, with the fields of chat --json', () => {
  const models = ['deepseek/deepseek-chat~latency=300ms', 'openai/gpt-4o-mini', 'openai/broken~error=503'];
  const r = run(['compare', '--json', '-m', models.join(','), 'hello']);
  assert.equal(r.code, 1, 'a failed model makes the exit status 1');
  const objs = jsonLines(r);
  assert.deepEqual(objs.map((o) => o.model), models);
  for (const o of objs)
    for (const k of ['model', 'provider', 'text', 'finish_reason', 'tool_calls', 'usage', 'latency_ms',
                     'ttft_ms', 'cost_usd', 'attempts'])
      assert.ok(k in o, `${o.model}: missing ${k}`);
  assert.equal(objs[0].finish_reason, 'stop');
  assert.ok(objs[0].latency_ms >= 300, 'the scripted latency is measured');
  assert.equal(objs[1].usage.total_tokens, objs[1].usage.input_tokens + objs[1].usage.output_tokens);
  assert.equal(objs[2].finish_reason, 'error');
  assert.equal(objs[2].error.code, 'overloaded');
  assert.equal(objs[2].error.status, 503);
});

await test('a failure is a row; rows are printed as answers arrive', () => {
  const r = run(['compare', '-m', 'openai/slow~latency=600ms,openai/broken~error=503,openai/fast', 'hi'],
                { env: { COLUMNS: '120' } });
  assert.equal(r.code, 1);
  const rows = r.stdout.split('\n').filter((l) => /^openai\//.test(l));
  assert.equal(rows.length, 3, r.stdout);
  assert.equal(rows.at(-1).split(/\s+/)[0], 'openai/slow~latency=600ms', 'the slow model arrives last');
  const broken = rows.find((l) => l.startsWith('openai/broken~'));
  assert.match(broken, /\serror\s.*overloaded/);
  assert.match(r.stdout, /3 models · 2 ok · 1 failed/);
  // With one call at a time, rows come in -m order.
  const one = run(['compare', '--concurrency', '1', '-m', 'openai/slow~latency=300ms,openai/fast', 'hi']);
  assert.equal(one.code, 0, one.stderr);
  const order = one.stdout.split('\n').filter((l) => /^openai\//.test(l)).map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(order, ['openai/slow~latency=300ms', 'openai/fast']);
});

await test('--stream gives the same answers, TTFT the first token', () => {
  const whole = jsonLines(run(['compare', '--json', '-m', 'openai/gpt-4o-mini,deepseek/deepseek-chat', 'count']));
  const r = run(['compare', '--stream', '--json', '-m',
                 'openai/gpt-4o-mini,deepseek/deepseek-chat~ttft=200ms,tps=200', 'count']);
  assert.equal(r.code, 0, r.stderr);
  const streamed = jsonLines(r);
  assert.equal(streamed[0].text, whole[0].text);
  assert.equal(streamed[1].text, whole[1].text);
  assert.ok(streamed[1].ttft_ms >= 200, `TTFT ${streamed[1].ttft_ms}`);  // the scripted 200 ms
  assert.ok(streamed[1].latency_ms > streamed[1].ttft_ms);
  const table = run(['compare', '--stream', '-m', 'openai/gpt-4o-mini,deepseek/deepseek-chat', 'count']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /deepseek\/deepseek-chat\s+ok/);
});

await test('answers wrap to the terminal width; --full shows all of them', () => {
  const m = 'openai/long~tokens=120';
  const short = run(['compare', '-m', m, 'hi'], { env: { COLUMNS: '90' } });
  assert.equal(short.code, 0, short.stderr);
  const lines = short.stdout.split('\n').filter((l) => l.trim() && !/^MODEL|models ·|model ·/.test(l));
  assert.ok(lines.every((l) => [...l].length <= 90), short.stdout);
  assert.equal(lines.length, 5, 'the row and four lines of answer by default');
  assert.match(lines[4], /…$/);
  const wide = run(['compare', '-m', m, 'hi'], { env: { COLUMNS: '140' } });
  const wlines = wide.stdout.split('\n').filter((l) => l.trim() && !/^MODEL|models ·|model ·/.test(l));
  assert.equal(wlines.length, 4, 'four lines, beside the row on a wide terminal');
  assert.ok(wlines.every((l) => [...l].length <= 140));
  assert.match(wlines[0], /^openai\/long~tokens=120\s+ok\s.*Lorem/);
  const full = run(['compare', '--full', '-m', m, 'hi'], { env: { COLUMNS: '90' } });
  const flines = full.stdout.split('\n').filter((l) => l.trim() && !/^MODEL|models ·|model ·/.test(l));
  assert.ok(flines.length > 5);
  assert.ok(flines.every((l) => [...l].length <= 90));
});

await test('--timeout bounds each call', () => {
  const r = run(['compare', '--json', '--timeout', '300ms', '-m', 'openai/a~latency=10s,openai/b', 'hi']);
  assert.equal(r.code, 1);
  const [a, b] = jsonLines(r);
  assert.equal(a.error.code, 'timeout');
  assert.equal(b.finish_reason, 'stop');
});

await test('bad input gets one clear line and a non-zero exit', () => {
  const cfg = `${os.tmpdir()}/llmux-compare-test-${process.pid}.json`;
  fs.writeFileSync(cfg, JSON.stringify({ providers: { lab: { base_url: 'http://127.0.0.1:9/v1', api_key_env: 'LAB_KEY' } } }));
  try {
    const cases = [
      [['compare', 'hi'], 2, /missing -m/],
      [['compare', '-m', 'openai/x,openai/y'], 2, /missing PROMPT/],
      [['compare', '--frobnicate', '-m', 'openai/x', 'hi'], 2, /frobnicate/],
      [['compare', '--concurrency', '0', '-m', 'openai/x', 'hi'], 2, /--concurrency must be a positive number/],
      [['compare', '--timeout', '10x', '-m', 'openai/x', 'hi'], 2, /--timeout: invalid duration '10x'/],
      [['compare', '-m', 'openai/x,gpt-4o', 'hi'], 2, /invalid model id 'gpt-4o'/],
      [['compare', '-m', 'openai/x,nosuch/model', 'hi'], 1, /unknown provider 'nosuch'/],
      [['compare', '--config', '/nonexistent.json', '-m', 'openai/x', 'hi'], 1, /nonexistent\.json/],
    ];
    for (const [args, code, re] of cases) {
      const r = run(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').filter((l) => !/built-in emulator/.test(l)).length, 1,
        `more than one line for ${args.join(' ')}:\n${r.stderr}`);
    }
    const r = run(['compare', '--config', cfg, '-m', 'openai/gpt-4o-mini,lab/m1', 'hi'],
                  { env: { OPENAI_API_KEY: 'sk-test-secret' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /LAB_KEY/);
    assert.doesNotMatch(r.stderr + r.stdout, /sk-test-secret/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  } finally {
    fs.unlinkSync(cfg);
  }
});

await test('--help for compare', () => {
  const r = run(['compare', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--concurrency', '--timeout', '--json', '--full', '--stream', '--base-url', '--config'])
    assert.ok(r.stdout.includes(flag), flag);
});

await test('--json carries cached, cache-write and reasoning tokens', async () => {
  const fixture = (f) => fs.readFileSync(new URL(`../data/openai/${f}`, import.meta.url), 'utf8');
  const up = await replay({ whole: fixture('cost_o4_mini_response.json'), stream: fixture('cost_o4_mini_stream.sse') });
  try {
    const r = run(['compare', '--json', '--base-url', `${up.url}/v1`, '-m', 'openai/o4-mini,openai/o4-mini-2025-04-16', 'hi'],
                  { env: { OPENAI_API_KEY: 'sk-test' } });
    assert.equal(r.code, 0, r.stderr);
    const objs = jsonLines(r);
    assert.equal(objs.length, 2);
    for (const o of objs) {
      assert.equal(o.usage.cached_input_tokens, 8000);
      assert.equal(o.usage.reasoning_tokens, 2000);
      assert.equal(o.usage.cache_write_tokens, null);
      assert.ok(Math.abs(o.cost_usd - 0.0198) < 1e-12, `${o.model}: ${o.cost_usd}`);  // a dated id too
    }
  } finally {
    await up.stop();
  }
});

done();
