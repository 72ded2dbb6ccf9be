// SPDX-License-Identifier: BSL-1.0
// `make_small_strand(ex)`: a strand over `ex`, as an `any_io_executor`, that every copy of the
// executor can hold without a heap allocation when `ex` is an io_context's executor (what
// llmux's own programs and most embedders run on).
//
// Why: `any_io_executor` keeps an executor of up to 24 bytes (a shared_ptr and a pointer) in
// place and allocates for anything larger. `strand<any_io_executor>` is a strand's shared_ptr
// plus a whole `any_io_executor`, so every conversion of it (each asynchronous operation on a
// socket bound to it, each coroutine resumption on it, each work guard) allocated: about 150 of
// the 224 allocations of a proxied request (issue 15's callgrind profile).
// `strand<io_context::executor_type>` is a pointer plus the shared_ptr and fits. Other
// executors (a thread_pool's, a user's own) get `strand<any_io_executor>`, as before. An
// io_context made with a concurrency hint of 1 is taken at its word: one thread runs it, and
// llmux uses no strands on it at all (an application that runs such a context on several
// threads breaks asio's contract, and llmux's too).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/detail/scheduler.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

namespace llmux::detail {

/// The io_context whose executor `ex` is (work-tracked or not); null for other executors.
inline boost::asio::io_context* io_context_of(boost::asio::any_io_executor const& ex) noexcept {
    namespace asio = boost::asio;
    if (auto const* e = ex.target<asio::io_context::executor_type>()) return &e->context();
    using tracked = asio::io_context::basic_executor_type<std::allocator<void>, 4>;
    if (auto const* e = ex.target<tracked>()) return &e->context();
    return nullptr;
}

/// True for an io_context made with a concurrency hint of 1 (`io_context(1)`): one thread
/// runs it, so its handlers never run concurrently.
inline bool single_threaded(boost::asio::io_context& ctx) {
    return boost::asio::use_service<boost::asio::detail::io_context_impl>(ctx)
               .concurrency_hint() == 1;
}

/// True when `ex` is the executor of a single-threaded io_context.
inline bool single_threaded(boost::asio::any_io_executor const& ex) {
    auto* ctx = io_context_of(ex);
    return ctx && single_threaded(*ctx);
}

/** A strand over `ex`, or `ex` itself when it is single-threaded (`single_threaded`): an
    io_context that one thread runs needs no strands, and each hop onto one cost a dispatch
    through the strand's queue (issue 15).
*/
inline boost::asio::any_io_executor make_small_strand(boost::asio::any_io_executor const& ex) {
    namespace asio = boost::asio;
    static_assert(sizeof(asio::strand<asio::io_context::executor_type>) <= 3 * sizeof(void*));
    auto* ctx = io_context_of(ex);
    if (!ctx) return asio::make_strand(ex);
    if (single_threaded(*ctx)) return ex;
    return asio::make_strand(ctx->get_executor());
}

}  // namespace llmux::detail
