// SPDX-License-Identifier: BSL-1.0
// The same embedding fan-out as bench_embed, done by the official `openai` Node SDK: N
// `embeddings.create` calls of K texts each at concurrency C against the same server. Prints
// the same JSON line.
//
//   node benchmarks/node/embed.mjs --base-url http://127.0.0.1:PORT/v1 [-n 5000] [-c 64] [-k 16]
//       [--dimensions D] [--encoding base64|float] [--model text-embedding-3-small]
//
// --encoding base64 is the SDK's default: it sends `encoding_format: "base64"` and decodes the
// vectors to arrays of numbers itself. --encoding float passes `encoding_format: "float"`, and
// the SDK returns the server's JSON arrays as they are. Either way the caller gets numbers, as
// llmux's caller gets floats. Every answer is checked as bench_embed checks it.
// The SDK is taken from tests/conformance/node_modules (run `npm ci` there first).
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(new URL('../../tests/conformance/package.json', import.meta.url));
const OpenAI = require('openai').default ?? require('openai');

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const baseURL = opt('--base-url');
const n = Number(opt('-n', 5000));
const conc = Number(opt('-c', 64));
const k = Number(opt('-k', 16));
const dimensions = opt('--dimensions') ? Number(opt('--dimensions')) : undefined;
const encoding = opt('--encoding', 'base64');
const model = opt('--model', 'text-embedding-3-small');
if (!baseURL || !(n > 0) || !(conc > 0) || !(k > 0) || !['base64', 'float'].includes(encoding) ||
    (dimensions !== undefined && !(dimensions > 0))) {
  console.error('usage: embed.mjs --base-url URL [-n N] [-c C] [-k K] [--dimensions D] [--encoding base64|float]');
  process.exit(2);
}

const client = new OpenAI({ apiKey: 'bench-key', baseURL, maxRetries: 0, timeout: 60_000 });
/// Text `j` of call `i`: the texts bench_embed sends.
const textOf = (i, j) => `benchmark passage ${i}.${j}: the quick brown fox jumps over the lazy dog`;
const lat = [];
let started = 0, failed = 0, vectors = 0, length, firstError = '';

async function worker() {
  while (started < n) {
    const call = started++;
    const t0 = performance.now();
    let why = '';
    try {
      const body = { model, input: Array.from({ length: k }, (_, j) => textOf(call, j)) };
      if (dimensions !== undefined) body.dimensions = dimensions;
      // Left out for base64: the SDK then asks for base64 and decodes it (its default path).
      if (encoding === 'float') body.encoding_format = 'float';
      const r = await client.embeddings.create(body);
      if (r.data.length !== k) why = `${r.data.length} vectors for ${k} inputs`;
      else {
        const want = dimensions ?? length ?? r.data[0].embedding.length;
        length ??= want;
        for (const d of r.data) {
          if (!Array.isArray(d.embedding)) why = `a vector that is not an array: ${typeof d.embedding}`;
          else if (d.embedding.length !== want) why = `a vector of ${d.embedding.length} values, not ${want}`;
        }
      }
      if (!why) vectors += r.data.length;
    } catch (e) { why = String(e); }
    if (why) { failed++; if (!firstError) firstError = why; }
    lat.push(performance.now() - t0);
  }
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(Array.from({ length: conc }, worker));
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
lat.sort((a, b) => a - b);
const pct = (q) => lat.length ? lat[Math.round(q * (lat.length - 1))] : 0;
const rssMb = process.resourceUsage().maxRSS / 1024;
const cpuUs = (cpu.user + cpu.system) / n;
console.log(`openai Node SDK: ${n} embed calls of ${k} inputs (${length ?? 0} dimensions, ${encoding}) ` +
  `at concurrency ${conc} in ${wall.toFixed(3)} s`);
console.log(`  throughput   ${(n / wall).toFixed(0).padStart(10)} req/s  ${(vectors / wall).toFixed(0).padStart(10)} inputs/s`);
console.log(`  client CPU   ${cpuUs.toFixed(2).padStart(10)} us/req`);
console.log(`  latency      p50 ${pct(0.5).toFixed(3)} ms  p99 ${pct(0.99).toFixed(3)} ms`);
console.log(`  peak RSS     ${rssMb.toFixed(1).padStart(10)} MiB`);
if (failed) console.log(`  failures ${failed}; first: ${firstError}`);
console.log(JSON.stringify({ client: 'openai-node', n, concurrency: conc, inputs_per_call: k,
  dimensions: length ?? 0, encoding, seconds: wall, rps: n / wall, inputs_per_s: vectors / wall,
  cpu_us_per_req: cpuUs, p50_ms: pct(0.5), p99_ms: pct(0.99), peak_rss_mb: rssMb, failures: failed }));
process.exit(failed ? 1 : 0);
