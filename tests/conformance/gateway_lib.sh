# SPDX-License-Identifier: BSL-1.0
# Shared by the run_*gateway*.sh scripts (sourced): runs one Node script of official SDK checks
# against `llmux serve`, whose upstreams are its built-in emulator (no provider keys are set).
#
#   run_against_gateway BIN MODELS_JSON SCRIPT.mjs [ENV_ARGS...]
#
# MODELS_JSON is the configuration's "models" object. The gateway key is made here and given
# by environment (the file holds only its name); the script gets LLMUX_GATEWAY_URL and
# LLMUX_GATEWAY_KEY, and ENV_ARGS are `env` arguments for it (e.g. `-u AWS_PROFILE X=1`).
# Fails when the script fails, when the key appears in anything the gateway printed (access
# log included), or when the gateway does not exit cleanly on SIGTERM.

run_against_gateway() {
    local bin=$1 models=$2 script=$3
    shift 3
    local here node work pid="" key url="" line rc=0 erc=0
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    node="${NODE:-node}"
    work="$(mktemp -d)"
    # shellcheck disable=SC2064  # expand now: these locals are gone when the trap runs
    trap "[[ -n \"\${gw_pid:-}\" ]] && kill -KILL \"\$gw_pid\" 2>/dev/null; rm -rf '$work'" EXIT

    key="sk-llmux-gw-$RANDOM$RANDOM$RANDOM"
    cat >"$work/gateway.json" <<JSON
{
  "gateway": {"keys": [{"name": "ci", "key_env": "LLMUX_TEST_GATEWAY_KEY"}]},
  "models": $models
}
JSON
    # Only what the gateway needs: no provider key may leak in from the machine.
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" LLMUX_TEST_GATEWAY_KEY="$key" \
        "$bin" serve --port 0 --threads 2 --config "$work/gateway.json" \
        >"$work/stdout" 2>"$work/stderr" &
    pid=$!
    gw_pid=$pid

    for _ in $(seq 1 100); do
        if line="$(head -n 1 "$work/stdout" 2>/dev/null)" &&
            [[ "$line" == "llmux gateway listening on "* ]]; then
            url="${line#llmux gateway listening on }"
            url="${url%% *}"
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "llmux serve exited early:" >&2
            cat "$work/stderr" >&2
            return 1
        fi
        sleep 0.1
    done
    if [[ -z "$url" ]]; then
        echo "llmux serve printed no URL within 10 s" >&2
        cat "$work/stderr" >&2
        return 1
    fi
    echo "gateway at $url"

    local guard="$here/../../../shared/peers/loopback-guard.cjs"
    local node_args=()
    [[ -f "$guard" ]] && node_args+=(--require "$guard")

    env "$@" LLMUX_GATEWAY_URL="$url" LLMUX_GATEWAY_KEY="$key" \
        timeout 180 "$node" "${node_args[@]}" "$script" || rc=$?

    if grep -q -- "$key" "$work/stdout" "$work/stderr"; then
        echo "the gateway key appears in the gateway's output" >&2
        rc=1
    fi
    kill -TERM "$pid"
    wait "$pid" || erc=$?
    gw_pid=""
    if [[ $erc -ne 0 ]]; then
        echo "llmux serve exited with $erc after SIGTERM" >&2
        cat "$work/stderr" >&2
        rc=1
    fi
    if [[ $rc -ne 0 ]]; then
        echo "--- gateway stderr (last 40 lines)" >&2
        tail -n 40 "$work/stderr" >&2
    fi
    return $rc
}
