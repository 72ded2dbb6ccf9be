// SPDX-License-Identifier: BSL-1.0
// `llmux chat` as a user runs it.
import fs from 'node:fs';
import http from 'node:http';
import { run, runAsync, json, emulate, replay, test, done, assert } from './harness.mjs';

const fixture = (f) => fs.readFileSync(new URL(`../data/openai/${f}`, import.meta.url), 'utf8');

await test('no keys: answers on the built-in emulator and says so', () => {
  const r = run(['chat', '-m', 'openai/gpt-4o-mini', 'Introduce Python in one sentence']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /built-in emulator/);
  assert.match(r.stdout, /gpt-4o-mini/);
  assert.match(r.stdout, /Introduce Python/);
});

await test('--json has every documented field', () => {
  const o = json(run(['chat', '--json', '-m', 'openai/gpt-4o-mini', 'hello']));
  for (const k of ['model', 'provider', 'text', 'finish_reason', 'tool_calls', 'usage', 'latency_ms', 'ttft_ms'])
    assert.ok(k in o, `missing ${k}`);
  assert.equal(o.model, 'openai/gpt-4o-mini');
  assert.equal(o.provider, 'openai');
  assert.equal(o.finish_reason, 'stop');
  assert.ok(Array.isArray(o.tool_calls));
  assert.equal(o.usage.total_tokens, o.usage.input_tokens + o.usage.output_tokens);
  assert.ok(o.latency_ms > 0 && o.ttft_ms >= 0 && o.ttft_ms <= o.latency_ms);
  assert.ok(!('error' in o));
});

await test('--stream prints the same answer', () => {
  const whole = run(['chat', '-m', 'deepseek/deepseek-chat', 'count']).stdout;
  const streamed = run(['chat', '--stream', '-m', 'deepseek/deepseek-chat', 'count']);
  assert.equal(streamed.code, 0, streamed.stderr);
  assert.equal(streamed.stdout, whole);
  const o = json(run(['chat', '--stream', '--json', '-m', 'deepseek/deepseek-chat', 'count']));
  assert.equal(o.text, whole.trim());
  assert.ok(o.usage.output_tokens > 0);
});

await test('reasoning controls: --effort, --thinking-budget, --show-reasoning', () => {
  // Claude thinks with a budget; its reasoning is printed before the answer, whole or streamed.
  for (const extra of [[], ['--stream']]) {
    const r = run(['chat', ...extra, '--thinking-budget', '2048', '--show-reasoning',
                   '-m', 'anthropic/claude-sonnet-4-5', 'Compare 9.11 and 9.8']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^reasoning: Thinking about: Compare 9\.11 and 9\.8\n\nEmulated answer/);
  }
  const o = json(run(['chat', '--json', '--effort', 'high', '-m', 'anthropic/claude-sonnet-4-5', 'hi']));
  assert.match(o.reasoning, /Thinking about/);
  // A control the model cannot honour is refused by name, before anything is sent.
  const bad = run(['chat', '--effort', 'high', '-m', 'openai/gpt-4o-mini', 'hi']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /does not reason/);
  const typo = run(['chat', '--effort', 'extreme', '-m', 'openai/gpt-5', 'hi']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /--effort is one of none, minimal/);
});

await test('a provider error is reported with code and status, exit 1', () => {
  const r = run(['chat', '--json', '-m', 'openai/gpt-4o-mini~error=429,retry_after=2s', 'hi']);
  assert.equal(r.code, 1);
  const o = json(r);
  assert.equal(o.finish_reason, 'error');
  assert.equal(o.error.code, 'rate_limited');
  assert.equal(o.error.status, 429);
  assert.match(o.error.message, /429/);
  assert.equal(o.usage.total_tokens, null);
  assert.match(r.stderr, /rate_limited/);
});

await test('a truncated stream is an error, not a short answer', () => {
  const r = run(['chat', '--stream', '--json', '-m', 'openai/m~fault=truncate,after=3', 'hi']);
  assert.equal(r.code, 1);
  assert.equal(json(r).error.code, 'truncated');
});

await test('--timeout bounds the call', () => {
  const r = run(['chat', '--json', '--timeout', '300ms', '-m', 'openai/m~latency=10s', 'hi']);
  assert.equal(r.code, 1);
  assert.equal(json(r).error.code, 'timeout');
});

await test('bad input gets one clear line and a non-zero exit', () => {
  const cases = [
    [['chat', 'hi'], 2, /missing -m MODEL/],
    [['chat', '-m', 'openai/x'], 2, /missing PROMPT/],
    [['chat', '--frobnicate', '-m', 'openai/x', 'hi'], 2, /frobnicate/],
    [['chat', '--timeout', '10x', '-m', 'openai/x', 'hi'], 1, /invalid duration '10x'/],
    [['chat', '-m', 'gpt-4o', 'hi'], 2, /invalid model id 'gpt-4o'/],
    [['chat', '-m', 'nosuch/model', 'hi'], 1, /unknown provider 'nosuch'/],
    [['chat', '--config', '/nonexistent.json', '-m', 'openai/x', 'hi'], 1, /nonexistent\.json/],
    [['nosuchcommand'], 2, /unknown command/],
  ];
  for (const [args, code, re] of cases) {
    const r = run(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').filter((l) => !/built-in emulator/.test(l)).length, 1,
      `more than one line for ${args.join(' ')}:\n${r.stderr}`);
  }
});

await test('a missing key names its variable (when other keys are set)', () => {
  const r = run(['chat', '-m', 'groq/llama-3.3-70b', 'hi'], { env: { OPENAI_API_KEY: 'sk-test' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /GROQ_API_KEY/);
  assert.doesNotMatch(r.stderr, /sk-test/);
});

await test('--help for chat', () => {
  const r = run(['chat', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--base-url/);
  assert.match(r.stdout, /--json/);
});

await test('--base-url points a provider (known or not) at another server', async () => {
  const emu = await emulate(['--no-auth']);
  try {
    const known = json(run(['chat', '--json', '--base-url', `${emu.url}/v1`, '-m', 'openai/gpt-4o-mini', 'hi']));
    assert.equal(known.finish_reason, 'stop');
    const custom = json(run(['chat', '--json', '--base-url', `${emu.url}/v1`, '-m', 'mylab/llama', 'hi']));
    assert.equal(custom.provider, 'mylab');
    assert.match(custom.text, /llama/);
  } finally {
    assert.equal(await emu.stop(), 0, 'the emulator exits 0 on SIGTERM');
  }
});

await test('a config file adds a provider', async () => {
  const emu = await emulate();
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = `${os.tmpdir()}/llmux-cli-test-${process.pid}.json`;
  fs.writeFileSync(path, JSON.stringify({ providers: { lab: { base_url: `${emu.url}/v1`, api_key_env: 'LAB_KEY' } } }));
  try {
    const r = run(['chat', '--json', '--config', path, '-m', 'lab/m1', 'hi'], { env: { LAB_KEY: 'k' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r).provider, 'lab');
  } finally {
    fs.unlinkSync(path);
    await emu.stop();
  }
});

await test('--fallback reports every attempt and the cost', () => {
  const r = run(['chat', '--json', '-m', 'openai/gpt-4o~error=503', '--fallback',
                 'anthropic/claude-sonnet-4.6,google/gemini-2.0-flash', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  const o = json(r);
  assert.equal(o.model, 'anthropic/claude-sonnet-4.6');
  assert.equal(o.attempts.length, 2);
  assert.equal(o.attempts[0].model, 'openai/gpt-4o~error=503');
  assert.equal(o.attempts[0].error.code, 'overloaded');
  assert.equal(o.attempts[0].error.status, 503);
  assert.equal(o.attempts[1].error, null);
  assert.ok(o.cost_usd > 0, 'a catalog model has a cost');
});

await test('--per-attempt cuts a stalled model and moves on', () => {
  const o = json(run(['chat', '--json', '-m', 'openai/a~latency=10s', '--fallback', 'deepseek/deepseek-chat',
                      '--per-attempt', '200ms', 'hi']));
  assert.equal(o.model, 'deepseek/deepseek-chat');
  assert.equal(o.attempts[0].error.code, 'timeout');
  assert.ok(o.attempts[0].latency_ms >= 200);
});

await test('--deadline ends the whole fallback', () => {
  const r = run(['chat', '--json', '-m', 'openai/a~latency=10s', '--fallback', 'openai/b~latency=10s',
                 '--per-attempt', '300ms', '--deadline', '500ms', 'hi']);
  assert.equal(r.code, 1);
  const o = json(r);
  assert.equal(o.error.code, 'all_attempts_failed');
  assert.ok(o.attempts.length >= 2);
  assert.ok(o.attempts.every((a) => a.error && a.error.code === 'timeout'));
});

await test('--json shows cached, cache-write and reasoning tokens, and the cost they make', async () => {
  // A recorded o4-mini answer with 8,000 of 12,000 prompt tokens from the cache and 2,000 of
  // 3,000 output tokens spent reasoning: $1.10 / $0.275 / $4.40 per million.
  const up = await replay({ whole: fixture('cost_o4_mini_response.json'), stream: fixture('cost_o4_mini_stream.sse') });
  try {
    for (const extra of [[], ['--stream']]) {
      const r = run(['chat', '--json', ...extra, '--base-url', `${up.url}/v1`, '-m', 'openai/o4-mini', 'hi'],
                    { env: { OPENAI_API_KEY: 'sk-test' } });
      assert.equal(r.code, 0, r.stderr);
      const o = json(r);
      assert.deepEqual(o.usage, { input_tokens: 12000, output_tokens: 3000, total_tokens: 15000,
                                  cached_input_tokens: 8000, cache_write_tokens: null,
                                  reasoning_tokens: 2000, reported_cost_usd: null }, extra.join(' '));
      assert.ok(Math.abs(o.cost_usd - (4000 * 1.1 + 8000 * 0.275 + 3000 * 4.4) / 1e6) < 1e-12, `${o.cost_usd}`);
    }
  } finally {
    await up.stop();
  }
  // OpenRouter reports the cost itself: shown, and used.
  const or = await replay({ whole: fixture('cost_openrouter_response.json'), stream: fixture('cost_openrouter_stream.sse') });
  try {
    const o = json(run(['chat', '--json', '--base-url', `${or.url}/api/v1`, '-m', 'openrouter/qwen/qwen-2.5-72b-instruct', 'hi'],
                       { env: { OPENROUTER_API_KEY: 'sk-or-test' } }));
    assert.equal(o.usage.reported_cost_usd, 0.000435);
    assert.equal(o.cost_usd, 0.000435);
  } finally {
    await or.stop();
  }
});

await test('--route picks by catalog price and quality', () => {
  const cheap = json(run(['chat', '--json', '--route', 'cheapest', '-m', 'openai/gpt-4o',
                          '--fallback', 'openai/gpt-4o-mini,google/gemini-2.0-flash', 'hi']));
  assert.equal(cheap.model, 'google/gemini-2.0-flash');
  const best = json(run(['chat', '--json', '--route', 'best', '-m', 'openai/gpt-4o-mini',
                         '--fallback', 'openai/gpt-4o', 'hi']));
  assert.equal(best.model, 'openai/gpt-4o');
  const any = json(run(['chat', '--json', '--route', 'cheapest', 'hi']));
  assert.equal(any.finish_reason, 'stop');
  assert.equal(any.cost_usd, 0, 'the cheapest catalog model is a free local one');
});

await test('--hedge answers from the faster model', () => {
  const o = json(run(['chat', '--json', '-m', 'openai/slow~latency=5s', '--fallback', 'openai/fast',
                      '--hedge', '100ms', 'hi']));
  assert.equal(o.model, 'openai/fast');
  assert.equal(o.attempts[0].error.code, 'cancelled');
  assert.ok(o.latency_ms >= 100);
});

await test('resilience flags reject bad values with one line', () => {
  for (const [args, re] of [
    [['--route', 'quickest'], /unknown strategy 'quickest'/],
    [['--per-attempt', 'soon'], /--per-attempt: invalid duration 'soon'/],
    [['--hedge', '10ms'], /--hedge needs a second model/],
  ]) {
    const r = run(['chat', '-m', 'openai/x', ...args, 'hi']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
  }
});

await test('every provider of the mission answers through the emulator', () => {
  for (const m of ['anthropic/claude-sonnet-4.6', 'google/gemini-2.0-flash', 'vertex/gemini-2.0-flash',
                   'vertex/claude-sonnet-4.6', 'bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0',
                   'openrouter/anthropic/claude-sonnet-4.6', 'azure/my-deployment', 'zenmux/gpt-4.1-mini']) {
    for (const extra of [[], ['--stream']]) {
      const r = run(['chat', '--json', ...extra, '-m', m, 'hello']);
      assert.equal(r.code, 0, `${m} ${extra}: ${r.stderr}`);
      const o = json(r);
      assert.equal(o.model, m);
      assert.equal(o.finish_reason, 'stop');
      assert.ok(o.usage.input_tokens > 0 && o.usage.output_tokens > 0, `${m}: usage ${JSON.stringify(o.usage)}`);
    }
  }
});

await test('a key that an upstream echoes back is never printed', async () => {
  const secret = 'sk-echoed-by-upstream-0123456789';
  // An upstream that puts the caller's key into its request id and its error message.
  const server = http.createServer((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-request-id', `req-${token}`);
      if (body.includes('fail')) {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: { message: `bad key ${token}`, type: `t-${token}`, code: token } }));
      } else {
        res.end(JSON.stringify({ id: `chatcmpl-${token}`, object: 'chat.completion', model: 'gpt-4o-mini',
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}/v1`;
  try {
    for (const prompt of ['hello', 'fail']) {
      for (const extra of [['--json'], []]) {
        const r = await runAsync(['chat', ...extra, '--base-url', base, '-m', 'openai/gpt-4o-mini', prompt],
                                 { env: { OPENAI_API_KEY: secret } });
        assert.equal(r.code, prompt === 'fail' ? 1 : 0, r.stderr);
        assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${r.stdout}\n${r.stderr}`);
        if (prompt === 'fail') assert.match(r.stdout + r.stderr, /\[redacted\]/);
      }
    }
  } finally {
    server.close();
  }
});

await test('a key with a line break is refused, naming the variable and not the value', () => {
  const r = run(['chat', '-m', 'openai/gpt-4o-mini', '--base-url', 'http://127.0.0.1:9/v1', 'hi'],
                { env: { OPENAI_API_KEY: 'sk-pasted-with-a-newline\r\nX-Injected: 1' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /OPENAI_API_KEY/);
  assert.match(r.stderr, /line break/);
  assert.ok(!r.stderr.includes('sk-pasted'), r.stderr);
});

done();
