// SPDX-License-Identifier: BSL-1.0
// The gateway's exact response cache, as pure functions: which requests may be cached, the key
// (a hash of the canonical unified request, the gateway key and the model group), how a whole
// answer is kept (a small JSON document in the state store) and how a cached answer is replayed
// to a stream request. The gateway holds the behaviour (lookup before the budget, store after
// a complete answer); the state store holds the entries with their TTL and size caps.
#pragma once

#include <llmux/gateway.hpp>
#include <llmux/types.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

/// What a request's `Cache-Control` header asks of the response cache.
struct cache_directives {
    /// Do not answer from the cache (the fresh answer still replaces the entry).
    bool no_cache = false;
    /// Neither answer from the cache nor keep the answer.
    bool no_store = false;
};

/// Reads `no-cache` and `no-store` (case-insensitive, comma-separated, with or without
/// arguments); anything else is ignored.
cache_directives parse_cache_control(std::string_view value) noexcept;

/// True when `r` may be answered from and kept in a cache with policy `p`: its temperature is
/// unset or 0, or the policy takes any temperature.
bool cacheable(chat_request const& r, response_cache_policy const& p) noexcept;

/// True when `r` is a complete answer worth keeping: finished by stop, length or tool_calls,
/// and written by one model (no continuation after a broken stream).
bool storable(chat_response const& r) noexcept;

/// The canonical form of a request for the cache key: JSON with a fixed field order, every
/// field of `chat_request` except `model` (the group stands for it) and `headers`.
std::string canonical_request(std::string_view key_name, std::string_view group,
                              chat_request const& r);

/// The cache key: `rc1:` and the hex SHA-256 of `canonical_request`.
std::string response_cache_key(std::string_view key_name, std::string_view group,
                               chat_request const& r);

/// A whole answer as kept in the cache (what a later request is answered with: content,
/// reasoning, tool calls, finish reasons, usage, the models and provider, the original cost).
std::string encode_cached_response(chat_response const& r);

/// Reads an entry written by `encode_cached_response`; `error::invalid_response` when it is
/// not one (an entry of another version, a damaged value).
result<chat_response> decode_cached_response(std::string_view text);

/// The content chunks a stream request is sent from a cached answer, in order: its reasoning,
/// its text, its tool calls. The stream's end (finish reason, usage) comes from the whole
/// answer (`stream_encoder::finish`).
std::vector<chat_chunk> replay_chunks(chat_response const& r);

}  // namespace llmux::detail
