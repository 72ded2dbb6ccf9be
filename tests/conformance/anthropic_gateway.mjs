// SPDX-License-Identifier: BSL-1.0
// The official Anthropic Node SDK as a client of `llmux serve`'s Anthropic endpoints, whose
// upstreams are the built-in emulator speaking OpenAI's, Gemini's and Bedrock's wire formats
// (and Anthropic's, for the fields only it takes). What gateway_sdks.mjs already checks (whole
// answers and the .stream() helper from every upstream, tool use from an OpenAI upstream, a bad
// key) is not repeated. Checks: the raw `stream: true` events, a tool round trip (tool_use, then
// tool_result, streamed too), messages.countTokens, a missing key, upstream 429 and 503 as the
// SDK's RateLimitError and OverloadedError, thinking and cache breakpoints, the fields only an Anthropic upstream takes
// (BadRequestError naming the field otherwise), and models.list. Any warning the SDK logs fails
// the run.
// Run by run_anthropic_gateway.sh, which writes the configuration, starts the gateway and sets
// LLMUX_GATEWAY_URL and LLMUX_GATEWAY_KEY.
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_GATEWAY_URL;
const key = process.env.LLMUX_GATEWAY_KEY;
if (!base || !key) {
    console.error('LLMUX_GATEWAY_URL / LLMUX_GATEWAY_KEY are not set (run run_anthropic_gateway.sh)');
    process.exit(2);
}
const complaints = [];
const logger = {
    error: (...a) => complaints.push(['error', ...a]),
    warn: (...a) => complaints.push(['warn', ...a]),
    info: () => {},
    debug: () => {},
};
const options = { baseURL: base, maxRetries: 0, timeout: 20_000, logger, logLevel: 'warn' };
const client = new Anthropic({ apiKey: key, ...options });
const prompt = 'Introduce Python in one sentence';
const messages = [{ role: 'user', content: prompt }];

// Public model name -> the upstream model the emulator names in its answer.
const upstreams = {
    gpt: 'gpt-4o-mini',
    gemini: 'gemini-2.0-flash',
    nova: 'amazon.nova-lite-v1:0',
    claude: 'claude-sonnet-4.6',
    pro: 'gpt-5-pro',  // the Responses API upstream (openai's Responses-only models)
};
const answer = (m) => `Emulated answer from ${m} to: ${prompt}`;
const weatherTool = {
    name: 'get_weather',
    description: 'Current weather in a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
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

/// Runs `call`, which must fail with `cls`; returns the error.
async function fails(call, cls) {
    try {
        await call();
    } catch (e) {
        assert.ok(e instanceof cls, `expected ${cls.name}, got ${e?.constructor?.name}: ${e}`);
        return e;
    }
    assert.fail(`expected ${cls.name}, but the call succeeded`);
}

for (const [model, upstream] of Object.entries(upstreams)) {
    await check(`stream: true events from ${model} (${upstream})`, async () => {
        const stream = await client.messages.create({ model, max_tokens: 256, messages, stream: true });
        const types = [];
        let text = '', start = null, delta = null;
        for await (const ev of stream) {
            if (types.at(-1) !== ev.type) types.push(ev.type);
            if (ev.type === 'message_start') start = ev.message;
            if (ev.type === 'content_block_delta') {
                assert.equal(ev.index, 0);
                assert.equal(ev.delta.type, 'text_delta');
                text += ev.delta.text;
            }
            if (ev.type === 'message_delta') delta = ev;
        }
        assert.deepEqual(types, ['message_start', 'content_block_start', 'content_block_delta',
            'content_block_stop', 'message_delta', 'message_stop']);
        assert.equal(text, answer(upstream));
        assert.match(start.id, /^msg_/);
        assert.equal(start.model, model);
        assert.deepEqual(start.content, []);
        assert.equal(delta.delta.stop_reason, 'end_turn');
        assert.ok(delta.usage.output_tokens > 0);
        assert.ok(delta.usage.input_tokens > 0);  // known at the end: message_delta says it
    });

    await check(`tool round trip through ${model}`, async () => {
        const ask = [{ role: 'user', content: 'Weather in Oslo?' }];
        const first = await client.messages.create({ model, max_tokens: 256, messages: ask, tools: [weatherTool] });
        assert.equal(first.stop_reason, 'tool_use');
        const call = first.content.find((b) => b.type === 'tool_use');
        assert.ok(call, JSON.stringify(first.content));
        assert.equal(call.name, 'get_weather');
        assert.equal(typeof call.input.city, 'string');
        assert.ok(call.id.length > 0);

        // Streamed: the input arrives as input_json_delta pieces.
        let json = '';
        const s = client.messages.stream({ model, max_tokens: 256, messages: ask, tools: [weatherTool],
                                           tool_choice: { type: 'tool', name: 'get_weather' } });
        s.on('inputJson', (partial) => { json += partial; });
        const final = await s.finalMessage();
        assert.equal(final.stop_reason, 'tool_use');
        const streamed = final.content.find((b) => b.type === 'tool_use');
        assert.deepEqual(streamed.input, call.input);
        assert.deepEqual(JSON.parse(json), call.input);

        const second = await client.messages.create({
            model, max_tokens: 256, tools: [weatherTool],
            messages: [...ask, { role: 'assistant', content: first.content },
                       { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '4 degrees' }] }],
        });
        assert.equal(second.stop_reason, 'end_turn');
        assert.equal(second.content[0].type, 'text');
        assert.ok(second.content[0].text.includes('4 degrees'), second.content[0].text);
    });

    await check(`upstream 429 and 503 from ${model} are RateLimitError and OverloadedError`, async () => {
        const limited = await fails(() => client.messages.create({
            model: `${model}-limited`, max_tokens: 64, messages }), Anthropic.RateLimitError);
        assert.equal(limited.status, 429);
        assert.equal(limited.type, 'rate_limit_error');
        assert.equal(limited.headers.get('retry-after'), '2');
        assert.match(limited.requestID ?? '', /^req_/);
        const busy = await fails(() => client.messages.create({
            model: `${model}-busy`, max_tokens: 64, messages }), Anthropic.OverloadedError);
        assert.equal(busy.status, 529);
        assert.equal(busy.type, 'overloaded_error');
        // A stream fails before its first event the same way.
        await fails(() => client.messages.stream({ model: `${model}-busy`, max_tokens: 64, messages }).finalMessage(),
                    Anthropic.OverloadedError);
    });
}

await check('messages.countTokens: the gateway\'s estimate', async () => {
    const small = await client.messages.countTokens({ model: 'gpt', messages });
    assert.ok(Number.isInteger(small.input_tokens) && small.input_tokens > 0, JSON.stringify(small));
    const big = await client.messages.countTokens({
        model: 'gemini', system: 'Be brief.', tools: [weatherTool],
        messages: [{ role: 'user', content: prompt.repeat(50) }],
    });
    assert.ok(big.input_tokens > small.input_tokens * 10, `${big.input_tokens} vs ${small.input_tokens}`);
    await fails(() => client.messages.countTokens({ model: 'no-such-model', messages }), Anthropic.NotFoundError);
});

await check('a missing gateway key is an AuthenticationError', async () => {
    // null removes the SDK's own auth header (as anthropic_sdk.mjs does).
    const anonymous = new Anthropic({ apiKey: 'unused', ...options, defaultHeaders: { Authorization: null } });
    const e = await fails(() => anonymous.messages.create({ model: 'gpt', max_tokens: 16, messages }),
                          Anthropic.AuthenticationError);
    assert.equal(e.status, 401);
    assert.equal(e.type, 'authentication_error');
    assert.match(e.message, /x-api-key/);
    // Claude Code's ANTHROPIC_AUTH_TOKEN (a bearer token) is a gateway key too.
    const bearer = new Anthropic({ apiKey: null, authToken: key, ...options });
    const r = await bearer.messages.create({ model: 'gpt', max_tokens: 64, messages });
    assert.equal(r.content[0].text, answer('gpt-4o-mini'));
});

await check('fields only an Anthropic upstream takes: passed to it, a BadRequestError naming them otherwise', async () => {
    const extra = { top_k: 5, thinking: { type: 'enabled', budget_tokens: 1024 } };
    const r = await client.messages.create({ model: 'claude', max_tokens: 2048, messages, ...extra });
    // Thinking is a unified control: Claude thinks first, with a signature.
    assert.equal(r.content[0].type, 'thinking');
    assert.ok(r.content[0].signature.length > 0);
    assert.equal(r.content.find((b) => b.type === 'text').text, answer('claude-sonnet-4.6'));
    for (const model of Object.keys(upstreams).filter((m) => m !== 'claude')) {
        const e = await fails(() => client.messages.create({ model, max_tokens: 2048, messages, ...extra }),
                              Anthropic.BadRequestError);
        assert.equal(e.type, 'invalid_request_error');
        assert.match(e.message, /'top_k'/);
    }
    // A prompt marked for caching, as Claude Code marks its own: a unified breakpoint. Claude's
    // cache writes it, then reads it; an OpenAI upstream caches by itself.
    const cached = [{ role: 'user', content: [{ type: 'text', text: prompt, cache_control: { type: 'ephemeral' } }] }];
    const c = await client.messages.create({ model: 'claude', max_tokens: 256, messages: cached });
    assert.equal(c.content[0].text, answer('claude-sonnet-4.6'));
    const again = await client.messages.create({ model: 'claude', max_tokens: 256, messages: cached });
    assert.ok(again.usage.cache_read_input_tokens > 0, JSON.stringify(again.usage));
    const g = await client.messages.create({ model: 'gpt', max_tokens: 256, messages: cached });
    assert.equal(g.content[0].text, answer('gpt-4o-mini'));
});

await check('models.list (answered in OpenAI\'s list shape: ids only)', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    for (const name of ['gpt', 'gemini', 'nova', 'claude'])
        assert.ok(ids.includes(name), `${name} missing from ${ids}`);
});

if (complaints.length) {
    failures++;
    console.error(`FAIL the SDK complained ${complaints.length} time(s):`);
    for (const c of complaints) console.error('   ', ...c);
}
if (failures) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
}
console.log('ANTHROPIC SDK THROUGH THE GATEWAY OK');
