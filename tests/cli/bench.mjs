// SPDX-License-Identifier: BSL-1.0
// `llmux bench` as a user runs it: figures checked against the emulator's scripted latencies,
// the reports (JSON, CSV, SVG, HTML) parsed and checked.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { run, runAsync, replay, test, done, assert } from './harness.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmux-bench-test-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/// A strict XML 1.0 well-formedness check (no DTDs): one root, matched tags, quoted and unique
/// attributes, only the predefined entities and character references, no '<' or stray '&' in
/// text. Returns the root element as { name, attrs, children, text }.
function parseXml(src) {
  let i = 0;
  const fail = (msg) => { throw new Error(`XML: ${msg} at offset ${i}: ${JSON.stringify(src.slice(i, i + 40))}`); };
  const name = /[A-Za-z_:][-A-Za-z0-9_.:]*/y;
  const checkText = (t) => {
    if (t.includes('<')) fail('"<" in text or attribute');
    const amp = /&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)/;
    if (amp.test(t)) fail('bare "&"');
    if (/[\x00-\x08\x0B\x0C\x0E-\x1F]/.test(t)) fail('control character');
    return t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
      .replace(/&#([0-9]+);/g, (_, n) => String.fromCodePoint(+n))
      .replace(/&#x([0-9A-Fa-f]+);/g, (_, n) => String.fromCodePoint(parseInt(n, 16)))
      .replace(/&amp;/g, '&');
  };
  const skipMisc = () => {
    for (;;) {
      const ws = /\s*/y; ws.lastIndex = i; ws.exec(src); i = ws.lastIndex;
      if (src.startsWith('<!--', i)) {
        const e = src.indexOf('-->', i + 4);
        if (e < 0) fail('unterminated comment');
        if (src.slice(i + 4, e).includes('--')) fail('"--" in comment');
        i = e + 3;
      } else if (src.startsWith('<?', i)) {
        const e = src.indexOf('?>', i);
        if (e < 0) fail('unterminated processing instruction');
        i = e + 2;
      } else return;
    }
  };
  if (src.startsWith('<?xml')) { const e = src.indexOf('?>'); if (e < 0) fail('bad declaration'); i = e + 2; }
  skipMisc();
  if (src.startsWith('<!DOCTYPE', i)) fail('DOCTYPE not expected');
  const stack = [];
  let root = null;
  while (i < src.length) {
    if (!stack.length && root) { skipMisc(); if (i < src.length) fail('content after the root element'); break; }
    if (src[i] === '<') {
      if (src.startsWith('<!--', i)) { skipMisc(); continue; }
      if (src.startsWith('<![CDATA[', i)) {
        const e = src.indexOf(']]>', i);
        if (e < 0 || !stack.length) fail('bad CDATA');
        stack.at(-1).text += src.slice(i + 9, e);
        i = e + 3;
        continue;
      }
      if (src.startsWith('<?', i)) { skipMisc(); continue; }
      if (src[i + 1] === '/') {
        i += 2; name.lastIndex = i; const m = name.exec(src); if (!m) fail('bad end tag');
        i = name.lastIndex;
        const ws = /\s*>/y; ws.lastIndex = i; if (!ws.exec(src)) fail('bad end tag'); i = ws.lastIndex;
        const open = stack.pop();
        if (!open || open.name !== m[0]) fail(`</${m[0]}> closes <${open?.name}>`);
        continue;
      }
      i += 1; name.lastIndex = i; const m = name.exec(src); if (!m) fail('bad tag name');
      i = name.lastIndex;
      const el = { name: m[0], attrs: {}, children: [], text: '' };
      for (;;) {
        const ws = /\s*/y; ws.lastIndex = i; const sp = ws.exec(src)[0]; i = ws.lastIndex;
        if (src.startsWith('/>', i)) { i += 2; el.selfClosed = true; break; }
        if (src[i] === '>') { i += 1; break; }
        if (!sp) fail('no space before attribute');
        name.lastIndex = i; const a = name.exec(src); if (!a) fail('bad attribute name');
        i = name.lastIndex;
        const eq = /\s*=\s*(["'])/y; eq.lastIndex = i; const q = eq.exec(src); if (!q) fail('attribute without quoted value');
        i = eq.lastIndex;
        const e = src.indexOf(q[1], i); if (e < 0) fail('unterminated attribute');
        if (a[0] in el.attrs) fail(`duplicate attribute ${a[0]}`);
        el.attrs[a[0]] = checkText(src.slice(i, e));
        i = e + 1;
      }
      if (stack.length) stack.at(-1).children.push(el);
      else if (root) fail('second root element');
      else root = el;
      if (!el.selfClosed) stack.push(el);
    } else {
      const e = src.indexOf('<', i);
      const t = src.slice(i, e < 0 ? src.length : e);
      if (!stack.length) { if (t.trim()) fail('text outside the root element'); }
      else stack.at(-1).text += checkText(t);
      i = e < 0 ? src.length : e;
    }
  }
  if (stack.length) fail(`<${stack.at(-1).name}> not closed`);
  if (!root) fail('no root element');
  return root;
}

function* walk(el) { yield el; for (const c of el.children) yield* walk(c); }

/// RFC 4180 CSV (quoted fields may hold commas, quotes and newlines).
function parseCsv(text) {
  const rows = []; let row = []; let field = ''; let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') q = false; else field += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

const scripted = 'openai/gpt-4o-mini~ttft=200ms,tps=100,tokens=50';

await test('streamed: scripted 200 ms TTFT and 100 tokens/s are measured right', () => {
  const files = { csv: `${tmp}/a.csv`, svg: `${tmp}/a.svg`, html: `${tmp}/a.html` };
  const r = run(['bench', '-m', scripted, '-n', '8', '-c', '4', '--stream', '--json', '-',
                 '--csv', files.csv, '--svg', files.svg, '--html', files.html, 'hello']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /built-in emulator/);
  const o = JSON.parse(r.stdout);
  assert.equal(o.settings.requests, 8);
  assert.equal(o.settings.concurrency, 4);
  assert.equal(o.settings.stream, true);
  assert.equal(o.settings.emulated, true);
  assert.equal(o.models.length, 1);
  const m = o.models[0];
  assert.equal(m.model, scripted);
  assert.equal(m.requests, 8);
  assert.equal(m.ok, 8);
  assert.equal(m.failed, 0);
  assert.equal(m.error_rate, 0);
  // Only bounds a loaded machine cannot break: a scripted delay is never measured shorter than
  // it is, and a scripted rate never faster (no wall-clock ceilings: CI machines are shared).
  for (const q of ['p50', 'p90', 'p99', 'max']) {
    assert.ok(m.ttft_ms[q] >= 200, `TTFT ${q} ${m.ttft_ms[q]}`);
    // 49 tokens after the first at 100/s: at least 480 ms more.
    assert.ok(m.latency_ms[q] >= m.ttft_ms[q] + 480, `latency ${q} ${m.latency_ms[q]}`);
  }
  assert.ok(m.ttft_ms.p50 <= m.ttft_ms.p90 && m.ttft_ms.p90 <= m.ttft_ms.p99 && m.ttft_ms.p99 <= m.ttft_ms.max);
  assert.equal(m.output_tokens, 8 * 50);
  assert.ok(m.output_tokens_per_second > 0 && m.output_tokens_per_second <= 105,
    `tokens/s ${m.output_tokens_per_second}`);
  assert.ok(m.requests_per_second > 0);
  assert.ok(m.cost_usd > 0);
  // The table went to stderr, since the JSON took stdout.
  assert.match(r.stderr, /TTFT ms/);

  const csv = parseCsv(fs.readFileSync(files.csv, 'utf8'));
  assert.equal(csv.length, 2);
  const [head, row] = csv;
  assert.equal(head.length, row.length);
  const rec = Object.fromEntries(head.map((h, i) => [h, row[i]]));
  assert.equal(rec.model, scripted, 'a model id with commas is quoted');
  assert.equal(+rec.requests, 8);
  assert.ok(Math.abs(+rec.ttft_p50_ms - m.ttft_ms.p50) < 0.01);
  assert.ok(Math.abs(+rec.latency_max_ms - m.latency_ms.max) < 0.01);

  const svg = parseXml(fs.readFileSync(files.svg, 'utf8'));
  assert.equal(svg.name, 'svg');
  assert.equal(svg.attrs.xmlns, 'http://www.w3.org/2000/svg');
  const html = fs.readFileSync(files.html, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(html.includes('gpt-4o-mini~ttft=200ms,tps=100,tokens=50'));
  parseXml(html.slice(html.indexOf('<svg'), html.indexOf('</svg>') + 6));
  assert.match(html, /<table>[\s\S]*<\/table>/);
});

await test('whole answers: TTFT is the response head; warm-up calls are left out', () => {
  const r = run(['bench', '-m', 'openai/gpt-4o-mini~ttft=200ms', '-n', '4', '-c', '2', '--warmup', '2',
                 '--json', '-', 'hi']);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.settings.warmup, 2);
  const m = o.models[0];
  assert.equal(m.requests, 4);
  assert.equal(m.ok, 4);
  // The head of a whole answer comes when the answer is ready: after the scripted 200 ms.
  assert.ok(m.ttft_ms.p50 >= 200, JSON.stringify(m.ttft_ms));
  assert.ok(m.latency_ms.p50 >= 200, JSON.stringify(m.latency_ms));
  assert.ok(m.ttft_ms.max <= m.latency_ms.max);
});

await test('error rates by code; the chart has one series per model per panel', () => {
  const models = ['openai/gpt-4o-mini~ttft=20ms', 'deepseek/deepseek-chat~error_rate=0.25,error=503',
                  'openai/down~error=429', 'anthropic/claude-haiku-4.5'];
  const svgFile = `${tmp}/b.svg`;
  const r = run(['bench', '-m', models.join(','), '-n', '20', '-c', '5', '--svg', svgFile,
                 '--json', `${tmp}/b.json`, 'hello <&> "there"']);
  assert.equal(r.code, 1, 'a model with no successful call fails the run');
  assert.match(r.stderr, /openai\/down~error=429: no successful call/);
  const o = JSON.parse(fs.readFileSync(`${tmp}/b.json`, 'utf8'));
  const by = Object.fromEntries(o.models.map((m) => [m.model, m]));
  assert.deepEqual(o.models.map((m) => m.model), models);
  assert.equal(by[models[0]].error_rate, 0);
  const flaky = by[models[1]];
  assert.equal(flaky.requests, 20);
  assert.ok(flaky.failed >= 2 && flaky.failed <= 9, `failed ${flaky.failed} of 20 at 25%`);
  assert.deepEqual(flaky.errors, { overloaded: flaky.failed });
  assert.match(flaky.error_messages.overloaded, /^overloaded \(HTTP 503\)/);
  assert.equal(flaky.ok + flaky.failed, 20);
  const down = by[models[2]];
  assert.equal(down.ok, 0);
  assert.equal(down.error_rate, 1);
  assert.deepEqual(down.errors, { rate_limited: 20 });
  assert.equal(down.ttft_ms, null);
  assert.equal(down.output_tokens_per_second, null);
  // The table, on stdout, lists each model and the errors by code.
  for (const m of models) assert.match(r.stdout, new RegExp(`^${m.split('~')[0]}[\\s~]`, 'm'), `table lacks ${m}`);
  assert.match(r.stdout, /overloaded \d+/);
  assert.match(r.stdout, /rate_limited 20/);
  // Each code with what the first such failure said, not only its name.
  assert.match(r.stdout, /^ {4}rate_limited \(HTTP 429\)/m);
  assert.match(r.stdout, /100%/);
  // Plain progress lines (stderr is not a terminal).
  assert.match(r.stderr, /llmux bench: openai\/gpt-4o-mini~ttft=20ms\s+20\/20/);
  assert.doesNotMatch(r.stderr, /\x1b\[/, 'no escape sequences when stderr is not a terminal');

  const svg = parseXml(fs.readFileSync(svgFile, 'utf8'));
  const series = [...walk(svg)].filter((e) => e.name === 'g' && /\bseries\b/.test(e.attrs.class ?? ''));
  for (const kind of ['ttft', 'total', 'cdf-total', 'cdf-ttft']) {
    const gs = series.filter((g) => g.attrs.class.split(/\s+/).includes(kind));
    const titles = gs.map((g) => g.children.find((c) => c.name === 'title')?.text);
    assert.deepEqual(titles, models, `one "${kind}" series per model`);
  }
  // Bars for the models that answered; none for the one that never did.
  const ttftOf = (m) => series.find((g) => g.attrs.class === 'series ttft' &&
                                          g.children[0].text === m);
  assert.equal(ttftOf(models[0]).children.filter((c) => c.name === 'rect').length, 4);
  assert.equal(ttftOf(models[2]).children.filter((c) => c.name === 'rect').length, 0);
  const texts = [...walk(svg)].filter((e) => e.name === 'text').map((e) => e.text);
  for (const label of ['p50', 'p90', 'p99', 'max', 'milliseconds']) assert.ok(texts.includes(label), label);
  const paths = [...walk(svg)].filter((e) => e.name === 'path');
  assert.equal(paths.length, 2 * 3, 'a latency and a TTFT curve per model that answered');
});

await test('--json and --csv sum cached, cache-write and reasoning tokens', async () => {
  const fixture = (f) => fs.readFileSync(new URL(`../data/openai/${f}`, import.meta.url), 'utf8');
  const up = await replay({ whole: fixture('cost_o4_mini_response.json'), stream: fixture('cost_o4_mini_stream.sse') });
  try {
    const csvFile = `${tmp}/usage.csv`;
    const r = run(['bench', '--base-url', `${up.url}/v1`, '-m', 'openai/o4-mini', '-n', '3', '-c', '1',
                   '--json', '-', '--csv', csvFile, 'hi'], { env: { OPENAI_API_KEY: 'sk-test' } });
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout).models[0];
    assert.equal(m.input_tokens, 36000);
    assert.equal(m.cached_input_tokens, 24000);
    assert.equal(m.cache_write_tokens, 0);
    assert.equal(m.reasoning_tokens, 6000);
    assert.ok(Math.abs(m.cost_usd - 3 * 0.0198) < 1e-12, `${m.cost_usd}`);
    const [head, row] = parseCsv(fs.readFileSync(csvFile, 'utf8'));
    const rec = Object.fromEntries(head.map((h, i) => [h, row[i]]));
    assert.equal(+rec.cached_input_tokens, 24000);
    assert.equal(+rec.reasoning_tokens, 6000);
  } finally {
    await up.stop();
  }
});

await test('the table: columns, percentiles and definitions', () => {
  const r = run(['bench', '-m', 'openai/gpt-4o-mini,groq/llama-3.3-70b', '-n', '3', '-c', '3', 'hi'],
                { env: { COLUMNS: '140' } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(lines.some((l) => /TTFT ms/.test(l) && /LATENCY ms/.test(l)), r.stdout);
  assert.ok(lines.some((l) => /^MODEL\s+OK\s+ERR\s+p50\s+p90\s+p99\s+max\s+p50\s+p90\s+p99\s+max\s+TOK\/S\s+REQ\/S\s+COST$/.test(l)),
    r.stdout);
  const row = lines.find((l) => l.startsWith('openai/gpt-4o-mini '));
  assert.ok(row, r.stdout);
  assert.match(row, /^openai\/gpt-4o-mini\s+3\s+0%/);
  assert.match(r.stdout, /3 requests per model, 3 in flight per model, whole answers, on the built-in emulator/);
  assert.match(r.stdout, /TTFT: time to first token/);
  assert.match(r.stderr, /llmux bench: groq\/llama-3\.3-70b\s+3\/3.*done in/);
});

await test('--fallback: a failing model is measured through its fallback', () => {
  const r = run(['bench', '-m', 'openai/gpt-4o~error=503', '--fallback', 'deepseek/deepseek-chat',
                 '-n', '3', '--json', '-', 'hi']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout).models[0];
  assert.equal(m.model, 'openai/gpt-4o~error=503');
  assert.equal(m.ok, 3);
});

await test('bad input gets one clear line and a non-zero exit', () => {
  const cfg = `${tmp}/nokey.json`;
  fs.writeFileSync(cfg, JSON.stringify({ providers: { lab: { base_url: 'http://127.0.0.1:9/v1', api_key_env: 'LAB_KEY' } } }));
  const cases = [
    [['bench', 'hi'], 2, /missing -m/],
    [['bench', '-m', 'openai/x'], 2, /missing PROMPT/],
    [['bench', '--frobnicate', '-m', 'openai/x', 'hi'], 2, /frobnicate/],
    [['bench', '-n', 'many', '-m', 'openai/x', 'hi'], 2, /many/],
    [['bench', '-n', '0', '-m', 'openai/x', 'hi'], 2, /--requests must be a positive number/],
    [['bench', '-c', '-1', '-m', 'openai/x', 'hi'], 2, /--concurrency must be a positive number/],
    [['bench', '--timeout', '10x', '-m', 'openai/x', 'hi'], 2, /--timeout: invalid duration '10x'/],
    [['bench', '--per-attempt', 'soon', '-m', 'openai/x', 'hi'], 2, /--per-attempt: invalid duration 'soon'/],
    [['bench', '--route', 'quickest', '-m', 'openai/x', 'hi'], 2, /unknown strategy 'quickest'/],
    [['bench', '-m', 'gpt-4o', 'hi'], 2, /invalid model id 'gpt-4o'/],
    [['bench', '-m', 'openai/x,nosuch/model', 'hi'], 1, /unknown provider 'nosuch'/],
    [['bench', '--config', '/nonexistent.json', '-m', 'openai/x', 'hi'], 1, /nonexistent\.json/],
    [['bench', '--svg', '/nonexistent/dir/x.svg', '-m', 'openai/x', 'hi'], 1, /cannot write '\/nonexistent\/dir\/x\.svg'/],
  ];
  for (const [args, code, re] of cases) {
    const r = run(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').filter((l) => !/built-in emulator/.test(l)).length, 1,
      `more than one line for ${args.join(' ')}:\n${r.stderr}`);
  }
  // A provider of --config without its key, while other keys are set (so no emulator).
  const r = run(['bench', '--config', cfg, '-m', 'lab/m1', 'hi'], { env: { OPENAI_API_KEY: 'sk-test-secret' } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /LAB_KEY/);
  assert.doesNotMatch(r.stderr + r.stdout, /sk-test-secret/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});


// ---- --embed ---------------------------------------------------------------------------------

/** An OpenAI-compatible embeddings server that records every request body and answers each
    input with a vector of the asked length (4 without one), as base64 or floats as asked.
    Resolves with { url, bodies, stop() }. */
function recordingEmbeddings() {
  const bodies = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (d) => { text += d; });
    req.on('end', () => {
      const body = JSON.parse(text);
      bodies.push({ path: req.url, body });
      const dims = body.dimensions ?? 4;
      const data = body.input.map((_, i) => {
        const v = Float32Array.from({ length: dims }, (_, j) => (i + 1) / (j + 2));
        return { object: 'embedding', index: i,
                 embedding: body.encoding_format === 'base64' ? Buffer.from(v.buffer).toString('base64') : [...v] };
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data, model: body.model,
                               usage: { prompt_tokens: 5 * body.input.length, total_tokens: 5 * body.input.length } }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`, bodies,
    stop: () => new Promise((res) => server.close(res)),
  })));
}

await test('--embed: counts, inputs per second and the asked dimensions, in every report', () => {
  const files = { csv: `${tmp}/e.csv`, svg: `${tmp}/e.svg`, html: `${tmp}/e.html` };
  const models = ['openai/text-embedding-3-small', 'google/gemini-embedding-001'];
  const r = run(['bench', '--embed', '-m', models.join(','), '-n', '6', '-c', '3', '--inputs', '4',
                 '--dimensions', '64', '--json', '-', '--csv', files.csv, '--svg', files.svg,
                 '--html', files.html]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /built-in emulator/);
  const o = JSON.parse(r.stdout);
  assert.equal(o.settings.embed, true);
  assert.equal(o.settings.inputs_per_call, 4);
  assert.equal(o.settings.dimensions, 64);
  assert.equal(o.settings.requests, 6);
  assert.equal(o.settings.emulated, true);
  assert.ok(!('stream' in o.settings));
  assert.deepEqual(o.models.map((m) => m.model), models);
  for (const m of o.models) {
    assert.equal(m.requests, 6, m.model);
    assert.equal(m.ok, 6, m.model);
    assert.equal(m.failed, 0, m.model);
    assert.deepEqual(m.errors, {});
    assert.equal(m.inputs, 24, m.model);
    assert.equal(m.dimensions, 64, m.model);
    assert.deepEqual(m.vector_lengths, { 64: 24 }, m.model);
    assert.equal(m.batches, 6, `${m.model}: 4 inputs fit one request`);
    assert.ok(m.inputs_per_second > 0, `${m.model}: inputs/s ${m.inputs_per_second}`);
    assert.ok(m.requests_per_second > 0);
    // inputs/s and req/s share the wall time: 4 inputs per call.
    assert.ok(Math.abs(m.inputs_per_second / m.requests_per_second - 4) < 0.1,
      `${m.inputs_per_second} / ${m.requests_per_second}`);
    assert.ok(m.latency_ms.p50 > 0 && m.latency_ms.p50 <= m.latency_ms.max);
    // An embedding has no first token and no output: no such fields.
    for (const k of ['ttft_ms', 'output_tokens_per_second', 'output_tokens', 'reasoning_tokens'])
      assert.ok(!(k in m), `${m.model} has ${k}`);
  }
  const [openai, gemini] = o.models;
  assert.ok(openai.input_tokens > 0);
  assert.ok(openai.cost_usd > 0, 'priced from the catalog');
  // The Gemini API reports no tokens: usage unknown, so no cost rather than a made-up one.
  assert.equal(gemini.unknown_usage, 6);
  assert.equal(gemini.cost_usd, null);
  // The table went to stderr (the JSON took stdout): latency, no TTFT.
  assert.match(r.stderr, /LATENCY ms/);
  assert.doesNotMatch(r.stderr, /TTFT/);

  const [head, ...rows] = parseCsv(fs.readFileSync(files.csv, 'utf8'));
  assert.equal(rows.length, 2);
  assert.ok(!head.some((h) => /ttft|output_tokens/.test(h)), head.join(','));
  const rec = Object.fromEntries(head.map((h, i) => [h, rows[0][i]]));
  assert.equal(+rec.inputs, 24);
  assert.equal(+rec.dimensions, 64);
  assert.ok(+rec.inputs_per_second > 0);
  assert.ok(Math.abs(+rec.latency_p50_ms - openai.latency_ms.p50) < 0.01);

  const svg = parseXml(fs.readFileSync(files.svg, 'utf8'));
  const series = [...walk(svg)].filter((e) => e.name === 'g' && /\bseries\b/.test(e.attrs.class ?? ''));
  const kinds = (g) => g.attrs.class.split(/\s+/).filter((c) => c !== 'series');
  for (const kind of ['total', 'rate', 'cdf-total'])
    assert.deepEqual(series.filter((g) => kinds(g).includes(kind)).map((g) => g.children[0].text), models, kind);
  assert.ok(!series.some((g) => /ttft/.test(g.attrs.class)), 'no TTFT series');
  const rates = series.filter((g) => kinds(g).includes('rate'));
  for (const g of rates) assert.equal(g.children.filter((c) => c.name === 'rect').length, 1, 'a bar per model');
  const texts = [...walk(svg)].filter((e) => e.name === 'text').map((e) => e.text);
  assert.ok(texts.includes('inputs per second'));
  assert.ok(!texts.some((t) => /TTFT|first token/.test(t)), 'no TTFT label');
  const html = fs.readFileSync(files.html, 'utf8');
  parseXml(html.slice(html.indexOf('<svg'), html.indexOf('</svg>') + 6));
  assert.match(html, /<th rowspan="2">inputs\/s<\/th>/);
  assert.doesNotMatch(html, /TTFT/);
});

await test('--embed: the table has latency, inputs/s and the vectors\' length, no TTFT', () => {
  const r = run(['bench', '--embed', '-m', 'openai/text-embedding-3-small', '-n', '3', '-c', '3'],
                { env: { COLUMNS: '140' } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(lines.some((l) => /^MODEL\s+OK\s+ERR\s+p50\s+p90\s+p99\s+max\s+INPUTS\/S\s+REQ\/S\s+DIM\s+COST$/.test(l)),
    r.stdout);
  assert.doesNotMatch(r.stdout, /TTFT|TOK\/S/);
  assert.match(r.stdout, /LATENCY ms/);
  // Without --dimensions the model's own length (1536 for text-embedding-3-small).
  assert.match(lines.find((l) => l.startsWith('openai/text-embedding-3-small ')) ?? '',
               /^openai\/text-embedding-3-small\s+3\s+0%(\s+\S+){4}\s+\S+\s+\S+\s+1536\s+\$/);
  assert.match(r.stdout, /3 requests per model, 3 in flight per model, embeddings of 1 input per call, on the built-in emulator/);
  assert.match(r.stdout, /INPUTS\/S: texts embedded per second/);
});

await test('--embed: failed calls are counted by code, each with its first message', () => {
  const models = ['openai/text-embedding-3-small~error=429', 'openai/text-embedding-3-large~error_rate=0.25,error=503'];
  const r = run(['bench', '--embed', '-m', models.join(','), '-n', '20', '-c', '4', '--inputs', '2',
                 '--json', `${tmp}/ee.json`]);
  assert.equal(r.code, 1, 'a model with no successful call fails the run');
  assert.match(r.stderr, /text-embedding-3-small~error=429: no successful call/);
  const o = JSON.parse(fs.readFileSync(`${tmp}/ee.json`, 'utf8'));
  const [down, flaky] = o.models;
  assert.equal(down.ok, 0);
  assert.deepEqual(down.errors, { rate_limited: 20 });
  assert.match(down.error_messages.rate_limited, /^rate_limited \(HTTP 429\) from openai/);
  assert.equal(down.inputs, 0);
  assert.equal(down.inputs_per_second, null);
  assert.equal(down.dimensions, null);
  assert.equal(down.latency_ms, null);
  assert.equal(flaky.ok + flaky.failed, 20);
  assert.ok(flaky.failed >= 2 && flaky.failed <= 9, `failed ${flaky.failed} of 20 at 25%`);
  assert.deepEqual(flaky.errors, { overloaded: flaky.failed });
  assert.match(flaky.error_messages.overloaded, /HTTP 503/);
  assert.equal(flaky.inputs, 2 * flaky.ok);
  assert.equal(flaky.dimensions, 3072);
  assert.match(r.stdout, /rate_limited 20 \(20 of 20\)/);
  assert.match(r.stdout, /^ {4}rate_limited \(HTTP 429\) from openai/m);
  assert.match(r.stdout, /^ {4}overloaded \(HTTP 503\)/m);
});

await test('--embed: distinct texts in every call, warm-up included; --dimensions sent', async () => {
  const up = await recordingEmbeddings();
  try {
    const r = await runAsync(['bench', '--embed', '--base-url', `${up.url}/v1`, '-m', 'openai/text-embedding-3-small',
                              '-n', '5', '-c', '2', '--warmup', '2', '--inputs', '3', '--dimensions', '8',
                              '--json', '-', 'same words']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout).models[0];
    assert.equal(m.ok, 5);
    assert.equal(m.inputs, 15, 'warm-up calls are not counted');
    assert.equal(m.dimensions, 8);
    assert.equal(m.input_tokens, 5 * 15);
    assert.equal(up.bodies.length, 7, '2 warm-up and 5 measured calls');
    const texts = up.bodies.flatMap((b) => b.body.input);
    assert.equal(texts.length, 21);
    assert.equal(new Set(texts).size, 21, 'every text differs');
    for (const t of texts) assert.ok(t.startsWith('same words'), t);
    for (const { path: p, body } of up.bodies) {
      assert.equal(p, '/v1/embeddings');
      assert.equal(body.model, 'text-embedding-3-small');
      assert.equal(body.dimensions, 8);
      assert.equal(body.input.length, 3);
    }
    // The same texts on the next run: a run is repeatable.
    const again = await runAsync(['bench', '--embed', '--base-url', `${up.url}/v1`, '-m', 'openai/text-embedding-3-small',
                                  '-n', '5', '-c', '2', '--warmup', '2', '--inputs', '3', '--dimensions', '8', 'same words']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(new Set(up.bodies.slice(7).flatMap((b) => b.body.input)), new Set(texts));
  } finally {
    await up.stop();
  }
});

await test('--embed: a provider without embeddings is named before anything is sent', async () => {
  const up = await recordingEmbeddings();
  try {
    for (const [model, provider] of [['anthropic/claude-sonnet-4-5', 'anthropic'], ['deepseek/deepseek-chat', 'deepseek']]) {
      const r = await runAsync(['bench', '--embed', '--base-url', `${up.url}/v1`,
                                '-m', `openai/text-embedding-3-small,${model}`, '-n', '2']);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], new RegExp(`^llmux bench: ${model}: unsupported: provider '${provider}' has no embeddings API`));
      assert.equal(r.stdout, '', 'no table: nothing ran');
    }
    assert.equal(up.bodies.length, 0, 'not even the model that has embeddings was called');
  } finally {
    await up.stop();
  }
  // The same on the built-in emulator.
  const r = run(['bench', '--embed', '-m', 'anthropic/claude-sonnet-4-5', '-n', '2']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /anthropic\/claude-sonnet-4-5: unsupported: provider 'anthropic' has no embeddings API/);
});

await test('--embed: bad usage names the flag, exit 2', () => {
  const m = ['-m', 'openai/text-embedding-3-small'];
  const cases = [
    [['bench', '--embed', '--stream', ...m], /--embed and --stream do not go together/],
    [['bench', '--embed'], /missing -m M1,M2,\.\.\. \(e\.g\. -m openai\/text-embedding-3-small/],
    [['bench', '--inputs', '4', ...m, 'hi'], /--inputs needs --embed/],
    [['bench', '--dimensions', '8', ...m, 'hi'], /--dimensions needs --embed/],
    [['bench', '--embed', '--inputs', '0', ...m], /--inputs must be a positive number/],
    [['bench', '--embed', '--dimensions', '0', ...m], /--dimensions must be a number from 1 to 65536/],
    [['bench', '--embed', '--system', 'be brief', ...m], /--system does not apply to --embed/],
    [['bench', '--embed', '--max-tokens', '5', ...m], /--max-tokens does not apply to --embed/],
    [['bench', '--embed', '--fallback', 'openai/text-embedding-3-large', ...m], /--fallback does not apply to --embed/],
    [['bench', '--embed', '--route', 'cheapest', ...m], /--route does not apply to --embed/],
    [['bench', '--embed', '-n', '0', ...m], /--requests must be a positive number/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

await test('--help for bench', () => {
  const r = run(['bench', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['-n', '-c', '--stream', '--warmup', '--json', '--csv', '--svg', '--html',
                      '--embed', '--inputs', '--dimensions',
                      '--config', '--base-url', '--timeout', '--fallback', '--route'])
    assert.ok(r.stdout.includes(flag), flag);
});

done();
