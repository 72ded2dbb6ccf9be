// SPDX-License-Identifier: BSL-1.0
// The official Google Gen AI Node SDK (@google/genai) as a real client of `llmux serve`, whose
// upstreams are the built-in emulator speaking OpenAI's and Anthropic's wire formats: the
// gateway answers in Gemini's. Both of the SDK's modes: the Gemini API (AI Studio: the gateway
// key as the API key) and Vertex AI (`vertexai: true`, pointed at the gateway by
// httpOptions.baseUrl, the gateway key as the OAuth Bearer token). Checks: generateContent,
// generateContentStream, a function call round trip (whole and streamed), countTokens, the
// model list, a bad key, an unknown model and an upstream 429 as the SDK's ApiError with
// Google's RESOURCE_EXHAUSTED and RetryInfo; embedContent in both modes (batchEmbedContents
// and Vertex's predict) to OpenAI and Gemini upstreams. Any warning the SDK prints fails the run.
// Run by run_genai_gateway.sh, which writes the configuration, starts the gateway and sets
// LLMUX_GATEWAY_URL and LLMUX_GATEWAY_KEY.
import { GoogleGenAI, ApiError, Type, FunctionCallingConfigMode } from '@google/genai';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_GATEWAY_URL;
const key = process.env.LLMUX_GATEWAY_KEY;
if (!base || !key) {
    console.error('LLMUX_GATEWAY_URL / LLMUX_GATEWAY_KEY are not set (run run_genai_gateway.sh)');
    process.exit(2);
}

const complaints = [];
for (const level of ['warn', 'error']) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
        complaints.push(`console.${level}: ${args.join(' ')}`);
        original(...args);
    };
}
process.on('warning', (w) => complaints.push(`process warning: ${w.name}: ${w.message}`));

const httpOptions = { baseUrl: base, timeout: 20_000 };
// The Gemini API: the SDK appends /v1beta/models/{model}:generateContent and sends the key as
// x-goog-api-key.
const studio = new GoogleGenAI({ apiKey: key, httpOptions });
// Vertex AI: /v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:..., with an
// OAuth token from google-auth-library; an auth client that hands out the gateway key stands in
// for a service account.
const bearer = (token) => ({
    getRequestHeaders: async () => new Headers({ authorization: `Bearer ${token}` }),
});
const vertex = new GoogleGenAI({
    vertexai: true, project: 'llmux-test', location: 'us-central1', httpOptions,
    googleAuthOptions: { authClient: bearer(key) },
});

const prompt = 'Introduce Python in one sentence';
const answer = (upstream) => `Emulated answer from ${upstream} to: ${prompt}`;
// Public model name -> the upstream model the emulator names in its answer.
const upstreams = {
    gpt: 'gpt-4o-mini',
    claude: 'claude-sonnet-4.6',
    gemini: 'gemini-2.0-flash',
    nova: 'amazon.nova-lite-v1:0',
};

const weatherDeclaration = {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
        type: Type.OBJECT,
        properties: { city: { type: Type.STRING } },
        required: ['city'],
    },
};

let failures = 0;
async function check(name, fn) {
    const before = complaints.length;
    try {
        await fn();
        if (complaints.length > before) throw new Error(`the SDK complained: ${complaints.slice(before).join('; ')}`);
        console.log(`ok   ${name}`);
    } catch (e) {
        failures++;
        console.error(`FAIL ${name}: ${e?.stack ?? e}`);
    }
}

for (const [mode, ai] of [['gemini api', studio], ['vertex ai', vertex]]) {
    for (const [model, upstream] of Object.entries(upstreams)) {
        await check(`${mode}: generateContent from ${model} (${upstream})`, async () => {
            const r = await ai.models.generateContent({ model, contents: prompt });
            assert.equal(r.text, answer(upstream));
            assert.equal(r.candidates.length, 1);
            assert.equal(r.candidates[0].finishReason, 'STOP');
            assert.equal(r.candidates[0].content.role, 'model');
            assert.equal(r.modelVersion, model);
            assert.ok(r.responseId);
            const u = r.usageMetadata;
            assert.ok(u.promptTokenCount > 0 && u.candidatesTokenCount > 0);
            assert.equal(u.totalTokenCount, u.promptTokenCount + u.candidatesTokenCount);
            assert.equal(r.functionCalls, undefined);
        });

        await check(`${mode}: generateContentStream from ${model}`, async () => {
            let text = '';
            let last = null;
            let chunks = 0;
            for await (const chunk of await ai.models.generateContentStream({ model, contents: prompt })) {
                text += chunk.text ?? '';
                last = chunk;
                chunks++;
            }
            assert.equal(text, answer(upstream));
            assert.ok(chunks > 2, `${chunks} chunks`);
            assert.equal(last.candidates[0].finishReason, 'STOP');
            assert.ok(last.usageMetadata.candidatesTokenCount > 0);
        });

        await check(`${mode}: function call round trip with ${model}`, async () => {
            const tools = [{ functionDeclarations: [weatherDeclaration] }];
            const config = { tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY } } };
            const question = { role: 'user', parts: [{ text: 'Weather in Oslo?' }] };
            const first = await ai.models.generateContent({ model, contents: [question], config });
            assert.equal(first.candidates[0].finishReason, 'STOP');
            assert.equal(first.functionCalls.length, 1);
            const call = first.functionCalls[0];
            assert.equal(call.name, 'get_weather');
            assert.equal(typeof call.args.city, 'string');
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
            assert.ok(second.text.includes('{"temp_c":4}'), second.text);

            const calls = [];
            let finish = null;
            for await (const chunk of await ai.models.generateContentStream({ model, contents: [question], config })) {
                if (chunk.functionCalls) calls.push(...chunk.functionCalls);
                finish = chunk.candidates?.[0]?.finishReason ?? finish;
            }
            assert.equal(calls.length, 1);  // the call arrives whole, in one chunk
            assert.equal(calls[0].name, 'get_weather');
            assert.equal(finish, 'STOP');
        });
    }

    await check(`${mode}: countTokens`, async () => {
        const small = await ai.models.countTokens({ model: 'gpt', contents: 'hi' });
        const big = await ai.models.countTokens({ model: 'gpt', contents: 'x'.repeat(400) });
        assert.ok(small.totalTokens > 0);
        assert.ok(big.totalTokens > small.totalTokens);
    });

    for (const model of Object.keys(upstreams)) await check(`${mode}: an upstream 429 from ${model} is an ApiError with RESOURCE_EXHAUSTED and RetryInfo`, async () => {
        await assert.rejects(ai.models.generateContent({ model: `${model}-limited`, contents: prompt }), (e) => {
            assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
            assert.equal(e.status, 429);
            const body = JSON.parse(e.message);
            assert.equal(body.error.code, 429);
            assert.equal(body.error.status, 'RESOURCE_EXHAUSTED');
            const retry = body.error.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo');
            assert.equal(retry?.retryDelay, '7s');
            return true;
        });
    });

    await check(`${mode}: an unknown model is an ApiError 404 NOT_FOUND`, async () => {
        await assert.rejects(ai.models.generateContent({ model: 'nobody', contents: prompt }), (e) => {
            assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
            assert.equal(e.status, 404);
            assert.equal(JSON.parse(e.message).error.status, 'NOT_FOUND');
            return true;
        });
    });
}

await check('gemini api: a bad key is an ApiError 401', async () => {
    const wrong = new GoogleGenAI({ apiKey: 'not-the-key', httpOptions });
    await assert.rejects(wrong.models.generateContent({ model: 'gpt', contents: prompt }), (e) => {
        assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 401);
        assert.equal(JSON.parse(e.message).error.status, 'UNAUTHENTICATED');
        assert.ok(!e.message.includes('not-the-key'));
        return true;
    });
});

await check('vertex ai: a bad token is an ApiError 401', async () => {
    const wrong = new GoogleGenAI({
        vertexai: true, project: 'p', location: 'us-central1', httpOptions,
        googleAuthOptions: { authClient: bearer('not-the-key') },
    });
    await assert.rejects(wrong.models.generateContent({ model: 'gpt', contents: prompt }), (e) => {
        assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 401);
        return true;
    });
});

await check('a gateway model name with a slash, in both modes (Vertex AI: publishers/team/models/gpt)', async () => {
    for (const ai of [studio, vertex]) {
        const r = await ai.models.generateContent({ model: 'team/gpt', contents: prompt });
        assert.equal(r.text, answer('gpt-4o-mini'));
        assert.equal(r.modelVersion, 'team/gpt');
    }
});

await check('gemini api: models.list lists the gateway models', async () => {
    const names = [];
    for await (const m of await studio.models.list()) names.push(m.name);
    assert.ok(names.includes('models/gpt'), names.join(', '));
    assert.ok(names.includes('models/claude'), names.join(', '));
});

const embedInputs = ['alpha', 'beta gamma', 'alpha'];

await check('embedContent: the Gemini API and Vertex AI give the same vectors, in order', async () => {
    const s = await studio.models.embedContent({ model: 'embed', contents: embedInputs });
    assert.equal(s.embeddings.length, 3);
    for (const e of s.embeddings) assert.equal(e.values.length, 1536);
    assert.deepEqual(s.embeddings[0].values, s.embeddings[2].values);
    assert.notDeepEqual(s.embeddings[0].values, s.embeddings[1].values);
    const v = await vertex.models.embedContent({ model: 'embed', contents: embedInputs });
    assert.equal(v.embeddings.length, 3);
    v.embeddings.forEach((e, i) => assert.deepEqual(e.values, s.embeddings[i].values));
    // Vertex AI reports each input's tokens; their sum is what the upstream counted (7).
    const tokens = v.embeddings.reduce((n, e) => n + e.statistics.tokenCount, 0);
    assert.equal(tokens, 7);
});

await check('embedContent with taskType, title and outputDimensionality to a Gemini upstream', async () => {
    const config = { taskType: 'RETRIEVAL_DOCUMENT', title: 'Doc', outputDimensionality: 64 };
    const r = await studio.models.embedContent({ model: 'gemini-embed', contents: ['one', 'two'], config });
    assert.equal(r.embeddings.length, 2);
    for (const e of r.embeddings) {
        assert.equal(e.values.length, 64);
        assert.ok(Math.abs(Math.hypot(...e.values) - 1) < 1e-4);
    }
});

await check('embedContent: a task type the upstream cannot take is a 400, not dropped', async () => {
    await assert.rejects(
        studio.models.embedContent({ model: 'embed', contents: ['x'], config: { taskType: 'RETRIEVAL_QUERY' } }),
        (e) => {
            assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
            assert.equal(e.status, 400);
            assert.match(e.message, /task/);
            return true;
        });
});

if (failures) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
}
console.log('GENAI GATEWAY CONFORMANCE OK');
