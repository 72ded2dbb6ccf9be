// SPDX-License-Identifier: BSL-1.0
// The official OpenAI and Anthropic Node SDKs as real clients of `llmux serve`, whose upstreams
// are the built-in emulator speaking each provider's wire format (OpenAI, Anthropic, Gemini,
// Bedrock). Checks: whole answers and streams through both endpoints from every upstream
// format, a tool call round trip, fallback after an injected upstream 503, an upstream stall cut
// by the per-attempt timeout, a bad gateway key, and a client that disconnects mid-stream (the
// upstream connection must be closed at once, long before the slow upstream stream would have
// finished).
// Run by run_gateway_sdks.sh, which writes the configuration, starts the gateway and sets
// LLMUX_GATEWAY_URL and LLMUX_GATEWAY_KEY.
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_GATEWAY_URL;
const key = process.env.LLMUX_GATEWAY_KEY;
if (!base || !key) {
    console.error('LLMUX_GATEWAY_URL / LLMUX_GATEWAY_KEY are not set (run run_gateway_sdks.sh)');
    process.exit(2);
}
const openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0, timeout: 20_000 });
const anthropic = new Anthropic({ apiKey: key, baseURL: base, maxRetries: 0, timeout: 20_000 });
const prompt = 'Introduce Python in one sentence';
const messages = [{ role: 'user', content: prompt }];
const answer = (upstreamModel) => `Emulated answer from ${upstreamModel} to: ${prompt}`;

// Public model name -> the upstream model the emulator names in its answer.
const upstreams = {
    gpt: 'gpt-4o-mini',
    claude: 'claude-sonnet-4.6',
    gemini: 'gemini-2.0-flash',
    nova: 'amazon.nova-lite-v1:0',
    pro: 'gpt-5-pro',  // the Responses API upstream (openai's Responses-only models)
};

const weatherTool = {
    type: 'function',
    function: {
        name: 'get_weather',
        description: 'Current weather in a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
};

let failures = 0;
async function check(name, fn) {
    try {
        await fn();
        console.log(`ok   ${name}`);
    } catch (e) {
        failures++;
        console.error(`FAIL ${name}: ${e?.stack ?? e}`);
    }
}

/// The gateway's Prometheus text as { 'name{labels}': value }.
async function metrics() {
    const r = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200);
    const out = {};
    for (const line of (await r.text()).split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const i = line.lastIndexOf(' ');
        out[line.slice(0, i)] = Number(line.slice(i + 1));
    }
    return out;
}
/// Sum of every sample of a metric (all label sets).
function total(m, name) {
    let sum = 0, seen = false;
    for (const [k, v] of Object.entries(m)) {
        if (k === name || k.startsWith(`${name}{`)) { sum += v; seen = true; }
    }
    assert.ok(seen, `metric ${name} is missing`);
    return sum;
}

for (const [model, upstream] of Object.entries(upstreams)) {
    await check(`openai SDK, whole answer from ${model} (${upstream})`, async () => {
        const r = await openai.chat.completions.create({ model, messages });
        assert.equal(r.object, 'chat.completion');
        assert.equal(r.model, model);
        assert.equal(r.choices[0].message.role, 'assistant');
        assert.equal(r.choices[0].message.content, answer(upstream));
        assert.equal(r.choices[0].finish_reason, 'stop');
        assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
        assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    });
    await check(`openai SDK, stream from ${model}`, async () => {
        const s = await openai.chat.completions.create({
            model, messages, stream: true, stream_options: { include_usage: true },
        });
        let text = '', finish = null, usage = null, chunks = 0;
        for await (const c of s) {
            chunks++;
            assert.equal(c.object, 'chat.completion.chunk');
            if (c.choices.length) {
                text += c.choices[0].delta?.content ?? '';
                finish = c.choices[0].finish_reason ?? finish;
            }
            if (c.usage) usage = c.usage;
        }
        assert.equal(text, answer(upstream));
        assert.equal(finish, 'stop');
        assert.ok(chunks > 2);
        assert.ok(usage && usage.completion_tokens > 0);
    });
    await check(`anthropic SDK, whole answer and stream from ${model}`, async () => {
        const r = await anthropic.messages.create({ model, max_tokens: 256, messages });
        assert.equal(r.type, 'message');
        assert.equal(r.role, 'assistant');
        assert.equal(r.content[0].type, 'text');
        assert.equal(r.content[0].text, answer(upstream));
        assert.equal(r.stop_reason, 'end_turn');
        assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
        const deltas = [];
        const final = await anthropic.messages
            .stream({ model, max_tokens: 256, messages })
            .on('text', (d) => deltas.push(d))
            .finalMessage();
        assert.equal(deltas.join(''), answer(upstream));
        assert.equal(final.content[0].text, answer(upstream));
        assert.equal(final.stop_reason, 'end_turn');
    });
}

for (const model of Object.keys(upstreams)) {
    await check(`openai SDK, an upstream 429 from ${model} is a RateLimitError with retry-after`, async () => {
        await assert.rejects(openai.chat.completions.create({ model: `${model}-limited`, messages }), (e) => {
            assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e}`);
            assert.equal(e.status, 429);
            assert.equal(e.headers.get('retry-after'), '3');
            return true;
        });
    });
}

for (const model of Object.keys(upstreams)) await check(`openai SDK, tool call round trip through ${model}`, async () => {
    const first = await openai.chat.completions.create({
        model, messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [weatherTool],
    });
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    const call = first.choices[0].message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
    const second = await openai.chat.completions.create({
        model,
        tools: [weatherTool],
        messages: [
            { role: 'user', content: 'Weather in Oslo?' },
            first.choices[0].message,
            { role: 'tool', tool_call_id: call.id, content: '{"temp_c":4}' },
        ],
    });
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.match(second.choices[0].message.content, /temp_c/);
});

await check('openai SDK, streamed tool call assembled by the stream() helper (Gemini upstream)', async () => {
    const final = await openai.chat.completions.stream({
        model: 'gemini', messages: [{ role: 'user', content: 'Weather?' }], tools: [weatherTool],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
    }).finalChatCompletion();
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    const call = final.choices[0].message.tool_calls[0];
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
});

await check('anthropic SDK, tool use from an OpenAI upstream', async () => {
    const r = await anthropic.messages.create({
        model: 'gpt', max_tokens: 256, messages: [{ role: 'user', content: 'Weather in Oslo?' }],
        tools: [{ name: 'get_weather', description: 'Current weather in a city',
                  input_schema: weatherTool.function.parameters }],
    });
    assert.equal(r.stop_reason, 'tool_use');
    const use = r.content.find((b) => b.type === 'tool_use');
    assert.equal(use.name, 'get_weather');
    assert.equal(typeof use.input.city, 'string');
});

await check('fallback after an injected upstream 503', async () => {
    const before = await metrics();
    const r = await openai.chat.completions.create({ model: 'resilient', messages });
    assert.equal(r.model, 'resilient');
    assert.equal(r.choices[0].message.content, answer('claude-sonnet-4.6'));
    const s = anthropic.messages.stream({ model: 'resilient', max_tokens: 256, messages });
    assert.equal((await s.finalMessage()).content[0].text, answer('claude-sonnet-4.6'));
    const after = await metrics();
    // Two requests, each with a failed first attempt.
    assert.ok(total(after, 'llmux_gateway_attempts_total') - total(before, 'llmux_gateway_attempts_total') >= 4);
    assert.ok(total(after, 'llmux_gateway_fallbacks_total') - total(before, 'llmux_gateway_fallbacks_total') >= 2);
});

await check('an upstream stall is cut by the per-attempt timeout, then the next deployment answers', async () => {
    const r = await openai.chat.completions.create({ model: 'stalling', messages });
    assert.equal(r.choices[0].message.content, answer('gemini-2.0-flash'));
    let text = '';
    for await (const c of await openai.chat.completions.create({ model: 'stalling', messages, stream: true }))
        text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, answer('gemini-2.0-flash'));
});

await check('a bad or missing gateway key gets a 401 in each SDK\'s error class', async () => {
    const bad = new OpenAI({ apiKey: 'sk-not-a-gateway-key', baseURL: `${base}/v1`, maxRetries: 0 });
    try {
        await bad.chat.completions.create({ model: 'gpt', messages });
        assert.fail('accepted a bad key');
    } catch (e) {
        assert.ok(e instanceof OpenAI.AuthenticationError, `got ${e}`);
        assert.equal(e.status, 401);
        assert.equal(e.error?.type, 'invalid_request_error');
        assert.doesNotMatch(e.message, /sk-not-a-gateway-key/);
    }
    const badA = new Anthropic({ apiKey: 'sk-ant-wrong', baseURL: base, maxRetries: 0 });
    try {
        await badA.messages.create({ model: 'gpt', max_tokens: 16, messages });
        assert.fail('accepted a bad key');
    } catch (e) {
        assert.ok(e instanceof Anthropic.AuthenticationError, `got ${e}`);
        assert.equal(e.status, 401);
    }
    const r = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt', messages }),
    });
    assert.equal(r.status, 401);
    const body = await r.json();
    assert.equal(typeof body.error.message, 'string');
});

await check('an unknown model is a 404 naming it, in OpenAI\'s error shape', async () => {
    try {
        await openai.chat.completions.create({ model: 'no-such-model', messages });
        assert.fail('accepted an unknown model');
    } catch (e) {
        assert.ok(e instanceof OpenAI.APIError, `got ${e}`);
        assert.ok(e.status === 404 || e.status === 400, `status ${e.status}`);
        assert.match(e.message, /no-such-model/);
    }
});

await check('models list', async () => {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    for (const name of ['gpt', 'claude', 'gemini', 'nova', 'resilient', 'stalling', 'slow'])
        assert.ok(ids.includes(name), `${name} missing from ${ids}`);
});

await check('a client that disconnects mid-stream cancels the upstream call at once', async () => {
    // `slow` streams 300 tokens at 5 per second: a minute, unless the gateway cancels it.
    const controller = new AbortController();
    const s = await openai.chat.completions.create(
        { model: 'slow', messages, stream: true }, { signal: controller.signal });
    let chunks = 0, during = null;
    try {
        for await (const c of s) {
            if (c.choices[0]?.delta?.content && ++chunks === 3) {
                during = await metrics();
                controller.abort();
            }
        }
    } catch (e) {
        assert.ok(e.name === 'APIUserAbortError' || e.name === 'AbortError', `got ${e}`);
    }
    assert.equal(chunks, 3);
    assert.equal(total(during, 'llmux_gateway_in_flight'), 1);
    const open = total(during, 'llmux_upstream_connections_open');
    assert.ok(open >= 1);
    // The upstream connection of the stream is closed, not returned to the pool nor left
    // reading: a gateway that kept the upstream call going would hold it for the rest of the
    // minute.
    const deadline = Date.now() + 15_000;
    let m;
    for (;;) {
        m = await metrics();
        if (total(m, 'llmux_gateway_in_flight') === 0 &&
            total(m, 'llmux_upstream_connections_open') === open - 1) break;
        assert.ok(Date.now() < deadline, `upstream not cancelled: ${JSON.stringify(m)}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(total(m, 'llmux_gateway_client_disconnects_total') >= 1);
});

if (failures) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
}
console.log('all gateway SDK checks passed');
