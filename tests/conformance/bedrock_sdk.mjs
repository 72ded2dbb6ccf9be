// SPDX-License-Identifier: BSL-1.0
// The official AWS SDK (`@aws-sdk/client-bedrock-runtime`) as a real client of `llmux emulate`:
// its own SigV4 signer against the emulator's verifier, its own event-stream parser against the
// emulator's ConverseStream frames, and its own error classes from the emulator's error replies.
// Converse, ConverseStream, a tool-use round trip (whole and streamed), a Bedrock API key,
// throttling, a mid-stream exception and bad signatures. Exits non-zero on any failure, and on
// any warning or error the SDK logs.
// Run by run_bedrock_sdk.sh, which starts the emulator and sets LLMUX_EMULATOR_URL.
import {
    BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_EMULATOR_URL;
if (!base) {
    console.error('LLMUX_EMULATOR_URL is not set (run this through run_bedrock_sdk.sh)');
    process.exit(2);
}

// Anything the SDK or Node complains about fails the run. The SDK logs every failed command as
// an error, so errors are complaints only outside the checks that expect a failure.
const complaints = [];
let expectingErrors = false;
const show = (a) => a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x, (k, v) => (k === 'input' ? undefined : v)))).join(' ');
const logger = {
    trace() {}, debug() {}, info() {},
    warn: (...a) => complaints.push(`warn: ${show(a)}`),
    error: (...a) => { if (!expectingErrors) complaints.push(`error: ${show(a)}`); },
};
process.on('warning', (w) => complaints.push(`process warning: ${w.name}: ${w.message}`));

// The SDK speaks HTTP/2 by default; the emulator is HTTP/1.1 (see shared/peers/README.md).
function makeClient(options = {}) {
    return new BedrockRuntimeClient({
        region: 'us-east-1',
        endpoint: base,
        requestHandler: new NodeHttpHandler({ requestTimeout: 15_000 }),
        credentials: { accessKeyId: 'AKIDLLMUXEMULATOR', secretAccessKey: 'llmux-emulator-secret' },
        maxAttempts: 1,  // errors are checked as they come, not retried
        logger,
        ...options,
    });
}
const client = makeClient();

const modelId = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const prompt = 'Introduce Python in one sentence';
const messages = [{ role: 'user', content: [{ text: prompt }] }];
const expected = `Emulated answer from ${modelId} to: ${prompt}`;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const weatherTool = {
    toolSpec: {
        name: 'get_weather',
        description: 'Current weather in a city',
        inputSchema: {
            json: {
                type: 'object',
                properties: { city: { type: 'string' }, days: { type: 'integer' } },
                required: ['city'],
            },
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
    const out = { text: '', deltas: 0, events: [], tools: new Map(), stopReason: null, metadata: null };
    for await (const ev of stream) {
        const [kind] = Object.keys(ev);
        out.events.push(kind);
        if (ev.contentBlockStart?.start?.toolUse) {
            const { toolUseId, name } = ev.contentBlockStart.start.toolUse;
            out.tools.set(ev.contentBlockStart.contentBlockIndex, { toolUseId, name, input: '' });
        } else if (ev.contentBlockDelta) {
            const { delta, contentBlockIndex } = ev.contentBlockDelta;
            if (delta.text !== undefined) {
                out.text += delta.text;
                out.deltas++;
            } else if (delta.toolUse) {
                out.tools.get(contentBlockIndex).input += delta.toolUse.input;
            }
        } else if (ev.messageStop) {
            out.stopReason = ev.messageStop.stopReason;
        } else if (ev.metadata) {
            out.metadata = ev.metadata;
        }
    }
    return out;
}

await check('Converse', async () => {
    const r = await client.send(new ConverseCommand({ modelId, messages }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.match(r.$metadata.requestId, uuid);
    assert.equal(r.output.message.role, 'assistant');
    assert.deepEqual(r.output.message.content, [{ text: expected }]);
    assert.equal(r.stopReason, 'end_turn');
    assert.deepEqual(r.usage, { inputTokens: 8, outputTokens: 10, totalTokens: 18 });
    assert.equal(typeof r.metrics.latencyMs, 'number');
});

await check('Converse with system, inferenceConfig and directives in the model id', async () => {
    const r = await client.send(new ConverseCommand({
        modelId: `${modelId}~tokens=30`,
        system: [{ text: 'You are terse.' }],
        messages,
        inferenceConfig: { maxTokens: 4, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
    }));
    assert.deepEqual(r.output.message.content, [{ text: 'Lorem ipsum dolor sit' }]);
    assert.equal(r.stopReason, 'max_tokens');
    assert.equal(r.usage.outputTokens, 4);
});

await check('ConverseStream', async () => {
    const r = await client.send(new ConverseStreamCommand({ modelId, messages }));
    assert.equal(r.$metadata.httpStatusCode, 200);
    assert.match(r.$metadata.requestId, uuid);
    const s = await collect(r.stream);
    assert.equal(s.text, expected);
    assert.equal(s.deltas, 10);
    assert.equal(s.events[0], 'messageStart');
    assert.deepEqual(s.events.slice(-3), ['contentBlockStop', 'messageStop', 'metadata']);
    assert.equal(s.stopReason, 'end_turn');
    assert.deepEqual(s.metadata.usage, { inputTokens: 8, outputTokens: 10, totalTokens: 18 });
    assert.equal(typeof s.metadata.metrics.latencyMs, 'number');
});

await check('tool use round trip (Converse)', async () => {
    const toolConfig = { tools: [weatherTool] };
    const ask = [{ role: 'user', content: [{ text: 'Weather in Oslo?' }] }];
    const first = await client.send(new ConverseCommand({ modelId, messages: ask, toolConfig }));
    assert.equal(first.stopReason, 'tool_use');
    const [block] = first.output.message.content;
    assert.ok(block.toolUse, `got ${JSON.stringify(first.output.message.content)}`);
    assert.match(block.toolUse.toolUseId, /^tooluse_/);
    assert.equal(block.toolUse.name, 'get_weather');
    assert.deepEqual(block.toolUse.input, { city: 'example' });

    const second = await client.send(new ConverseCommand({
        modelId, toolConfig,
        messages: [
            ...ask,
            first.output.message,
            { role: 'user', content: [{ toolResult: {
                toolUseId: block.toolUse.toolUseId, content: [{ json: { temp_c: 4 } }], status: 'success',
            } }] },
        ],
    }));
    assert.equal(second.stopReason, 'end_turn');
    assert.ok(second.output.message.content[0].text.includes('{"temp_c":4}'),
        second.output.message.content[0].text);
});

await check('tool use streamed (ConverseStream), forced by toolChoice', async () => {
    const r = await client.send(new ConverseStreamCommand({
        modelId, messages: [{ role: 'user', content: [{ text: 'Weather?' }] }],
        toolConfig: { tools: [weatherTool], toolChoice: { tool: { name: 'get_weather' } } },
    }));
    const s = await collect(r.stream);
    assert.equal(s.stopReason, 'tool_use');
    assert.equal(s.tools.size, 1);
    const [use] = s.tools.values();
    assert.equal(use.name, 'get_weather');
    assert.match(use.toolUseId, /^tooluse_/);
    assert.deepEqual(JSON.parse(use.input), { city: 'example' });
});

await check('a Bedrock API key (bearer token)', async () => {
    const keyed = makeClient({
        credentials: undefined, token: { token: 'llmux-emulator' }, authSchemePreference: ['httpBearerAuth'],
    });
    const r = await keyed.send(new ConverseCommand({ modelId, messages }));
    assert.deepEqual(r.output.message.content, [{ text: expected }]);
});

await check('throttling is a ThrottlingException with status 429', async () => {
    for (const Command of [ConverseCommand, ConverseStreamCommand]) {
        await assert.rejects(client.send(new Command({ modelId: `${modelId}~error=429,retry_after=2s`, messages })),
            (e) => {
                assert.equal(e.name, 'ThrottlingException', `got ${e?.name}: ${e?.message}`);
                assert.equal(e.$metadata.httpStatusCode, 429);
                assert.match(e.$metadata.requestId, uuid);
                assert.equal(e.$fault, 'client');
                assert.equal(e.message, 'Too many requests, please wait before trying again.');
                return true;
            });
    }
}, { errors: true });

await check('other errors are their exceptions', async () => {
    const cases = [
        [400, 'ValidationException'], [403, 'AccessDeniedException'], [404, 'ResourceNotFoundException'],
        [408, 'ModelTimeoutException'], [424, 'ModelErrorException'], [500, 'InternalServerException'],
        [503, 'ServiceUnavailableException'],
    ];
    for (const [status, name] of cases) {
        await assert.rejects(client.send(new ConverseCommand({ modelId: `${modelId}~error=${status}`, messages })),
            (e) => {
                assert.equal(e.name, name, `status ${status}: got ${e?.name}`);
                assert.equal(e.$metadata.httpStatusCode, status);
                return true;
            });
    }
}, { errors: true });

await check('an exception frame mid-stream is a ModelStreamErrorException', async () => {
    const r = await client.send(new ConverseStreamCommand({ modelId: `${modelId}~fault=error_mid,after=2`, messages }));
    let text = '';
    await assert.rejects((async () => {
        for await (const ev of r.stream) text += ev.contentBlockDelta?.delta?.text ?? '';
    })(), (e) => {
        assert.equal(e.name, 'ModelStreamErrorException', `got ${e?.name}: ${e?.message}`);
        assert.equal(e.originalStatusCode, 500);
        return true;
    });
    assert.equal(text, 'Emulated answer');
}, { errors: true });

await check('a wrong secret is an InvalidSignatureException (403)', async () => {
    const wrong = makeClient({
        credentials: { accessKeyId: 'AKIDLLMUXEMULATOR', secretAccessKey: 'not-the-secret' },
    });
    for (const Command of [ConverseCommand, ConverseStreamCommand]) {
        await assert.rejects(wrong.send(new Command({ modelId, messages })), (e) => {
            assert.equal(e.name, 'InvalidSignatureException', `got ${e?.name}: ${e?.message}`);
            assert.equal(e.$metadata.httpStatusCode, 403);
            assert.ok(!e.message.includes('not-the-secret'));
            return true;
        });
    }
}, { errors: true });

await check('an unknown access key is an UnrecognizedClientException (403)', async () => {
    const unknown = makeClient({ credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } });
    await assert.rejects(unknown.send(new ConverseCommand({ modelId, messages })), (e) => {
        assert.equal(e.name, 'UnrecognizedClientException', `got ${e?.name}: ${e?.message}`);
        assert.equal(e.$metadata.httpStatusCode, 403);
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
console.log('BEDROCK SDK CONFORMANCE OK');
