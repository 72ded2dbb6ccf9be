// SPDX-License-Identifier: BSL-1.0
// The official Anthropic Node SDK as a real client of `llmux emulate`: messages, streams (raw
// `stream: true` events and the .stream() helper's finalMessage()), a tool-use round trip, and
// errors that must surface as the SDK's own error classes (529 as OverloadedError, a missing key
// as AuthenticationError, an error event mid-stream). Any warning or error the SDK logs fails
// the run too. Exits non-zero on any failure.
// Run by run_anthropic_sdk.sh, which starts the emulator and sets LLMUX_EMULATOR_URL.
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_EMULATOR_URL;
if (!base) {
    process.stderr.write('LLMUX_EMULATOR_URL is not set (run this through run_anthropic_sdk.sh)\n');
    process.exit(2);
}

// Everything the SDK says at warn level or above is a complaint: through its logger, or
// straight to the console (as its deprecated-model warning does), or as a process warning.
const complaints = [];
const say = (...a) => process.stderr.write(a.join(' ') + '\n');
console.warn = (...a) => complaints.push(['console.warn', ...a]);
console.error = (...a) => complaints.push(['console.error', ...a]);
process.on('warning', (w) => complaints.push(['process warning', String(w)]));
const logger = {
    error: (...a) => complaints.push(['error', ...a]),
    warn: (...a) => complaints.push(['warn', ...a]),
    info: () => {},
    debug: () => {},
};
const options = { baseURL: base, maxRetries: 0, timeout: 15_000, logger, logLevel: 'warn' };
// The SDK appends /v1/messages itself: the base URL has no /v1.
const client = new Anthropic({ apiKey: 'sk-ant-emulator', ...options });

const model = 'claude-sonnet-4-6';
const prompt = 'Introduce Python in one sentence';
const messages = [{ role: 'user', content: prompt }];
const expected = `Emulated answer from ${model} to: ${prompt}`;
const req = { model, max_tokens: 256, messages };

const weatherTool = {
    name: 'get_weather',
    description: 'Current weather in a city',
    input_schema: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' } },
        required: ['city'],
    },
};

let failures = 0;
async function check(name, fn) {
    try {
        await fn();
        console.log(`ok   ${name}`);
    } catch (e) {
        failures++;
        say(`FAIL ${name}: ${e?.stack ?? e}`);
    }
}

await check('messages.create', async () => {
    const m = await client.messages.create(req);
    assert.equal(m.type, 'message');
    assert.match(m.id, /^msg_emu_\d+$/);
    assert.equal(m.role, 'assistant');
    assert.equal(m.model, model);
    assert.match(m._request_id, /^req_emu_\d+$/);
    assert.equal(m.content.length, 1);
    assert.equal(m.content[0].type, 'text');
    assert.equal(m.content[0].text, expected);
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.stop_sequence, null);
    assert.equal(m.usage.input_tokens, 8);
    assert.equal(m.usage.output_tokens, 10);
    assert.equal(m.usage.cache_creation_input_tokens, 0);
    assert.equal(m.usage.cache_read_input_tokens, 0);
});

await check('x-api-key authentication (the real API\'s own scheme)', async () => {
    const keyed = new Anthropic({
        apiKey: 'unused', ...options, defaultHeaders: { Authorization: null, 'x-api-key': 'sk-ant-emulator' },
    });
    const m = await keyed.messages.create(req);
    assert.equal(m.content[0].text, expected);
});

await check('system prompt (string and text blocks), directives, max_tokens', async () => {
    const s = await client.messages.create({ ...req, system: 'Be terse.' });
    assert.equal(s.content[0].text, expected);
    assert.ok(s.usage.input_tokens > 8);
    const b = await client.messages.create({ ...req, system: [{ type: 'text', text: 'Be terse.' }] });
    assert.equal(b.usage.input_tokens, s.usage.input_tokens);
    const cut = await client.messages.create({ ...req, model: `${model}~tokens=30`, max_tokens: 4 });
    assert.equal(cut.model, model);
    assert.equal(cut.content[0].text, 'Lorem ipsum dolor sit');
    assert.equal(cut.stop_reason, 'max_tokens');
    assert.equal(cut.usage.output_tokens, 4);
});

await check('an image block', async () => {
    const m = await client.messages.create({
        ...req,
        messages: [{
            role: 'user',
            content: [
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgoAAAANSUhEUg==' } },
                { type: 'text', text: 'What is this?' },
            ],
        }],
    });
    assert.equal(m.content[0].text, `Emulated answer from ${model} to: What is this?`);
});

await check('stream: true events', async () => {
    const stream = await client.messages.create({ ...req, stream: true });
    const types = [];
    let text = '';
    let deltas = 0;
    let start = null;
    let delta = null;
    for await (const ev of stream) {
        if (types.at(-1) !== ev.type) types.push(ev.type);
        if (ev.type === 'message_start') start = ev.message;
        if (ev.type === 'content_block_delta') {
            assert.equal(ev.index, 0);
            assert.equal(ev.delta.type, 'text_delta');
            text += ev.delta.text;
            deltas++;
        }
        if (ev.type === 'message_delta') delta = ev;
    }
    assert.deepEqual(types, ['message_start', 'content_block_start', 'content_block_delta',
        'content_block_stop', 'message_delta', 'message_stop']);
    assert.equal(text, expected);
    assert.equal(deltas, 10);
    assert.match(start.id, /^msg_emu_\d+$/);
    assert.deepEqual(start.content, []);
    assert.equal(start.stop_reason, null);
    assert.equal(start.usage.input_tokens, 8);
    assert.equal(delta.delta.stop_reason, 'end_turn');
    assert.equal(delta.usage.output_tokens, 10);
});

await check('.stream() helper and finalMessage()', async () => {
    let deltas = '';
    const s = client.messages.stream({ ...req, model: 'claude-slow' });
    s.on('text', (d) => { deltas += d; });
    const final = await s.finalMessage();
    assert.equal(final.content[0].text, `Emulated answer from claude-slow to: ${prompt}`);
    assert.equal(deltas, final.content[0].text);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.input_tokens, 8);
    assert.equal(final.usage.output_tokens, 10);
});

await check('tool use round trip', async () => {
    const ask = [{ role: 'user', content: 'Weather in Oslo?' }];
    const first = await client.messages.create({ ...req, messages: ask, tools: [weatherTool] });
    assert.equal(first.stop_reason, 'tool_use');
    assert.equal(first.content.length, 1);
    const call = first.content[0];
    assert.equal(call.type, 'tool_use');
    assert.match(call.id, /^toolu_emu_\d+$/);
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.input, { city: 'example' });

    const second = await client.messages.create({
        ...req,
        tools: [weatherTool],
        messages: [
            ...ask,
            { role: 'assistant', content: first.content },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '{"temp_c":4}' }] },
        ],
    });
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content[0].type, 'text');
    assert.ok(second.content[0].text.includes('{"temp_c":4}'), second.content[0].text);
});

await check('streamed tool use through the .stream() helper', async () => {
    const s = client.messages.stream({
        ...req,
        messages: [{ role: 'user', content: 'Weather?' }],
        tools: [{ name: 'get_time', input_schema: { type: 'object', properties: {} } }, weatherTool],
        tool_choice: { type: 'tool', name: 'get_weather' },
    });
    let json = '';
    s.on('inputJson', (partial) => { json += partial; });
    const final = await s.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const call = final.content[0];
    assert.equal(call.type, 'tool_use');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.input, { city: 'example' });
    assert.deepEqual(JSON.parse(json), { city: 'example' });
});

await check('529 is an OverloadedError with retry-after', async () => {
    await assert.rejects(
        client.messages.create({ ...req, model: `${model}~error=529,retry_after=2s` }),
        (e) => {
            assert.ok(e instanceof Anthropic.OverloadedError, `got ${e?.constructor?.name}`);
            assert.ok(e instanceof Anthropic.APIError);
            assert.equal(e.status, 529);
            assert.equal(e.type, 'overloaded_error');
            assert.equal(e.error.type, 'error');
            assert.equal(e.error.error.message, 'Overloaded');
            assert.equal(e.headers.get('retry-after'), '2');
            assert.match(e.requestID, /^req_emu_\d+$/);
            return true;
        });
});

await check('429 (x-llmux-emulate header) is a RateLimitError', async () => {
    await assert.rejects(
        client.messages.create(req, { headers: { 'x-llmux-emulate': 'error=429,retry_after=1s' } }),
        (e) => {
            assert.ok(e instanceof Anthropic.RateLimitError, `got ${e?.constructor?.name}`);
            assert.equal(e.status, 429);
            assert.equal(e.type, 'rate_limit_error');
            assert.equal(e.headers.get('retry-after'), '1');
            return true;
        });
});

await check('401 without an API key is an AuthenticationError', async () => {
    // null removes the SDK's own auth header.
    const anonymous = new Anthropic({ apiKey: 'unused', ...options, defaultHeaders: { Authorization: null } });
    await assert.rejects(anonymous.messages.create(req), (e) => {
        assert.ok(e instanceof Anthropic.AuthenticationError, `got ${e?.constructor?.name}`);
        assert.equal(e.status, 401);
        assert.equal(e.type, 'authentication_error');
        return true;
    });
});

await check('other statuses map to the SDK classes', async () => {
    const cases = [
        [400, Anthropic.BadRequestError, 'invalid_request_error'],
        [403, Anthropic.PermissionDeniedError, 'permission_error'],
        [404, Anthropic.NotFoundError, 'not_found_error'],
        [500, Anthropic.InternalServerError, 'api_error'],
    ];
    for (const [status, cls, type] of cases) {
        await assert.rejects(
            client.messages.create(req, { headers: { 'x-llmux-emulate': `error=${status}` } }),
            (e) => {
                assert.ok(e instanceof cls, `status ${status}: got ${e?.constructor?.name}`);
                assert.equal(e.status, status);
                assert.equal(e.type, type);
                return true;
            });
    }
});

await check('an invalid request is a BadRequestError from the emulator', async () => {
    await assert.rejects(
        client.messages.create({ model, messages }),  // no max_tokens
        (e) => {
            assert.ok(e instanceof Anthropic.BadRequestError, `got ${e?.constructor?.name}`);
            assert.equal(e.error.error.message, 'max_tokens: Field required');
            return true;
        });
});

await check('an error event mid-stream raises', async () => {
    const stream = await client.messages.create({ ...req, model: `${model}~fault=error_mid,after=2`, stream: true });
    let text = '';
    await assert.rejects((async () => {
        for await (const ev of stream)
            if (ev.type === 'content_block_delta') text += ev.delta.text;
    })(), (e) => {
        assert.ok(e instanceof Anthropic.APIError, `got ${e?.constructor?.name}`);
        assert.equal(e.type, 'overloaded_error');
        return true;
    });
    assert.equal(text, 'Emulated answer');
});

if (complaints.length) {
    failures++;
    say(`FAIL the SDK complained ${complaints.length} time(s):`);
    for (const c of complaints) say('   ', ...c);
}
if (failures) {
    say(`${failures} check(s) failed`);
    process.exit(1);
}
console.log('ANTHROPIC SDK CONFORMANCE OK');
