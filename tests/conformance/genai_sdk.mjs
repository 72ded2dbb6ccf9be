// SPDX-License-Identifier: BSL-1.0
// The official Google Gen AI Node SDK (@google/genai) as a real client of `llmux emulate`'s
// Gemini protocol: generateContent, generateContentStream, chats, function calling (whole
// calls, OpenAPI-style and JSON-schema parameters), JSON answers, and errors that must surface
// as the SDK's ApiError with the HTTP status. Any warning the SDK prints fails the run.
// Run by run_genai_sdk.sh, which starts the emulator and sets LLMUX_EMULATOR_URL.
import { GoogleGenAI, ApiError, Type, FunctionCallingConfigMode } from '@google/genai';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_EMULATOR_URL;
if (!base) {
    console.error('LLMUX_EMULATOR_URL is not set (run this through run_genai_sdk.sh)');
    process.exit(2);
}

// The SDK reports problems it tolerates (non-text parts read as text, several candidates, a
// missing key...) with console.warn or console.error: every one of them is a failure here.
const complaints = [];
for (const level of ['warn', 'error']) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
        complaints.push(`console.${level}: ${args.join(' ')}`);
        original(...args);
    };
}
process.on('warning', (w) => complaints.push(`process warning: ${w.name}: ${w.message}`));

// The SDK appends /v1beta/models/{model}:generateContent to the base URL.
const ai = new GoogleGenAI({ apiKey: 'emulator-key', httpOptions: { baseUrl: base, timeout: 15_000 } });
const model = 'gemini-2.0-flash';
const prompt = 'Introduce Python in one sentence';
const expected = `Emulated answer from ${model} to: ${prompt}`;

const weatherDeclaration = {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
        type: Type.OBJECT,
        properties: { city: { type: Type.STRING }, days: { type: Type.INTEGER } },
        required: ['city'],
    },
};

let failures = 0;
async function check(name, fn) {
    const before = complaints.length;
    try {
        await fn();
        if (complaints.length > before) throw new Error(`the SDK complained: ${complaints.slice(before).join('; ')}`);
        process.stdout.write(`ok   ${name}\n`);
    } catch (e) {
        failures++;
        process.stderr.write(`FAIL ${name}: ${e?.stack ?? e}\n`);
    }
}

await check('generateContent', async () => {
    const r = await ai.models.generateContent({ model, contents: prompt });
    assert.equal(r.text, expected);
    assert.equal(r.candidates.length, 1);
    assert.equal(r.candidates[0].finishReason, 'STOP');
    assert.equal(r.candidates[0].content.role, 'model');
    assert.equal(r.modelVersion, model);
    assert.match(r.responseId, /^emu-\d+$/);
    assert.equal(r.usageMetadata.candidatesTokenCount, 10);
    assert.equal(r.usageMetadata.promptTokenCount, 8);
    assert.equal(r.usageMetadata.totalTokenCount, 18);
    assert.equal(r.functionCalls, undefined);
});

await check('generateContent with config: system instruction, maxOutputTokens, directives', async () => {
    const plain = await ai.models.generateContent({ model, contents: prompt });
    const r = await ai.models.generateContent({
        model,
        contents: prompt,
        config: { systemInstruction: 'x'.repeat(400), temperature: 0.2, topP: 0.9, seed: 7, stopSequences: ['END'] },
    });
    assert.equal(r.text, expected);
    assert.equal(r.usageMetadata.promptTokenCount, plain.usageMetadata.promptTokenCount + 100);

    const cut = await ai.models.generateContent({
        model: `${model}~tokens=30`, contents: prompt, config: { maxOutputTokens: 4 },
    });
    assert.equal(cut.text, 'Lorem ipsum dolor sit');
    assert.equal(cut.candidates[0].finishReason, 'MAX_TOKENS');
    assert.equal(cut.modelVersion, model);
});

await check('generateContentStream', async () => {
    let text = '';
    let chunks = 0;
    let last = null;
    for await (const chunk of await ai.models.generateContentStream({ model, contents: prompt })) {
        chunks++;
        text += chunk.text ?? '';
        assert.ok(chunk.usageMetadata, 'every chunk reports usage so far');
        last = chunk;
    }
    assert.equal(text, expected);
    assert.equal(chunks, 11);  // ten words, then the finishing chunk
    assert.equal(last.candidates[0].finishReason, 'STOP');
    assert.equal(last.usageMetadata.candidatesTokenCount, 10);
    assert.equal(last.usageMetadata.totalTokenCount, last.usageMetadata.promptTokenCount + 10);
    assert.match(last.responseId, /^emu-\d+$/);
});

await check('a scripted, paced model streams the same answer', async () => {
    let text = '';
    let chunks = 0;
    for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-slow', contents: prompt })) {
        text += chunk.text ?? '';
        chunks++;
    }
    assert.equal(text, `Emulated answer from gemini-slow to: ${prompt}`);
    assert.equal(chunks, 11);
});

await check('chats: sendMessage keeps the history', async () => {
    const chat = ai.chats.create({ model, config: { systemInstruction: 'You are terse.' } });
    const first = await chat.sendMessage({ message: 'hi' });
    assert.equal(first.text, `Emulated answer from ${model} to: hi`);
    const second = await chat.sendMessage({ message: 'and a second question' });
    assert.equal(second.text, `Emulated answer from ${model} to: and a second question`);
    const history = chat.getHistory();
    assert.deepEqual(history.map((c) => c.role), ['user', 'model', 'user', 'model']);
    // The history is sent back: the prompt grew.
    assert.ok(second.usageMetadata.promptTokenCount > first.usageMetadata.promptTokenCount);

    let streamed = '';
    for await (const chunk of await chat.sendMessageStream({ message: 'third' })) streamed += chunk.text ?? '';
    assert.equal(streamed, `Emulated answer from ${model} to: third`);
    // The SDK records every streamed chunk's content as a model turn of its own.
    const after = chat.getHistory().slice(4);
    assert.equal(after[0].role, 'user');
    assert.ok(after.length > 2 && after.slice(1).every((c) => c.role === 'model'));
    assert.equal(after.slice(1).flatMap((c) => c.parts).map((p) => p.text ?? '').join(''), streamed);
    // ... and sends them all back, which the server accepts.
    const fourth = await chat.sendMessage({ message: 'fourth' });
    assert.equal(fourth.text, `Emulated answer from ${model} to: fourth`);
});

await check('function calling round trip', async () => {
    const tools = [{ functionDeclarations: [weatherDeclaration] }];
    const question = { role: 'user', parts: [{ text: 'Weather in Oslo?' }] };
    const first = await ai.models.generateContent({ model, contents: [question], config: { tools } });
    assert.equal(first.candidates[0].finishReason, 'STOP');
    assert.equal(first.functionCalls.length, 1);
    const call = first.functionCalls[0];
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(call.args, { city: 'example' });

    const second = await ai.models.generateContent({
        model,
        config: { tools },
        contents: [
            question,
            first.candidates[0].content,
            { role: 'user', parts: [{ functionResponse: { name: call.name, response: { temp_c: 4 } } }] },
        ],
    });
    assert.equal(second.functionCalls, undefined);
    assert.equal(second.candidates[0].finishReason, 'STOP');
    assert.ok(second.text.includes('{"temp_c":4}'), second.text);
});

await check('function calling: JSON-schema parameters, ANY with allowed names, streamed', async () => {
    const tools = [{
        functionDeclarations: [
            { name: 'now', description: 'The time' },
            {
                name: 'lookup',
                parametersJsonSchema: {
                    type: 'object',
                    properties: { name: { type: 'string' }, exact: { type: 'boolean' } },
                    required: ['name', 'exact'],
                },
            },
        ],
    }];
    const config = {
        tools,
        toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ['lookup'] } },
    };
    const calls = [];
    let finish = null;
    for await (const chunk of await ai.models.generateContentStream({ model, contents: 'Look it up', config })) {
        if (chunk.functionCalls) calls.push(...chunk.functionCalls);
        finish = chunk.candidates?.[0]?.finishReason ?? finish;
    }
    assert.equal(calls.length, 1);  // the call arrives whole, in one chunk
    assert.equal(calls[0].name, 'lookup');
    assert.deepEqual(calls[0].args, { name: 'example', exact: true });
    assert.equal(finish, 'STOP');

    const none = await ai.models.generateContent({
        model, contents: prompt,
        config: { tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.NONE } } },
    });
    assert.equal(none.text, expected);
});

await check('JSON answers', async () => {
    const schema = {
        type: Type.OBJECT,
        properties: { name: { type: Type.STRING }, age: { type: Type.INTEGER }, langs: { type: Type.ARRAY, items: { type: Type.STRING } } },
        required: ['name', 'age', 'langs'],
    };
    const r = await ai.models.generateContent({
        model, contents: prompt, config: { responseMimeType: 'application/json', responseSchema: schema },
    });
    assert.deepEqual(JSON.parse(r.text), { name: 'example', age: 1, langs: [] });

    const j = await ai.models.generateContent({
        model, contents: prompt,
        config: {
            responseMimeType: 'application/json',
            responseJsonSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
        },
    });
    assert.deepEqual(JSON.parse(j.text), { ok: true });

    const o = await ai.models.generateContent({ model, contents: prompt, config: { responseMimeType: 'application/json' } });
    assert.equal(typeof JSON.parse(o.text), 'object');
});

await check('429 is an ApiError with status 429 and RetryInfo', async () => {
    await assert.rejects(
        ai.models.generateContent({ model: `${model}~error=429,retry_after=17s`, contents: prompt }),
        (e) => {
            assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
            assert.equal(e.status, 429);
            const body = JSON.parse(e.message);
            assert.equal(body.error.code, 429);
            assert.equal(body.error.status, 'RESOURCE_EXHAUSTED');
            const retry = body.error.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo');
            assert.equal(retry?.retryDelay, '17s');
            return true;
        });
});

await check('other statuses are ApiErrors with Google status strings', async () => {
    const cases = [[400, 'INVALID_ARGUMENT'], [403, 'PERMISSION_DENIED'], [404, 'NOT_FOUND'],
        [500, 'INTERNAL'], [503, 'UNAVAILABLE'], [504, 'DEADLINE_EXCEEDED']];
    for (const [status, name] of cases) {
        await assert.rejects(
            ai.models.generateContent({ model: `${model}~error=${status}`, contents: prompt }),
            (e) => {
                assert.ok(e instanceof ApiError, `status ${status}: got ${e?.constructor?.name}`);
                assert.equal(e.status, status);
                assert.equal(JSON.parse(e.message).error.status, name);
                return true;
            });
    }
});

await check('a blank API key is API_KEY_INVALID', async () => {
    // The SDK insists on a key; blank its header on the wire instead.
    const anonymous = new GoogleGenAI({
        apiKey: 'unused',
        httpOptions: { baseUrl: base, headers: { 'x-goog-api-key': '' } },
    });
    await assert.rejects(anonymous.models.generateContent({ model, contents: prompt }), (e) => {
        assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 400);
        const body = JSON.parse(e.message);
        assert.equal(body.error.status, 'INVALID_ARGUMENT');
        assert.equal(body.error.details[0].reason, 'API_KEY_INVALID');
        return true;
    });
});

await check('an error event mid-stream raises an ApiError', async () => {
    let text = '';
    await assert.rejects((async () => {
        for await (const chunk of await ai.models.generateContentStream({
            model: `${model}~fault=error_mid,after=2`, contents: prompt,
        })) text += chunk.text ?? '';
    })(), (e) => {
        assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 500);
        return true;
    });
    assert.equal(text, 'Emulated answer');
});

if (failures) {
    process.stderr.write(`${failures} check(s) failed\n`);
    process.exit(1);
}
console.log('GENAI SDK CONFORMANCE OK');
