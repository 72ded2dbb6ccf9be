-- SPDX-License-Identifier: BSL-1.0
-- wrk script for benchmarks/gateway/run.sh: POSTs a small OpenAI chat request.
-- MODEL (default mock-model) names the model; STREAM=1 asks for an SSE stream. The x-portkey-*
-- headers route Portkey's header mode to the upstream emulator (UPSTREAM); llmux serve and the
-- emulator ignore them. Prints SUMMARY and LATENCY_MS lines that run.sh reads.
local stream = os.getenv("STREAM") == "1"
local model = os.getenv("MODEL") or "mock-model"
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEY") or "sk-local-dummy")
wrk.headers["x-portkey-provider"] = "openai"
wrk.headers["x-portkey-custom-host"] = os.getenv("UPSTREAM") or "http://127.0.0.1:18080/v1"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16'
  .. (stream and ',"stream":true' or '') .. '}'

local bad = 0
function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("non-200: " .. status .. " " .. tostring(body):sub(1, 200) .. "\n") end
  end
end

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format("SUMMARY rps=%.1f requests=%d errors=%d\n", summary.requests / s,
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
  io.write(string.format("LATENCY_MS mean=%.3f p50=%.3f p90=%.3f p99=%.3f max=%.3f\n",
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
