// SPDX-License-Identifier: BSL-1.0
// The official OpenAI Node SDK as a real client of `llmux emulate`: answers, streams (with the
// usage chunk and the .stream() helper), a tool-call round trip, JSON answers, and errors that
// must surface as the SDK's own error classes. Exits non-zero on any failure.
// Run by run_openai_sdk.sh, which starts the emulator and sets LLMUX_EMULATOR_URL.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_EMULATOR_URL;
if (!base) {
    console.error('LLMUX_EMULATOR_URL is not set (run this through run_openai_sdk.sh)');
    process.exit(2);
}
const client = new OpenAI({ apiKey: 'sk-emulator', baseURL: `${base}/v1`, maxRetries: 0, timeout: 15_000 });
const model = 'gpt-4o-mini';
const prompt = 'Introduce Python in one sentence';
const messages = [{ role: 'user', content: prompt }];
const expected = `Emulated answer from ${model} to: ${prompt}`;

const weatherTool = {
    type: 'function',
    function: {
        name: 'get_weather',
        description: 'Current weather in a city',
        parameters: {
            type: 'object',
            properties: { city: { type: 'string' }, days: { type: 'integer' } },
            required: ['city'],
        },
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

await check('non-streaming answer', async () => {
    const r = await client.chat.completions.create({ model, messages });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-emu-\d+$/);
    assert.equal(r.model, model);
    assert.match(r._request_id, /^req_emu_\d+$/);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, expected);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.completion_tokens, 10);
    assert.equal(r.usage.prompt_tokens, 8);
    assert.equal(r.usage.total_tokens, 18);
    assert.equal(r.usage.prompt_tokens_details.cached_tokens, 0);
});

await check('directives in the model name, max_completion_tokens', async () => {
    const r = await client.chat.completions.create({
        model: `${model}~tokens=30`, messages, max_completion_tokens: 4,
    });
    assert.equal(r.model, model);
    assert.equal(r.choices[0].message.content, 'Lorem ipsum dolor sit');
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 4);
});

await check('streaming with include_usage', async () => {
    const stream = await client.chat.completions.create({
        model, messages, stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let contentChunks = 0;
    let usage = null;
    let finish = null;
    for await (const chunk of stream) {
        assert.equal(chunk.object, 'chat.completion.chunk');
        const delta = chunk.choices[0]?.delta?.content;
        if (delta) {
            text += delta;
            contentChunks++;
        }
        if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
        if (chunk.usage) {
            assert.equal(chunk.choices.length, 0);
            usage = chunk.usage;
        }
    }
    assert.equal(text, expected);
    assert.equal(contentChunks, 10);
    assert.equal(finish, 'stop');
    assert.ok(usage, 'the usage chunk arrived');
    assert.equal(usage.completion_tokens, 10);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
});

await check('stream() helper and finalChatCompletion()', async () => {
    let deltas = '';
    const s = client.chat.completions.stream({ model: 'slow-model', messages });
    s.on('content', (d) => { deltas += d; });
    const final = await s.finalChatCompletion();
    assert.equal(final.choices[0].message.content, `Emulated answer from slow-model to: ${prompt}`);
    assert.equal(deltas, final.choices[0].message.content);
    assert.equal(final.choices[0].finish_reason, 'stop');
});

await check('models list shows scripted models', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes('slow-model'), `got ${JSON.stringify(ids)}`);
});

await check('tool call round trip', async () => {
    const first = await client.chat.completions.create({
        model, messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [weatherTool],
    });
    const msg = first.choices[0].message;
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.tool_calls.length, 1);
    const call = msg.tool_calls[0];
    assert.match(call.id, /^call_emu_\d+$/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'example' });

    const second = await client.chat.completions.create({
        model,
        tools: [weatherTool],
        messages: [
            { role: 'user', content: 'Weather in Oslo?' },
            msg,
            { role: 'tool', tool_call_id: call.id, content: '{"temp_c":4}' },
        ],
    });
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.ok(second.choices[0].message.content.includes('{"temp_c":4}'));
});

await check('streamed tool call through the stream() helper', async () => {
    const s = client.chat.completions.stream({
        model, messages: [{ role: 'user', content: 'Weather?' }], tools: [weatherTool],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const final = await s.finalChatCompletion();
    const call = final.choices[0].message.tool_calls[0];
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'example' });
});

await check('JSON answers', async () => {
    const o = await client.chat.completions.create({
        model, messages, response_format: { type: 'json_object' },
    });
    assert.equal(typeof JSON.parse(o.choices[0].message.content), 'object');

    const s = await client.chat.completions.create({
        model, messages,
        response_format: {
            type: 'json_schema',
            json_schema: {
                name: 'person', strict: true,
                schema: {
                    type: 'object',
                    properties: { name: { type: 'string' }, age: { type: 'integer' }, langs: { type: 'array', items: { type: 'string' } } },
                    required: ['name', 'age', 'langs'], additionalProperties: false,
                },
            },
        },
    });
    assert.deepEqual(JSON.parse(s.choices[0].message.content), { name: 'example', age: 1, langs: [] });
});

await check('429 with retry-after is a RateLimitError', async () => {
    await assert.rejects(
        client.chat.completions.create({ model: `${model}~error=429,retry_after=2s`, messages }),
        (e) => {
            assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}`);
            assert.equal(e.status, 429);
            assert.equal(e.code, 'rate_limit_exceeded');
            assert.equal(e.headers.get('retry-after'), '2');
            assert.equal(e.headers.get('retry-after-ms'), '2000');
            assert.match(e.requestID, /^req_emu_\d+$/);
            return true;
        });
});

await check('401 without an API key is an AuthenticationError', async () => {
    // null removes the SDK's own Authorization header.
    const anonymous = new OpenAI({
        apiKey: 'unused', baseURL: `${base}/v1`, maxRetries: 0, defaultHeaders: { Authorization: null },
    });
    await assert.rejects(anonymous.chat.completions.create({ model, messages }), (e) => {
        assert.ok(e instanceof OpenAI.AuthenticationError, `got ${e?.constructor?.name}`);
        assert.equal(e.status, 401);
        assert.equal(e.code, 'invalid_api_key');
        return true;
    });
});

await check('other statuses map to the SDK classes', async () => {
    const cases = [
        [400, OpenAI.BadRequestError], [403, OpenAI.PermissionDeniedError], [404, OpenAI.NotFoundError],
        [422, OpenAI.UnprocessableEntityError], [500, OpenAI.InternalServerError], [503, OpenAI.InternalServerError],
    ];
    for (const [status, cls] of cases) {
        await assert.rejects(
            client.chat.completions.create({ model, messages }, { headers: { 'x-llmux-emulate': `error=${status}` } }),
            (e) => {
                assert.ok(e instanceof cls, `status ${status}: got ${e?.constructor?.name}`);
                assert.equal(e.status, status);
                return true;
            });
    }
});

await check('an error event mid-stream raises', async () => {
    const stream = await client.chat.completions.create({
        model: `${model}~fault=error_mid,after=2`, messages, stream: true,
    });
    let text = '';
    await assert.rejects((async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    })(), (e) => {
        assert.ok(e instanceof OpenAI.APIError, `got ${e?.constructor?.name}`);
        return true;
    });
    assert.equal(text, 'Emulated answer');
});

if (failures) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
}
console.log('OPENAI SDK CONFORMANCE OK');
