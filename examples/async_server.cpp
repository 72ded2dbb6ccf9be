// SPDX-License-Identifier: BSL-1.0
//
// Embedding the client in an async HTTP server (Boost.Beast): `GET /compare?q=...` asks
// several models at once with `llmux::gather` and answers JSON with every model's answer,
// tokens, latency and cost. One `io_context`, one thread, one client shared by every
// connection; no thread per request.
//
// Run:  ./async_server [port]            serves on 127.0.0.1:port (default 8080) until Ctrl-C
//       curl 'http://127.0.0.1:8080/compare?q=What+is+a+coroutine%3F'
//       ./async_server --self-test       serves on a free port, sends itself one request,
//                                        prints the answer and exits (used by the tests)
//   With OPENAI_API_KEY, ANTHROPIC_API_KEY and GEMINI_API_KEY set, it asks the real models.
//   With no keys set, it uses the in-process emulator (on the same io_context).

#include "example_setup.hpp"

#include <llmux/client.hpp>
#include <llmux/combinators.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <string_view>
#include <variant>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

response reply(request const& req, http::status status, json::value const& body) {
    response res{status, req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = json::serialize(body);
    res.prepare_payload();
    return res;
}

// GET /compare?q=...: one question to several models at once.
asio::awaitable<response> handle(llmux::client& client, request const& req) {
    auto target = boost::urls::parse_origin_form(req.target());
    if (req.method() != http::verb::get || !target || target->path() != "/compare")
        co_return reply(req, http::status::not_found, {{"error", "try GET /compare?q=..."}});
    auto params = target->params(boost::urls::encoding_opts(/*space_as_plus=*/true));
    auto q = params.find("q");
    if (q == params.end() || (*q).value.empty())
        co_return reply(req, http::status::bad_request, {{"error", "missing ?q="}});
    std::string const question = (*q).value;

    llmux::model_list const models{"openai/gpt-4o-mini", "anthropic/claude-haiku-4.5",
                                   "google/gemini-2.0-flash"};
    llmux::chat_request ask{.messages = {llmux::user(question)}, .max_tokens = 200};
    auto results = co_await llmux::gather(client, models, ask);

    json::array answers;
    for (std::size_t i = 0; i < models.size(); ++i) {
        json::object a{{"model", models[i]}};
        if (auto const& r = results[i]) {
            a["text"] = r->text();
            a["output_tokens"] = r->usage.output_tokens.value_or(0);
            a["latency_ms"] = example::ms(r->latency);
            a["cost_usd"] = r->cost_usd ? json::value(*r->cost_usd) : json::value(nullptr);
        } else {
            a["error"] = r.error().to_string();  // never holds keys or the prompt
        }
        answers.push_back(std::move(a));
    }
    json::object body{{"question", question}, {"answers", std::move(answers)}};
    co_return reply(req, http::status::ok, body);
}

// One connection: HTTP/1.1 requests in turn, keep-alive, until the client leaves.
asio::awaitable<void> session(llmux::client& client, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        request req;
        stream.expires_after(15s);  // an idle keep-alive connection is closed after this
        auto [read_ec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
        if (read_ec) break;  // the client left (or idled out, or sent garbage)
        stream.expires_never();  // the models take the time they take

        response res = co_await handle(client, req);
        auto [write_ec, m] = co_await http::async_write(stream, res, use_tuple);
        if (write_ec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Accepts connections until cancelled; each gets its own coroutine.
asio::awaitable<void> listen(llmux::client& client, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec) co_return;  // cancelled: shutting down
        asio::co_spawn(acceptor.get_executor(), session(client, std::move(socket)),
                       asio::detached);
    }
}

// The self-test: one request over loopback, as any HTTP client would send it.
asio::awaitable<int> ask_myself(tcp::endpoint server) {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    stream.expires_after(20s);
    co_await stream.async_connect(server, asio::use_awaitable);

    http::request<http::empty_body> req{http::verb::get, "/compare?q=What+is+a+coroutine%3F", 11};
    req.set(http::field::host, "127.0.0.1");
    co_await http::async_write(stream, req, asio::use_awaitable);

    beast::flat_buffer buffer;
    response res;
    co_await http::async_read(stream, buffer, res, asio::use_awaitable);
    std::cout << "GET " << req.target() << " -> " << res.result_int() << '\n'
              << res.body() << '\n';

    auto body = json::parse(res.body());
    int failed = 0;
    for (auto const& a : body.at("answers").as_array()) failed += a.as_object().contains("error");
    co_return res.result() == http::status::ok && failed == 0 ? 0 : 1;
}

asio::awaitable<void> until_signal() {
    asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
    co_await signals.async_wait(asio::use_awaitable);
    std::cout << "shutting down\n";
}

asio::awaitable<int> serve(llmux::client& client, unsigned short port, bool self_test) {
    tcp::acceptor acceptor(co_await asio::this_coro::executor,
                           {asio::ip::make_address("127.0.0.1"), port});
    auto const where = acceptor.local_endpoint();
    std::cout << "serving http://" << where << "/compare?q=...\n";

    // `||` runs both and, when one finishes, cancels the other (the accept loop) and waits.
    if (self_test) {
        auto served = co_await (listen(client, acceptor) || ask_myself(where));
        auto const* status = std::get_if<int>(&served);
        co_return status ? *status : 1;
    }
    co_await (listen(client, acceptor) || until_signal());
    co_return 0;
}

int main(int argc, char** argv) {
    bool self_test = false;
    unsigned short port = 8080;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--self-test")
            self_test = true, port = 0;
        else
            port = static_cast<unsigned short>(std::stoi(argv[i]));
    }

    asio::io_context io;
    example::environment env(io);
    llmux::client client(io.get_executor(), env.config());
    return example::run(io, env, serve(client, port, self_test));
}
