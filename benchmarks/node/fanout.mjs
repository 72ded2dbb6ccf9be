// SPDX-License-Identifier: BSL-1.0
// The same fan-out as bench_fanout, done by the official `openai` Node SDK: N chat calls at
// concurrency C against the same server. Prints the same JSON line.
//
//   node benchmarks/node/fanout.mjs --base-url http://127.0.0.1:PORT/v1 [-n 10000] [-c 256] [--stream]
// The SDK is taken from tests/conformance/node_modules (run `npm ci` there first).
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(new URL('../../tests/conformance/package.json', import.meta.url));
const OpenAI = require('openai').default ?? require('openai');

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const baseURL = opt('--base-url');
const n = Number(opt('-n', 10000));
const conc = Number(opt('-c', 256));
const stream = args.includes('--stream');
const model = opt('--model', 'gpt-4o-mini');
if (!baseURL) { console.error('usage: fanout.mjs --base-url URL [-n N] [-c C] [--stream]'); process.exit(2); }

const client = new OpenAI({ apiKey: 'bench-key', baseURL, maxRetries: 0, timeout: 60_000 });
const messages = [{ role: 'user', content: 'Introduce Python in one sentence' }];
const lat = [];
let started = 0, failed = 0, firstError = '';

async function worker() {
  while (started < n) {
    started++;
    const t0 = performance.now();
    try {
      if (stream) {
        const s = await client.chat.completions.create({ model, messages, stream: true,
          stream_options: { include_usage: true } });
        for await (const _ of s) { /* drain */ }
      } else {
        await client.chat.completions.create({ model, messages });
      }
    } catch (e) { failed++; if (!firstError) firstError = String(e); }
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
console.log(`openai Node SDK: ${n} ${stream ? 'streamed' : 'chat'} calls at concurrency ${conc} in ${wall.toFixed(3)} s`);
console.log(`  throughput   ${(n / wall).toFixed(0).padStart(10)} req/s`);
console.log(`  client CPU   ${cpuUs.toFixed(2).padStart(10)} us/req`);
console.log(`  latency      p50 ${pct(0.5).toFixed(3)} ms  p99 ${pct(0.99).toFixed(3)} ms`);
console.log(`  peak RSS     ${rssMb.toFixed(1).padStart(10)} MiB`);
if (failed) console.log(`  failures ${failed}; first: ${firstError}`);
console.log(JSON.stringify({ client: 'openai-node', n, concurrency: conc, stream, seconds: wall,
  rps: n / wall, cpu_us_per_req: cpuUs, p50_ms: pct(0.5), p99_ms: pct(0.99),
  peak_rss_mb: rssMb, failures: failed }));
process.exit(failed ? 1 : 0);
