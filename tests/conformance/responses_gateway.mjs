// SPDX-License-Identifier: BSL-1.0
// The OpenAI Responses API (`POST /v1/responses`) through `llmux serve`, with real clients:
// the official openai SDK's `responses.create` and `responses.stream` (text, a tool-call loop,
// a JSON schema, errors), the Vercel AI SDK (`@ai-sdk/openai`, whose default `openai(model)`
// speaks the Responses API: generateText and streamText with a tool loop) and LangChain's
// `ChatOpenAI` with `useResponsesApi: true`; each against upstreams of every wire format (the
// built-in emulator speaking Chat Completions, Anthropic, Gemini, Bedrock and the Responses API
// itself).
// Run by run_responses_gateway.sh, which writes the configuration, starts the gateway and sets
// LLMUX_GATEWAY_URL and LLMUX_GATEWAY_KEY.
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, tool, jsonSchema, stepCountIs } from 'ai';
import { ChatOpenAI } from '@langchain/openai';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_GATEWAY_URL;
const key = process.env.LLMUX_GATEWAY_KEY;
if (!base || !key) {
    console.error('LLMUX_GATEWAY_URL / LLMUX_GATEWAY_KEY are not set (run run_responses_gateway.sh)');
    process.exit(2);
}
const openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0, timeout: 20_000 });
const vercel = createOpenAI({ apiKey: key, baseURL: `${base}/v1` });
const prompt = 'Introduce Python in one sentence';
const answer = (upstreamModel) => `Emulated answer from ${upstreamModel} to: ${prompt}`;

// Public model name -> the upstream model the emulator names in its answer.
const upstreams = {
    gpt: 'gpt-4o-mini',
    claude: 'claude-sonnet-4.6',
    gemini: 'gemini-2.0-flash',
    nova: 'amazon.nova-lite-v1:0',
    pro: 'gpt-5-pro',
};

const weatherParameters = {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
};
const weatherTool = {
    type: 'function',
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: weatherParameters,
    strict: true,
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

for (const [model, upstream] of Object.entries(upstreams)) {
    await check(`openai SDK responses.create, text from ${model} (${upstream})`, async () => {
        const r = await openai.responses.create({ model, input: prompt, instructions: 'Be brief.' });
        assert.equal(r.object, 'response');
        assert.ok(r.id.startsWith('resp_'), r.id);
        assert.equal(r.status, 'completed');
        assert.equal(r.model, model);
        assert.equal(r.output_text, answer(upstream));  // the SDK's own property
        assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
        assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
    });

    await check(`openai SDK responses.stream, text from ${model}`, async () => {
        const stream = openai.responses.stream({ model, input: [{ role: 'user', content: prompt }] });
        let text = '';
        const seen = [];
        let last = -1;
        for await (const event of stream) {
            assert.equal(event.sequence_number, last + 1, `sequence after ${seen.at(-1)}`);
            last = event.sequence_number;
            if (seen.at(-1) !== event.type) seen.push(event.type);
            if (event.type === 'response.output_text.delta') text += event.delta;
        }
        const final = await stream.finalResponse();
        assert.equal(text, answer(upstream));
        assert.equal(final.output_text, text);
        assert.equal(final.status, 'completed');
        assert.ok(final.usage.output_tokens > 0);
        assert.deepEqual(seen, ['response.created', 'response.in_progress', 'response.output_item.added',
            'response.content_part.added', 'response.output_text.delta', 'response.output_text.done',
            'response.content_part.done', 'response.output_item.done', 'response.completed']);
    });

    await check(`openai SDK tool-call loop through ${model}`, async () => {
        const input = [{ role: 'user', content: 'Weather in Oslo?' }];
        const first = await openai.responses.create({ model, input, tools: [weatherTool], tool_choice: 'required' });
        const call = first.output.find((item) => item.type === 'function_call');
        assert.ok(call, JSON.stringify(first.output));
        assert.equal(call.name, 'get_weather');
        assert.deepEqual(JSON.parse(call.arguments), { city: 'example' });
        // As the SDK's docs show it: the output items go back as they came, then the result.
        input.push(...first.output);
        input.push({ type: 'function_call_output', call_id: call.call_id, output: '{"temp_c":4}' });
        const second = await openai.responses.create({ model, input, tools: [weatherTool] });
        assert.equal(second.status, 'completed');
        assert.ok(second.output_text.includes('temp_c'), second.output_text);

        // Streamed: the call arrives as function_call_arguments deltas on the announced item.
        const stream = openai.responses.stream({ model, input: input.slice(0, 1), tools: [weatherTool], tool_choice: 'required' });
        let args = '';
        for await (const event of stream)
            if (event.type === 'response.function_call_arguments.delta') args += event.delta;
        const final = await stream.finalResponse();
        const streamedCall = final.output.find((item) => item.type === 'function_call');
        assert.equal(streamedCall.arguments, args);
        assert.deepEqual(JSON.parse(args), { city: 'example' });
    });

    await check(`openai SDK JSON schema (text.format) through ${model}`, async () => {
        const format = {
            type: 'json_schema', name: 'person', strict: true,
            schema: {
                type: 'object', additionalProperties: false, required: ['name', 'age'],
                properties: { name: { type: 'string' }, age: { type: 'integer' } },
            },
        };
        const r = await openai.responses.create({ model, input: 'Who?', text: { format } });
        assert.deepEqual(JSON.parse(r.output_text), { name: 'example', age: 1 });
        const stream = openai.responses.stream({ model, input: 'Who?', text: { format } });
        const final = await stream.finalResponse();
        assert.deepEqual(JSON.parse(final.output_text), { name: 'example', age: 1 });
    });
}

await check('openai SDK: previous_response_id is refused by name (a stateless gateway)', async () => {
    await assert.rejects(
        openai.responses.create({ model: 'gpt', input: 'again', previous_response_id: 'resp_1' }),
        (e) => e.status === 400 && e.param === 'previous_response_id' && /stateless/.test(e.message));
});

await check('openai SDK: an upstream 429 is a RateLimitError with retry-after', async () => {
    await assert.rejects(openai.responses.create({ model: 'gpt-limited', input: prompt }),
        (e) => e instanceof OpenAI.RateLimitError && e.headers.get('retry-after') === '3');
    await assert.rejects(
        (async () => { for await (const _ of openai.responses.stream({ model: 'gpt-limited', input: prompt })); })(),
        (e) => e.status === 429);
});

await check('openai SDK: a stream that fails upstream ends with an error, never a short answer', async () => {
    const stream = openai.responses.stream({ model: 'broken', input: prompt });
    let text = '';
    await assert.rejects((async () => {
        for await (const event of stream)
            if (event.type === 'response.output_text.delta') text += event.delta;
    })(), (e) => e instanceof OpenAI.APIError);
    assert.ok(text.length < answer('gpt-4o-mini').length);
});

// The Vercel AI SDK: `openai(model)` is the Responses API.
const weather = tool({
    description: 'Current weather in a city',
    inputSchema: jsonSchema(weatherParameters),
    execute: async ({ city }) => ({ city, temp_c: 4 }),
});
for (const model of ['gpt', 'claude', 'pro']) {
    await check(`Vercel AI SDK generateText and streamText through ${model}`, async () => {
        const r = await generateText({ model: vercel(model), prompt, maxRetries: 0 });
        assert.equal(r.text, answer(upstreams[model]));
        assert.equal(r.finishReason, 'stop');
        assert.ok(r.usage.outputTokens > 0);
        const s = streamText({ model: vercel(model), prompt, maxRetries: 0 });
        let text = '';
        for await (const piece of s.textStream) text += piece;
        assert.equal(text, answer(upstreams[model]));
        assert.equal(await s.finishReason, 'stop');
    });

    await check(`Vercel AI SDK tool loop (generateText, streamText) through ${model}`, async () => {
        const r = await generateText({
            model: vercel(model), prompt: 'Weather in Oslo?', tools: { get_weather: weather },
            toolChoice: 'required', stopWhen: stepCountIs(2), maxRetries: 0,
            prepareStep: ({ stepNumber }) => (stepNumber > 0 ? { toolChoice: 'auto' } : {}),
        });
        assert.equal(r.steps.length, 2);
        assert.equal(r.steps[0].toolCalls[0].toolName, 'get_weather');
        assert.deepEqual(r.steps[0].toolResults[0].output, { city: 'example', temp_c: 4 });
        assert.ok(r.text.includes('temp_c'), r.text);
        const s = streamText({
            model: vercel(model), prompt: 'Weather in Oslo?', tools: { get_weather: weather },
            toolChoice: 'required', stopWhen: stepCountIs(2), maxRetries: 0,
            prepareStep: ({ stepNumber }) => (stepNumber > 0 ? { toolChoice: 'auto' } : {}),
        });
        let text = '';
        for await (const piece of s.textStream) text += piece;
        assert.ok(text.includes('temp_c'), text);
        assert.equal((await s.steps).length, 2);
    });
}

// LangChain's ChatOpenAI on the Responses API.
for (const model of ['gpt', 'claude']) {
    await check(`LangChain ChatOpenAI useResponsesApi through ${model}`, async () => {
        const llm = new ChatOpenAI({
            model, apiKey: key, useResponsesApi: true, maxRetries: 0,
            configuration: { baseURL: `${base}/v1` },
        });
        const r = await llm.invoke(prompt);
        assert.equal(r.text, answer(upstreams[model]));
        let text = '';
        for await (const chunk of await llm.stream(prompt)) text += chunk.text;
        assert.equal(text, answer(upstreams[model]));

        // LangChain takes tools in Chat Completions' shape and writes them flat itself.
        const chatTool = { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: weatherParameters } };
        const withTools = llm.bindTools([chatTool], { tool_choice: 'required' });
        const question = new HumanMessage('Weather in Oslo?');
        const first = await withTools.invoke([question]);
        assert.equal(first.tool_calls.length, 1);
        const call = first.tool_calls[0];
        assert.equal(call.name, 'get_weather');
        assert.deepEqual(call.args, { city: 'example' });
        const second = await llm.bindTools([chatTool]).invoke([
            question, first, new ToolMessage({ tool_call_id: call.id, content: '{"temp_c":4}' })]);
        assert.ok(second.text.includes('temp_c'), second.text);
    });
}

if (failures) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
}
console.log('all Responses API checks passed');
