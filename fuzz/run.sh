#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 20), seeded from the
# test fixtures (each seed gets a leading byte that picks how the input is split).
# Usage: fuzz/run.sh [SECONDS] [BUILD_DIR]; LLMUX_FUZZ_TARGETS="sse openai_request" runs only those.
# LLMUX_FUZZ_RUNS=N runs each target over exactly N inputs from a fixed seed (LLMUX_FUZZ_SEED,
# default 1) instead of for SECONDS: the same inputs on every machine (the test command does this,
# so CI cannot fail on an input that a run here did not try).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
build=${2:-build-fuzz}
CXX=clang++ cmake -S fuzz -B "$build" -G Ninja >/dev/null
cmake --build "$build"

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
seed() {  # seed TARGET FILE...
    local t=$1; shift
    mkdir -p "$seeds/$t"
    local i=0
    for f in "$@"; do
        [[ -f "$f" ]] || continue
        for b in 0 1 5; do
            { printf "\\$(printf '%03o' $b)"; cat "$f"; } >"$seeds/$t/$(basename "$f").$b"
        done
        i=$((i + 1))
    done
}
seed sse tests/data/openai/*.sse tests/data/anthropic/*.sse tests/data/gemini/*.sse \
    tests/data/openai_responses/*.sse
seed openai_stream tests/data/openai/*.sse
seed openai_responses_stream tests/data/openai_responses/*.sse
seed anthropic_stream tests/data/anthropic/*.sse
seed gemini_stream tests/data/gemini/*.sse
seed bedrock_stream tests/data/bedrock/*.bin
# The event-stream example frame of PROVIDERS.md 6.3.
mkdir -p "$seeds/event_stream"
printf '\x00\x00\x00\x94\x00\x00\x00\x57\xb4\xab\x9a\xee\x0b:event-type\x07\x00\x11contentBlockDelta\x0d:content-type\x07\x00\x10application/json\x0d:message-type\x07\x00\x05event{"contentBlockIndex":0,"delta":{"text":"Hi"}}\x1f\x94\x46\x57' \
    >"$seeds/event_stream/example"
cp "$seeds/event_stream/example" "$seeds/bedrock_stream/example" 2>/dev/null || true

# Requests as clients send them: the gateway tests' bodies behind a few heads.
mkdir -p "$seeds/http_request"
i=0
for body in '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
            '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true}'; do
    for b in 0 3 5; do
        printf "\\$(printf '%03o' $b)POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" \
            "${#body}" "$body" >"$seeds/http_request/cl$i.$b"
        printf "\\$(printf '%03o' $b)POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" \
            "${#body}" "$body" >"$seeds/http_request/te$i.$b"
    done
    i=$((i + 1))
done

# Responses as providers send them: a whole answer, a stream, a body that ends with the
# connection, a body-less status.
mkdir -p "$seeds/http_response"
for b in 0 3 5; do
    printf "\\$(printf '%03o' $b)HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: r1\r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\n" \
        >"$seeds/http_response/cl.$b"
    printf "\\$(printf '%03o' $b)HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\ne;x=1\r\ndata: {\"a\":1}\n\n\r\n0\r\nT: 1\r\n\r\n" \
        >"$seeds/http_response/te.$b"
    printf "\\$(printf '%03o' $b)HTTP/1.0 429 Too Many Requests\r\nRetry-After: 1\r\n\r\nslow down" \
        >"$seeds/http_response/eof.$b"
    printf "\\$(printf '%03o' $b)HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n" \
        >"$seeds/http_response/none.$b"
done

# Request bodies as OpenAI clients write them; the leading byte picks the path.
mkdir -p "$seeds/openai_request"
i=0
for body in '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
    '{"model":"m","messages":[{"role":"system","content":"be terse"},{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}}]}],"temperature":0.5,"top_p":0.9,"max_completion_tokens":64,"seed":7,"stop":["END"],"user":"u","stream":true,"stream_options":{"include_usage":true}}' \
    '{"model":"m","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"sunny"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}}}' \
    '{"model":"m","messages":[{"role":"developer","content":[{"type":"text","text":"x"}]},{"role":"user","content":"y"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"},"strict":false}},"frequency_penalty":0.5,"provider":{"order":["a"]}}' \
    '{"model":"gpt-5","reasoning_effort":"low","prompt_cache_key":"k","messages":[{"role":"system","content":[{"type":"text","text":"manual","cache_control":{"type":"ephemeral","ttl":"1h"}}]},{"role":"user","content":[{"type":"text","text":"sum up"},{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}}]},{"role":"assistant","content":null,"reasoning_content":"r","tool_calls":[{"id":"call_1__llmux1__eyJwIjpbeyJrIjowLCJ0IjoiaG0iLCJzIjoic2lnIiwibyI6ImFudGhyb3BpYyJ9XSwicyI6IkVwQUkifQ","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1__llmux1__eyJwIjpbeyJrIjowLCJ0IjoiaG0iLCJzIjoic2lnIiwibyI6ImFudGhyb3BpYyJ9XSwicyI6IkVwQUkifQ","content":"ok"}]}'; do
    for b in 0 1; do
        printf "\\$(printf '%03o' $b)%s" "$body" >"$seeds/openai_request/body$i.$b"
    done
    i=$((i + 1))
done

# Request bodies as Responses API clients write them (the SDKs, the Vercel AI SDK, LangChain);
# the leading byte picks the path.
mkdir -p "$seeds/openai_responses_request"
i=0
for body in '{"model":"m","input":"hi"}' \
    '{"model":"m","instructions":"be terse","input":[{"role":"developer","content":"x"},{"type":"message","role":"user","content":[{"type":"input_text","text":"what is this?"},{"type":"input_image","image_url":"https://example.com/a.png","detail":"low"}]}],"temperature":0.5,"top_p":0.9,"max_output_tokens":64,"user":"u","stream":true,"store":false,"include":["reasoning.encrypted_content"]}' \
    '{"model":"m","input":[{"role":"user","content":"weather?"},{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Oslo\"}","status":"completed"},{"type":"function_call_output","call_id":"call_1","output":"sunny"}],"tools":[{"type":"function","name":"get_weather","description":"now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}],"tool_choice":{"type":"function","name":"get_weather"}}' \
    '{"model":"m","input":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"t"}],"encrypted_content":"gAAA"},{"role":"user","content":[{"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}]}],"text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object"},"strict":false},"verbosity":"low"},"reasoning":{"effort":"high","summary":"auto"},"truncation":"auto","tools":[{"type":"web_search"}]}'; do
    for b in 0 1; do
        printf "\\$(printf '%03o' $b)%s" "$body" >"$seeds/openai_responses_request/body$i.$b"
    done
    i=$((i + 1))
done

# Embedding requests as OpenAI clients write them; the leading byte picks the path.
mkdir -p "$seeds/openai_embeddings_request"
i=0
for body in '{"model":"text-embedding-3-small","input":"hello"}' \
    '{"model":"m","input":["a","b \"c\""],"encoding_format":"base64","dimensions":256,"user":"u","priority":1}' \
    '{"input":["x"],"encoding_format":"float"}' '{"model":"m","input":[[1,2],[3]]}'; do
    for b in 0 1; do
        printf "\\$(printf '%03o' $b)%s" "$body" >"$seeds/openai_embeddings_request/body$i.$b"
    done
    i=$((i + 1))
done

# Embedding requests as Google's clients write them; the leading byte picks the path
# (embedContent, batchEmbedContents, Vertex AI's predict).
mkdir -p "$seeds/gemini_embeddings_request"
i=0
for body in '{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]},"taskType":"RETRIEVAL_DOCUMENT","title":"Doc 1","outputDimensionality":768}' \
    '{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]},"taskType":"CLUSTERING"},{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]},"taskType":"CLUSTERING"}]}' \
    '{"instances":[{"content":"x","task_type":"RETRIEVAL_QUERY"}],"parameters":{"outputDimensionality":256,"autoTruncate":false},"labels":{"t":"u"}}' \
    '{"content":{"parts":[{"text":"v"}]},"embedContentConfig":{"taskType":"SEMANTIC_SIMILARITY","outputDimensionality":8},"labels":{"a":"b"}}'; do
    for b in 0 1 2; do
        printf "\\$(printf '%03o' $b)%s" "$body" >"$seeds/gemini_embeddings_request/body$i.$b"
    done
    i=$((i + 1))
done

# InvokeModel embedding bodies (Titan's, Cohere's); the leading byte picks the model.
mkdir -p "$seeds/bedrock_embeddings_request"
i=0
for body in '{"inputText":"hello","dimensions":256,"normalize":true,"embeddingTypes":["float"]}' \
    '{"inputText":"x","normalize":false}' \
    '{"texts":["a","b"],"input_type":"search_document","truncate":"END","embedding_types":["float"]}' \
    '{"texts":["q"],"input_type":"search_query","output_dimension":512,"max_tokens":128}'; do
    for b in 0 1; do
        printf "\\$(printf '%03o' $b)%s" "$body" >"$seeds/bedrock_embeddings_request/body$i.$b"
    done
    i=$((i + 1))
done

# Converse bodies as Bedrock clients write them; the leading byte picks the path and model id.
mkdir -p "$seeds/bedrock_request"
i=0
for body in '{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"maxTokens":64}}' \
    '{"system":[{"text":"You are terse."},{"text":"Use metric units."},{"cachePoint":{"type":"default"}}],"messages":[{"role":"user","content":[{"text":"Weather in Oslo?"},{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Oslo"}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_1","content":[{"json":{"temp_c":4}}],"status":"success"}}]}],"inferenceConfig":{"maxTokens":256,"temperature":0.2,"topP":0.9,"stopSequences":["END"]},"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","description":"Current weather","inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}}],"toolChoice":{"auto":{}}}}' \
    '{"messages":[{"role":"user","content":[{"text":"List two colours."},{"document":{"format":"txt","name":"a","source":{"bytes":"aGk="}}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"lookup","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"tool":{"name":"lookup"}}},"requestMetadata":{"user":"u","team":"t"},"additionalModelRequestFields":{"top_k":40},"performanceConfig":{"latency":"optimized"}}' \
    '{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"hi"}]}]}}}'; do
    for b in 0 1 2 5; do
        printf "\\$(printf '%03o' $b)%s" "$body" >"$seeds/bedrock_request/body$i.$b"
    done
    i=$((i + 1))
done

# Request bodies as Gemini clients write them; the leading byte picks the path.
mkdir -p "$seeds/gemini_request"
i=0
for body in '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}' \
    '{"systemInstruction":{"parts":[{"text":"be terse"}]},"contents":[{"role":"user","parts":[{"text":"what is this?"},{"inlineData":{"mimeType":"image/png","data":"iVBO"}},{"fileData":{"fileUri":"gs://b/a.png"}}]}],"generationConfig":{"temperature":0.5,"topP":0.9,"maxOutputTokens":64,"seed":7,"stopSequences":["END"],"topK":3,"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"a":{"type":"STRING","nullable":true}}}},"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]}' \
    '{"contents":[{"role":"user","parts":[{"text":"weather?"}]},{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}},"thoughtSignature":"c2ln"}]},{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"sunny"}}},{"text":"thanks"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","description":"now","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]},{"googleSearch":{}}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}}' \
    '{"generateContentRequest":{"contents":[{"parts":[{"text":"count"}]}]}}' \
    '{"contents":[{"role":"user","parts":[{"text":"sum up"},{"inlineData":{"mimeType":"application/pdf","data":"JVBE"}}]},{"role":"model","parts":[{"text":"hm","thought":true,"thoughtSignature":"c2ln"},{"text":"ok"},{"text":"","thoughtSignature":"dGV4dA"}]},{"role":"user","parts":[{"text":"go"}]}],"generationConfig":{"thinkingConfig":{"thinkingLevel":"LOW","includeThoughts":true}}}'; do
    for b in 0 1 2 3 4; do
        printf "\\$(printf '%03o' $b)%s" "$body" >"$seeds/gemini_request/body$i.$b"
    done
    i=$((i + 1))
done

# Request bodies as Anthropic clients write them; the leading byte picks the path (messages,
# count_tokens, Vertex's rawPredict, streamRawPredict).
mkdir -p "$seeds/anthropic_request"
i=0
for body in '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}' \
    '{"model":"m","max_tokens":64,"system":[{"type":"text","text":"be terse","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]}],"temperature":0.5,"top_p":0.9,"top_k":5,"stop_sequences":["END"],"metadata":{"user_id":"u"},"stream":true}' \
    '{"model":"m","max_tokens":64,"anthropic_version":"vertex-2023-10-16","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}],"is_error":true}]}],"tools":[{"name":"get_weather","description":"now","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],"tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}}' \
    '{"model":"m","max_tokens":64,"anthropic_version":"vertex-2023-10-16","thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}},{"type":"text","text":"sum up"}]}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}' \
    '{"model":"claude-sonnet-4-5","max_tokens":4096,"thinking":{"type":"enabled","budget_tokens":2048,"display":"omitted"},"system":[{"type":"text","text":"manual","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"},"title":"a.pdf"},{"type":"text","text":"q","cache_control":{"type":"ephemeral"}}]},{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"EqQB"},{"type":"redacted_thinking","data":"EmwK"},{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}],"tools":[{"name":"f","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}]}' \
    '{"model":"claude-opus-4-7","max_tokens":64,"thinking":{"type":"adaptive"},"output_config":{"effort":"low"},"messages":[{"role":"user","content":"hi"}]}'; do
    for b in 0 1 2 3; do
        printf "\\$(printf '%03o' $b)%s" "$body" >"$seeds/anthropic_request/body$i.$b"
    done
    i=$((i + 1))
done

# The targets run side by side, one per core (each libFuzzer run is one thread); the results are
# printed in order once all have finished.
run_one() {  # run_one TARGET: exit status 0 when the run found nothing
    local t=$1
    mkdir -p "$seeds/$t"
    "${fixed[@]}" "$build/fuzz_$t" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/crash-$t-" "$seeds/$t" >"$build/$t.log" 2>&1
}
targets=(sse event_stream openai_stream anthropic_stream gemini_stream bedrock_stream http_request http_response
         openai_request openai_embeddings_request gemini_embeddings_request
         bedrock_embeddings_request bedrock_request gemini_request anthropic_request
         openai_responses_stream openai_responses_request)
if [[ -n ${LLMUX_FUZZ_TARGETS:-} ]]; then read -ra targets <<<"$LLMUX_FUZZ_TARGETS"; fi
if [[ -n ${LLMUX_FUZZ_RUNS:-} ]]; then
    # (capped at 5 minutes a target: on a slow machine a prefix of the same inputs)
    budget=(-runs="$LLMUX_FUZZ_RUNS" -seed="${LLMUX_FUZZ_SEED:-1}" -max_total_time=300 -reload=0)
    spent="from seed ${LLMUX_FUZZ_SEED:-1}"
    # libFuzzer learns from the values its targets compare, pointers among them, so the inputs it
    # tries depend on where the program was loaded: without address randomisation (where the
    # machine allows it) a seed gives the same inputs on every run.
    fixed=()
    if setarch "$(uname -m)" -R true 2>/dev/null; then fixed=(setarch "$(uname -m)" -R); fi
else
    budget=(-max_total_time="$secs")
    fixed=()
    spent="in ${secs}s"
fi
parallel=${LLMUX_FUZZ_JOBS:-$(nproc)}
declare -A pid_of
for t in "${targets[@]}"; do
    while (( $(jobs -rp | wc -l) >= parallel )); do wait -n || true; done
    run_one "$t" &
    pid_of[$t]=$!
done
status=0
for t in "${targets[@]}"; do
    log="$build/$t.log"
    if wait "${pid_of[$t]}"; then
        echo "fuzz_$t: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}') runs $spent)"
    else
        echo "fuzz_$t: FAILED; see $log and $build/crash-$t-*"
        tail -n 30 "$log"
        status=1
    fi
done
exit $status
