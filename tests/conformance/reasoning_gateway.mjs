// SPDX-License-Identifier: BSL-1.0
// Reasoning round trips through `llmux serve` with official SDKs, as their docs show them. The
// upstream is the built-in emulator, which returns thinking blocks with signatures (Claude) and
// thought signatures on function calls (Gemini 3), and refuses with the providers' 400s a next
// turn that drops or alters them. Checks:
// - @anthropic-ai/sdk: a Claude-with-thinking tool loop through /v1/messages, whole and with
//   messages.stream(), appending `response.content` as the docs do; a dropped thinking block
//   is the SDK's BadRequestError with Anthropic's wording.
// - openai: a Gemini 3 tool loop and a Claude-with-thinking loop (reasoning_effort) through
//   /v1/chat/completions, appending `choices[0].message` as the docs do; whole and streamed
//   (the streamed message rebuilt from the deltas, ids as received).
// - the Vercel AI SDK with @ai-sdk/anthropic: generateText and streamText tool loops with
//   thinking on (a budget on Claude Sonnet 4.5, adaptive on Claude Opus 4.6 on Vertex AI), which
//   the SDK continues by sending back the reasoning parts it got with their signatures.
// Run by run_reasoning_gateway.sh.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { generateText, streamText, tool, jsonSchema, stepCountIs } from 'ai';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_GATEWAY_URL;
const key = process.env.LLMUX_GATEWAY_KEY;
if (!base || !key) {
    console.error('LLMUX_GATEWAY_URL / LLMUX_GATEWAY_KEY are not set (run run_reasoning_gateway.sh)');
    process.exit(2);
}
const options = { maxRetries: 0, timeout: 20_000 };
const anthropic = new Anthropic({ apiKey: key, baseURL: base, ...options });
const openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, ...options });

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

const weatherTool = {
    name: 'get_weather',
    description: 'Current weather in a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const thinking = { type: 'enabled', budget_tokens: 2048 };

async function claudeLoop(model, streamed) {
    const messages = [{ role: 'user', content: 'Weather in Oslo?' }];
    const ask = (msgs) => {
        const body = { model, max_tokens: 4096, thinking, tools: [weatherTool], messages: msgs };
        return streamed ? anthropic.messages.stream(body).finalMessage() : anthropic.messages.create(body);
    };
    const first = await ask(messages);
    assert.equal(first.stop_reason, 'tool_use');
    assert.equal(first.content[0].type, 'thinking');
    assert.ok(first.content[0].signature.length > 0, 'a signature');
    const use = first.content.find((b) => b.type === 'tool_use');
    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '4C' }] });
    const second = await ask(messages);
    assert.equal(second.stop_reason, 'end_turn');
    assert.ok(second.content.some((b) => b.type === 'text' && b.text.includes('4C')));
    return { first, use };
}

for (const model of ['claude', 'claude-vertex']) {
    for (const streamed of [false, true]) {
        await check(`anthropic sdk: ${model} thinking tool loop${streamed ? ' (stream)' : ''}`,
            () => claudeLoop(model, streamed));
    }
}

await check('anthropic sdk: a dropped thinking block is refused as Anthropic refuses it', async () => {
    const { first, use } = await claudeLoop('claude', false);
    const messages = [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: first.content.filter((b) => b.type !== 'thinking') },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '4C' }] },
    ];
    const err = await anthropic.messages
        .create({ model: 'claude', max_tokens: 4096, thinking, tools: [weatherTool], messages })
        .then(() => null, (e) => e);
    assert.ok(err instanceof Anthropic.BadRequestError, `got ${err}`);
    assert.match(err.message, /Expected `thinking` or `redacted_thinking`/);
});

const fnTool = {
    type: 'function',
    function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
};

async function streamedMessage(body) {
    // Rebuilds the assistant message from the deltas, as the openai docs' stream example does.
    const stream = await openai.chat.completions.create({ ...body, stream: true });
    const msg = { role: 'assistant', content: '', tool_calls: [] };
    for await (const chunk of stream) {
        const d = chunk.choices[0]?.delta ?? {};
        if (d.content) msg.content += d.content;
        for (const tc of d.tool_calls ?? []) {
            const t = (msg.tool_calls[tc.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
            if (tc.id) t.id = tc.id;
            if (tc.function?.name) t.function.name = tc.function.name;
            if (tc.function?.arguments) t.function.arguments += tc.function.arguments;
        }
    }
    return msg;
}

for (const [model, extra] of [['gemini3', {}], ['claude', { reasoning_effort: 'low' }]]) {
    for (const streamed of [false, true]) {
        await check(`openai sdk: ${model} tool loop appending the message${streamed ? ' (stream)' : ''}`, async () => {
            const messages = [{ role: 'user', content: 'Weather in Oslo?' }];
            const body = { model, messages, tools: [fnTool], ...extra };
            const msg = streamed
                ? await streamedMessage(body)
                : (await openai.chat.completions.create(body)).choices[0].message;
            assert.equal(msg.tool_calls.length, 1);
            messages.push(msg);
            messages.push({ role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '4C' });
            const second = await openai.chat.completions.create({ ...body, messages });
            assert.equal(second.choices[0].finish_reason, 'stop');
            assert.match(second.choices[0].message.content, /4C/);
        });
    }
}

// The Vercel AI SDK's Anthropic provider: it posts to `${baseURL}/messages` with x-api-key, and
// continues a tool loop by replaying each step's reasoning (text + signature in its provider
// data) before the tool call. A step that lost the signature would be refused upstream.
// (ai 7 names a part's provider data `providerOptions`; earlier versions `providerMetadata`.)
const signedPart = (p) => (p.providerOptions ?? p.providerMetadata)?.anthropic?.signature?.length > 0;
const vercel = createAnthropic({ apiKey: key, baseURL: `${base}/v1` });
const weather = tool({
    description: 'Current weather in a city',
    inputSchema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
    execute: async ({ city }) => ({ city, temp_c: 4 }),
});
for (const [model, thinkingOption] of [
    ['claude', { type: 'enabled', budgetTokens: 2048 }],
    ['claude-vertex', { type: 'adaptive' }],
]) {
    const options = {
        model: vercel(model), prompt: 'Weather in Oslo?', tools: { get_weather: weather },
        stopWhen: stepCountIs(3), maxRetries: 0, maxOutputTokens: 4096,
        providerOptions: { anthropic: { thinking: thinkingOption } },
    };
    await check(`Vercel AI SDK (@ai-sdk/anthropic) ${model} thinking tool loop, generateText`, async () => {
        const r = await generateText(options);
        assert.equal(r.steps.length, 2);
        const [first, second] = r.steps;
        assert.equal(first.finishReason, 'tool-calls');
        assert.ok(first.reasoningText?.length > 0, 'reasoning text on the tool-call step');
        const signed = first.reasoning.find(signedPart);
        assert.ok(signed, 'a signed reasoning part');
        assert.equal(first.toolCalls[0].toolName, 'get_weather');
        assert.equal(second.finishReason, 'stop');
        assert.ok(r.text.includes('temp_c'), r.text);
    });
    await check(`Vercel AI SDK (@ai-sdk/anthropic) ${model} thinking tool loop, streamText`, async () => {
        const s = streamText(options);
        let text = '';
        let reasoning = '';
        for await (const part of s.fullStream) {
            if (part.type === 'text-delta') text += part.text;
            else if (part.type === 'reasoning-delta') reasoning += part.text;
            else if (part.type === 'error') throw part.error;
        }
        const steps = await s.steps;
        assert.equal(steps.length, 2);
        assert.ok(reasoning.length > 0, 'streamed reasoning');
        assert.ok(steps[0].reasoning.some(signedPart),
                  'a signed reasoning part in the streamed step');
        assert.ok(text.includes('temp_c'), text);
    });
}

if (failures) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
}
