// SPDX-License-Identifier: BSL-1.0
// The official AWS SDK (`@aws-sdk/client-bedrock-runtime`) as a real client of `llmux serve`'s
// Bedrock Converse endpoints, with the gateway key as a Bedrock API key (a bearer token from a
// token provider). The gateway's upstreams are its built-in emulator speaking OpenAI, Anthropic,
// Gemini and Bedrock. Checks: Converse and ConverseStream from each upstream format, a tool call round
// trip (whole and streamed), a gateway model name with a slash (percent-encoded by the SDK), a
// bad key, upstream throttling as a ThrottlingException, an upstream failure mid-stream as an
// exception frame, and a field with no equivalent upstream refused by name; InvokeModel for
// embeddings with Titan's and Cohere's bodies, to Bedrock and OpenAI upstreams. Exits non-zero on
// any failure, and on any warning or error the SDK logs outside the checks that expect one.
// Run by run_bedrock_gateway.sh, which starts the gateway and sets LLMUX_GATEWAY_URL and
// LLMUX_GATEWAY_KEY.
import {
    BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, InvokeModelCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_GATEWAY_URL;
const key = process.env.LLMUX_GATEWAY_KEY;
if (!base || !key) {
    console.error('LLMUX_GATEWAY_URL / LLMUX_GATEWAY_KEY are not set (run run_bedrock_gateway.sh)');
    process.exit(2);
}

const complaints = [];
let expectingErrors = false;
const show = (a) => a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x, (k, v) => (k === 'input' ? undefined : v)))).join(' ');
const logger = {
    trace() {}, debug() {}, info() {},
    warn: (...a) => complaints.push(`warn: ${show(a)}`),
    error: (...a) => { if (!expectingErrors) complaints.push(`error: ${show(a)}`); },
};
process.on('warning', (w) => complaints.push(`process warning: ${w.name}: ${w.message}`));

// The gateway is HTTP/1.1; the key is a Bedrock API key: a bearer token, no SigV4.
function makeClient(token = key) {
    return new BedrockRuntimeClient({
        region: 'us-east-1',
        endpoint: base,
        requestHandler: new NodeHttpHandler({ requestTimeout: 20_000 }),
        token: async () => ({ token }),
        authSchemePreference: ['httpBearerAuth'],
        maxAttempts: 1,  // errors are checked as they come, not retried
        logger,
    });
}
const client = makeClient();

const prompt = 'Introduce Python in one sentence';
const messages = [{ role: 'user', content: [{ text: prompt }] }];
const answer = (upstreamModel) => `Emulated answer from ${upstreamModel} to: ${prompt}`;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Gateway model name -> the upstream model the emulator names in its answer.
const upstreams = {
    gpt: 'gpt-4o-mini',
    claude: 'claude-sonnet-4.6',
    nova: 'amazon.nova-lite-v1:0',
    gemini: 'gemini-2.0-flash',
};

const weatherTool = {
    toolSpec: {
        name: 'get_weather',
        description: 'Current weather in a city',
        inputSchema: {
            json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
    },
};

let failures = 0;
async function check(name, fn, { errors = false } = {}) {
    expectingErrors = errors;
    try {
        await fn();
        console.log(`ok   ${name}`);
    } catch (e) {
        failures++;
        console.error(`FAIL ${name}: ${e?.stack ?? e}`);
    } finally {
        expectingErrors = false;
    }
}

// Iterates a ConverseStream answer into its text, tool uses, stop reason and metadata.
async function collect(stream) {
    const out = { text: '', events: [], tools: new Map(), stopReason: null, metadata: null };
    for await (const ev of stream) {
        const [kind] = Object.keys(ev);
        out.events.push(kind);
        if (ev.contentBlockStart?.start?.toolUse) {
            const { toolUseId, name } = ev.contentBlockStart.start.toolUse;
            out.tools.set(ev.contentBlockStart.contentBlockIndex, { toolUseId, name, input: '' });
        } else if (ev.contentBlockDelta) {
            const { delta, contentBlockIndex } = ev.contentBlockDelta;
            if (delta.text !== undefined) out.text += delta.text;
            else if (delta.toolUse) out.tools.get(contentBlockIndex).input += delta.toolUse.input;
        } else if (ev.messageStop) {
            out.stopReason = ev.messageStop.stopReason;
        } else if (ev.metadata) {
            out.metadata = ev.metadata;
        }
    }
    return out;
}

for (const [modelId, upstream] of Object.entries(upstreams)) {
    await check(`Converse from ${modelId} (${upstream})`, async () => {
        const r = await client.send(new ConverseCommand({ modelId, messages }));
        assert.equal(r.$metadata.httpStatusCode, 200);
        assert.match(r.$metadata.requestId, uuid);
        assert.equal(r.output.message.role, 'assistant');
        assert.deepEqual(r.output.message.content, [{ text: answer(upstream) }]);
        assert.equal(r.stopReason, 'end_turn');
        assert.ok(r.usage.inputTokens > 0 && r.usage.outputTokens > 0, JSON.stringify(r.usage));
        assert.equal(r.usage.totalTokens, r.usage.inputTokens + r.usage.outputTokens);
        assert.equal(typeof r.metrics.latencyMs, 'number');
    });

    await check(`ConverseStream from ${modelId} (${upstream})`, async () => {
        const r = await client.send(new ConverseStreamCommand({ modelId, messages }));
        assert.equal(r.$metadata.httpStatusCode, 200);
        assert.match(r.$metadata.requestId, uuid);
        const s = await collect(r.stream);
        assert.equal(s.text, answer(upstream));
        assert.equal(s.events[0], 'messageStart');
        assert.deepEqual(s.events.slice(-3), ['contentBlockStop', 'messageStop', 'metadata']);
        assert.equal(s.stopReason, 'end_turn');
        assert.ok(s.metadata.usage.outputTokens > 0, JSON.stringify(s.metadata));
        assert.equal(typeof s.metadata.metrics.latencyMs, 'number');
    });

    await check(`tool use round trip from ${modelId}, whole and streamed`, async () => {
        const toolConfig = { tools: [weatherTool], toolChoice: { tool: { name: 'get_weather' } } };
        const ask = [{ role: 'user', content: [{ text: 'Weather in Oslo?' }] }];
        const first = await client.send(new ConverseCommand({ modelId, messages: ask, toolConfig }));
        assert.equal(first.stopReason, 'tool_use');
        const use = first.output.message.content.find((b) => b.toolUse)?.toolUse;
        assert.ok(use, `got ${JSON.stringify(first.output.message.content)}`);
        assert.equal(use.name, 'get_weather');
        assert.ok(use.toolUseId);
        assert.deepEqual(use.input, { city: 'example' });

        const streamed = await client.send(new ConverseStreamCommand({ modelId, messages: ask, toolConfig }));
        const s = await collect(streamed.stream);
        assert.equal(s.stopReason, 'tool_use');
        assert.equal(s.tools.size, 1);
        const [su] = s.tools.values();
        assert.equal(su.name, 'get_weather');
        assert.deepEqual(JSON.parse(su.input), { city: 'example' });

        const second = await client.send(new ConverseCommand({
            modelId, toolConfig: { tools: [weatherTool] },
            messages: [
                ...ask,
                first.output.message,
                { role: 'user', content: [{ toolResult: {
                    toolUseId: use.toolUseId, content: [{ json: { temp_c: 4 } }], status: 'success',
                } }] },
            ],
        }));
        assert.equal(second.stopReason, 'end_turn');
        const text = second.output.message.content.map((b) => b.text ?? '').join('');
        assert.ok(text.includes('temp_c'), text);
    });
}

await check('a gateway model name with a slash (percent-encoded by the SDK)', async () => {
    const r = await client.send(new ConverseCommand({ modelId: 'team/gpt', messages }));
    assert.deepEqual(r.output.message.content, [{ text: answer('gpt-4o-mini') }]);
});

await check('a bad gateway key is an UnrecognizedClientException', async () => {
    const bad = makeClient('not-the-key');
    for (const Command of [ConverseCommand, ConverseStreamCommand]) {
        await assert.rejects(bad.send(new Command({ modelId: 'gpt', messages })), (e) => {
            assert.equal(e.name, 'UnrecognizedClientException', `got ${e?.name}: ${e?.message}`);
            assert.equal(e.$metadata.httpStatusCode, 401);
            assert.ok(!e.message.includes('not-the-key'));
            return true;
        });
    }
}, { errors: true });

await check('an upstream 429 is a ThrottlingException', async () => {
    for (const modelId of Object.keys(upstreams).map((m) => `${m}-throttled`)) {
        for (const Command of [ConverseCommand, ConverseStreamCommand]) {
            await assert.rejects(client.send(new Command({ modelId, messages })), (e) => {
                assert.equal(e.name, 'ThrottlingException', `${modelId}: got ${e?.name}: ${e?.message}`);
                assert.equal(e.$metadata.httpStatusCode, 429);
                assert.equal(e.$fault, 'client');
                assert.ok(e.message.length > 0);
                return true;
            });
        }
    }
}, { errors: true });

await check('an upstream failure mid-stream is an exception in the stream', async () => {
    const r = await client.send(new ConverseStreamCommand({ modelId: 'gpt-breaks', messages }));
    let text = '';
    await assert.rejects((async () => {
        for await (const ev of r.stream) text += ev.contentBlockDelta?.delta?.text ?? '';
    })(), (e) => {
        assert.equal(e.name, 'ModelStreamErrorException', `got ${e?.name}: ${e?.message}`);
        assert.equal(e.originalStatusCode, 502);
        return true;
    });
    assert.equal(text, 'Emulated answer');
}, { errors: true });

await check('a field with no equivalent upstream is refused by name', async () => {
    await assert.rejects(client.send(new ConverseCommand({
        modelId: 'gpt', messages, additionalModelRequestFields: { top_k: 40 },
    })), (e) => {
        assert.equal(e.name, 'ValidationException', `got ${e?.name}: ${e?.message}`);
        assert.equal(e.$metadata.httpStatusCode, 400);
        assert.ok(e.message.includes('additionalModelRequestFields'), e.message);
        return true;
    });
    // A Bedrock upstream takes it as it is.
    const r = await client.send(new ConverseCommand({
        modelId: 'nova', messages, additionalModelRequestFields: { top_k: 40 },
    }));
    assert.equal(r.stopReason, 'end_turn');
}, { errors: true });

// InvokeModel for embeddings: the SDK sends the model's body as bytes and hands back the
// answer's bytes; the token count comes in InvokeModel's header (not exposed by the SDK).
const invoke = async (modelId, body) => {
    const r = await client.send(new InvokeModelCommand({
        modelId, contentType: 'application/json', accept: 'application/json',
        body: JSON.stringify(body),
    }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.match(r.$metadata.requestId, uuid);
    return JSON.parse(new TextDecoder().decode(r.body));
};
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

await check('InvokeModel: Titan Text Embeddings V2 through the gateway', async () => {
    const b = await invoke('titan', { inputText: 'hello world', dimensions: 256, normalize: true });
    assert.equal(b.embedding.length, 256);
    assert.ok(Math.abs(norm(b.embedding) - 1) < 1e-4);
    assert.ok(b.inputTextTokenCount > 0, JSON.stringify(b.inputTextTokenCount));
    // Titan's body to an OpenAI upstream: the OpenAI model's width, in Titan's shape.
    const o = await invoke('embed', { inputText: 'hello world', embeddingTypes: ['float'] });
    assert.equal(o.embedding.length, 1536);
    assert.deepEqual(o.embeddingsByType.float, o.embedding);
});

await check('InvokeModel: Cohere Embed v4 through the gateway', async () => {
    const b = await invoke('cohere', {
        texts: ['first', 'second'], input_type: 'search_query', embedding_types: ['float'],
        output_dimension: 512,
    });
    assert.equal(b.response_type, 'embeddings_by_type');
    assert.deepEqual(b.texts, ['first', 'second']);
    assert.equal(b.embeddings.float.length, 2);
    assert.equal(b.embeddings.float[1].length, 512);
    assert.notDeepEqual(b.embeddings.float[0], b.embeddings.float[1]);
    assert.equal(typeof b.id, 'string');
});

await check('InvokeModel: a field Bedrock does not know is its ValidationException', async () => {
    await assert.rejects(invoke('titan', { inputText: 'x', colour: 'blue' }), (e) => {
        assert.equal(e.name, 'ValidationException', `got ${e?.name}: ${e?.message}`);
        assert.equal(e.$metadata.httpStatusCode, 400);
        assert.ok(e.message.includes('extraneous key [colour]'), e.message);
        return true;
    });
    // And a chat model has no embeddings.
    await assert.rejects(invoke('claude', { inputText: 'x' }), (e) => {
        assert.equal(e.$metadata.httpStatusCode, 400);
        assert.ok(e.message.includes('no embeddings'), e.message);
        return true;
    });
}, { errors: true });

if (complaints.length) {
    failures++;
    console.error(`FAIL the SDK complained:\n  ${complaints.join('\n  ')}`);
}
if (failures) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
}
console.log('BEDROCK GATEWAY CONFORMANCE OK');
