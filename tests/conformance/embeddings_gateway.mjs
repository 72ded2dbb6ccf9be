// SPDX-License-Identifier: BSL-1.0
// The official OpenAI Node SDK's `embeddings.create` as a client of `llmux serve`'s
// POST /v1/embeddings, whose upstreams are the built-in emulator. Checks: float vectors, the
// SDK's default (it asks for base64 and decodes it itself) giving the same vectors bit for bit,
// an explicit base64 answer, dimensions, a single string, a missing and a wrong key, an upstream
// 429 as RateLimitError, a model whose upstream has no embeddings as BadRequestError naming it,
// token arrays refused naming `input`. Any warning the SDK logs fails the run. Then the Vercel AI
// SDK's `embed` and `embedMany` (through @ai-sdk/openai, which asks for floats): the same bits
// as the openai SDK for the same inputs, usage, dimensions, and an upstream 429 as its
// APICallError with the status.
// Run by run_embeddings_gateway.sh, which writes the configuration, starts the gateway and sets
// LLMUX_GATEWAY_URL and LLMUX_GATEWAY_KEY.
import OpenAI from 'openai';
import { embed, embedMany, APICallError } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_GATEWAY_URL;
const key = process.env.LLMUX_GATEWAY_KEY;
if (!base || !key) {
    console.error('LLMUX_GATEWAY_URL / LLMUX_GATEWAY_KEY are not set (run run_embeddings_gateway.sh)');
    process.exit(2);
}
const complaints = [];
const logger = {
    error: (...a) => complaints.push(['error', ...a]),
    warn: (...a) => complaints.push(['warn', ...a]),
    info: () => {},
    debug: () => {},
};
const options = { baseURL: `${base}/v1`, maxRetries: 0, timeout: 20_000, logger, logLevel: 'warn' };
const client = new OpenAI({ apiKey: key, ...options });
const inputs = ['alpha', 'beta gamma', 'alpha'];

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

/// The float32 bits of a vector, to compare exactly.
const bits = (v) => Array.from(new Uint32Array(Float32Array.from(v).buffer));
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

let floats = null;
await check('encoding_format float', async () => {
    const r = await client.embeddings.create({ model: 'embed', input: inputs, encoding_format: 'float' });
    assert.equal(r.object, 'list');
    assert.equal(r.model, 'embed');
    assert.equal(r.data.length, 3);
    r.data.forEach((d, i) => {
        assert.equal(d.object, 'embedding');
        assert.equal(d.index, i);
        assert.ok(Array.isArray(d.embedding));
        assert.equal(d.embedding.length, 1536);
        assert.ok(Math.abs(norm(d.embedding) - 1) < 1e-4);
    });
    assert.deepEqual(bits(r.data[0].embedding), bits(r.data[2].embedding));  // same input
    assert.notDeepEqual(bits(r.data[0].embedding), bits(r.data[1].embedding));
    assert.equal(r.usage.prompt_tokens, 7);
    assert.equal(r.usage.total_tokens, 7);
    floats = r.data.map((d) => d.embedding);
});

await check('the SDK default (base64 on the wire, decoded by the SDK) gives the same bits', async () => {
    const r = await client.embeddings.create({ model: 'embed', input: inputs });
    assert.equal(r.data.length, 3);
    r.data.forEach((d, i) => {
        assert.ok(Array.isArray(d.embedding), 'the SDK decodes to an array of numbers');
        assert.deepEqual(bits(d.embedding), bits(floats[i]));
    });
});

await check('encoding_format base64: little-endian float32', async () => {
    const r = await client.embeddings.create({ model: 'embed', input: inputs, encoding_format: 'base64' });
    r.data.forEach((d, i) => {
        assert.equal(typeof d.embedding, 'string');
        const buf = Buffer.from(d.embedding, 'base64');
        assert.equal(buf.length, 4 * 1536);
        const v = [];
        for (let k = 0; k < buf.length; k += 4) v.push(buf.readFloatLE(k));
        assert.deepEqual(bits(v), bits(floats[i]));
    });
});

await check('dimensions and a single string', async () => {
    const r = await client.embeddings.create({ model: 'embed', input: 'one text', dimensions: 256 });
    assert.equal(r.data.length, 1);
    assert.equal(r.data[0].embedding.length, 256);
    assert.ok(Math.abs(norm(r.data[0].embedding) - 1) < 1e-4);
});

await check('a wrong key is AuthenticationError', async () => {
    const bad = new OpenAI({ apiKey: 'sk-wrong', ...options });
    await fails(() => bad.embeddings.create({ model: 'embed', input: 'x' }), OpenAI.AuthenticationError);
});

await check('an upstream 429 is RateLimitError', async () => {
    await fails(() => client.embeddings.create({ model: 'embed-limited', input: 'x' }), OpenAI.RateLimitError);
});

await check('a model whose upstream has no embeddings is BadRequestError naming it', async () => {
    const e = await fails(() => client.embeddings.create({ model: 'claude', input: 'x' }),
                          OpenAI.BadRequestError);
    assert.equal(e.status, 400);
    assert.equal(e.code, 'unsupported');
    assert.match(e.message, /'claude'/);
});

await check('token arrays are refused naming input', async () => {
    const e = await fails(() => client.embeddings.create({ model: 'embed', input: [[1, 2, 3]] }),
                          OpenAI.BadRequestError);
    assert.equal(e.param, 'input');
});

// The Vercel AI SDK, as its docs show it with a custom base URL.
const vercel = createOpenAI({ baseURL: `${base}/v1`, apiKey: key });

await check('Vercel AI SDK embed: one value, the same bits as the openai SDK', async () => {
    const r = await embed({ model: vercel.embedding('embed'), value: 'alpha', maxRetries: 0 });
    assert.equal(r.embedding.length, 1536);
    assert.deepEqual(bits(r.embedding), bits(floats[0]));
    assert.equal(r.usage.tokens, 2);
    assert.deepEqual(r.warnings, []);
});

await check('Vercel AI SDK embedMany: vectors in input order, usage summed', async () => {
    const r = await embedMany({ model: vercel.embedding('embed'), values: inputs, maxRetries: 0 });
    assert.equal(r.embeddings.length, 3);
    r.embeddings.forEach((v, i) => assert.deepEqual(bits(v), bits(floats[i])));
    assert.equal(r.usage.tokens, 7);
    assert.deepEqual(r.warnings, []);
});

await check('Vercel AI SDK embedMany with dimensions', async () => {
    const r = await embedMany({
        model: vercel.embedding('embed'), values: ['one', 'two'], maxRetries: 0,
        providerOptions: { openai: { dimensions: 64 } },
    });
    assert.equal(r.embeddings.length, 2);
    for (const v of r.embeddings) {
        assert.equal(v.length, 64);
        assert.ok(Math.abs(norm(v) - 1) < 1e-4);
    }
});

await check('Vercel AI SDK: an upstream 429 is APICallError with the status', async () => {
    try {
        await embed({ model: vercel.embedding('embed-limited'), value: 'x', maxRetries: 0 });
        assert.fail('expected APICallError, but the call succeeded');
    } catch (e) {
        assert.ok(APICallError.isInstance(e), `expected APICallError, got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.statusCode, 429);
        assert.equal(e.isRetryable, true);
    }
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
console.log('OPENAI AND VERCEL AI SDK EMBEDDINGS THROUGH THE GATEWAY OK');
