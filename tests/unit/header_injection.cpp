// SPDX-License-Identifier: BSL-1.0
// Header injection from every source a header value comes from: keys and ids in the
// environment, config-file fields, options that become headers, host names or URL paths, a
// request's own headers, and (defence in depth) whatever reaches the transport. Each attempt is
// refused with an error that names the variable or field and never contains the value; no
// socket is opened (the client's connection counter stays at 0).
#include <llmux/client.hpp>

#include "http/message.hpp"
#include "http/transport.hpp"
#include "util/header.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

using namespace llmux;
namespace asio = boost::asio;

namespace {

constexpr char const* secret = "sk-injected-secret-value";

client_config::env_reader fake_env(std::map<std::string, std::string> vars) {
    auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
    return [shared](char const* name) -> char const* {
        auto it = shared->find(name);
        return it == shared->end() ? nullptr : it->second.c_str();
    };
}

struct outcome {
    result<chat_response> r{failure(error::invalid_request, "not run")};
    std::uint64_t connections = 0;
};

outcome run_chat(client_config cfg, chat_request req) {
    asio::io_context io;
    client c{io.get_executor(), std::move(cfg)};
    outcome out;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { out.r = co_await c.chat(req); },
                   asio::detached);
    io.run();
    out.connections = c.stats().connections_opened;
    return out;
}

/// The call to `model` fails before sending, with `code`, a message naming `names`, and no
/// trace of the secret anywhere in the failure.
void refused(client_config cfg, std::string const& model, error code, std::string const& names) {
    chat_request req{.model = model, .messages = {user("hi")}};
    auto const out = run_chat(std::move(cfg), req);
    BOOST_TEST_REQUIRE(!out.r);
    BOOST_TEST(out.connections == 0u);
    BOOST_TEST(out.r.error().code == make_error_code(code), out.r.error().to_string());
    BOOST_TEST(out.r.error().diag.message.find(names) != std::string::npos,
               out.r.error().diag.message);
    BOOST_TEST(out.r.error().to_string().find("injected") == std::string::npos,
               out.r.error().to_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(header_injection)

BOOST_AUTO_TEST_CASE(header_rules) {
    using namespace llmux::detail;
    BOOST_TEST(is_header_name("x-api-key"));
    BOOST_TEST(!is_header_name(""));
    BOOST_TEST(!is_header_name("x api"));
    BOOST_TEST(!is_header_name("x:y"));
    BOOST_TEST(!is_header_name("x\r\ny"));
    BOOST_TEST(is_header_value("Bearer abc\tdef"));
    BOOST_TEST(is_header_value("\xc3\xa9t\xc3\xa9"));  // obs-text passes
    for (std::string bad : {std::string("a\rb"), std::string("a\nb"), std::string("abc\r"),
                            std::string("a\0b", 3), std::string("a\x01"), std::string("a\x7f")})
        BOOST_TEST(!is_header_value(bad));
    auto const p = header_problem("X-Thing", std::string("v\r\nInjected: ") + secret);
    BOOST_TEST_REQUIRE(p.has_value());
    BOOST_TEST(p->find("X-Thing") != std::string::npos);
    BOOST_TEST(p->find("injected") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_fast_checks_follow_the_rules_byte_for_byte) {
    // The value check scans sixteen bytes at a time, the name check looks bytes up in a table:
    // every byte at every position of values up to 40 bytes long (both sides of each 16-byte
    // block and the tail) gets the answer the rules give, and so do constant expressions.
    using namespace llmux::detail;
    auto const rule_ok = [](unsigned char u) { return !((u < 0x20 && u != '\t') || u == 0x7f); };
    std::size_t wrong = 0;
    for (std::size_t len = 1; len <= 40; ++len)
        for (std::size_t at = 0; at < len; ++at)
            for (unsigned b = 0; b < 256; ++b) {
                std::string v(len, 'a');
                v[at] = static_cast<char>(b);
                if (is_header_value(v) != rule_ok(static_cast<unsigned char>(b))) ++wrong;
                if (header_value_problem(v).has_value() == rule_ok(static_cast<unsigned char>(b)))
                    ++wrong;
            }
    BOOST_TEST(wrong == 0u);
    std::string const tchars = "!#$%&'*+-.^_`|~";
    for (unsigned b = 0; b < 256; ++b) {
        char const c = static_cast<char>(b);
        bool const rule = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || tchars.find(c) != std::string::npos;
        BOOST_TEST(is_tchar(c) == rule, b);
        BOOST_TEST(is_header_name(std::string("x-") + c + "-y") == rule, b);
        // Names are checked four bytes a step, then byte by byte: every position of names of
        // one to nine bytes.
        std::size_t name_wrong = 0;
        for (std::size_t len = 1; len <= 9; ++len)
            for (std::size_t at = 0; at < len; ++at) {
                std::string n(len, 'a');
                n[at] = c;
                if (is_header_name(n) != rule) ++name_wrong;
            }
        BOOST_TEST(name_wrong == 0u, b);
    }
    static_assert(is_header_value("Bearer abcdefghijklmnopqrstuvwxyz0123456789"));
    static_assert(!is_header_value("Bearer abcdefghijklmnopqrstuvwxyz\r\nX-Evil: 1"));
    static_assert(is_header_name("x-api-key") && !is_header_name("x api"));
}


BOOST_AUTO_TEST_CASE(field_lines_are_appended_whole) {
    // One size check for the line: an empty string, a line that exactly fills the capacity
    // left, one a byte too long, empty names and values (views with no data too), and long
    // lines that grow the string twice.
    using namespace llmux::detail;
    std::string out;
    append_field_line(out, "Host", "example.com");
    BOOST_TEST(out == "Host: example.com\r\n");
    for (std::size_t extra : {0, 1}) {
        std::string s = "GET / HTTP/1.1\r\n";
        s.reserve(64);
        std::size_t const room = s.capacity() - s.size();
        BOOST_REQUIRE(room >= 5);  // "a: " and CRLF
        std::string const value(room - 5 + extra, 'v');
        std::string const before = s;
        append_field_line(s, "a", value);
        BOOST_TEST(s == before + "a: " + value + "\r\n");
    }
    std::string empty = "x";
    append_field_line(empty, "X-Empty", std::string_view());
    append_field_line(empty, std::string_view(), "");
    BOOST_TEST(empty == "xX-Empty: \r\n: \r\n");
    std::string grown = "x";
    std::string const value(1000, 'v');
    append_field_line(grown, std::string(300, 'n'), value);
    append_field_line(grown, "k", value);
    BOOST_TEST(grown == "x" + std::string(300, 'n') + ": " + value + "\r\nk: " + value + "\r\n");
}

// Every environment variable whose value reaches a header, a host name or a URL path.
BOOST_AUTO_TEST_CASE(environment_values_are_checked_where_they_are_loaded) {
    struct env_case {
        char const* variable;
        char const* value;
        char const* model;
    };
    std::string const crlf = std::string(secret) + "\r\nX-Injected: 1";
    std::string const trailing_cr = std::string(secret) + "\r";
    std::string const trailing_lf = std::string(secret) + "\n";
    env_case const cases[] = {
        {"OPENAI_API_KEY", trailing_cr.c_str(), "openai/gpt-4o-mini"},
        {"OPENAI_ORG_ID", crlf.c_str(), "openai/gpt-4o-mini"},
        {"OPENAI_PROJECT_ID", crlf.c_str(), "openai/gpt-4o-mini"},
        {"OPENROUTER_REFERER", crlf.c_str(), "openrouter/x/y"},
        {"OPENROUTER_TITLE", crlf.c_str(), "openrouter/x/y"},
        {"ANTHROPIC_API_KEY", crlf.c_str(), "anthropic/claude-sonnet-4.6"},
        {"GEMINI_API_KEY", crlf.c_str(), "google/gemini-2.0-flash"},
        {"DEEPSEEK_API_KEY", trailing_lf.c_str(), "deepseek/deepseek-chat"},
        {"AZURE_OPENAI_API_KEY", crlf.c_str(), "azure/dep"},
        {"VERTEX_ACCESS_TOKEN", crlf.c_str(), "vertex/gemini-2.0-flash"},
        {"GOOGLE_CLOUD_LOCATION", "us-central1.evil.example/x", "vertex/gemini-2.0-flash"},
        {"AWS_BEARER_TOKEN_BEDROCK", crlf.c_str(), "bedrock/anthropic.claude-3-haiku"},
        {"AWS_SESSION_TOKEN", crlf.c_str(), "bedrock/anthropic.claude-3-haiku"},
        {"AWS_REGION", "us-east-1.evil.example", "bedrock/anthropic.claude-3-haiku"},
    };
    for (auto const& ec : cases) {
        BOOST_TEST_CONTEXT(ec.variable) {
            std::map<std::string, std::string> vars = {
                {"OPENAI_API_KEY", "sk-good-key"},
                {"OPENROUTER_API_KEY", "sk-or-good"},
                {"ANTHROPIC_API_KEY", "sk-ant-good"},
                {"GEMINI_API_KEY", "gm-good"},
                {"DEEPSEEK_API_KEY", "sk-ds-good"},
                {"AZURE_OPENAI_API_KEY", "az-good"},
                {"AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com"},
                {"VERTEX_ACCESS_TOKEN", "ya29.good"},
                {"GOOGLE_CLOUD_PROJECT", "proj-1"},
                {"AWS_ACCESS_KEY_ID", "AKIDGOOD"},
                {"AWS_SECRET_ACCESS_KEY", "good-secret"},
            };
            vars[ec.variable] = ec.value;
            auto cfg = client_config::from_env(fake_env(vars));
            refused(cfg, ec.model, error::invalid_config, ec.variable);
            // Other providers keep working: the problem is the one provider's.
            if (std::string(ec.model).rfind("openai/", 0) != 0) {
                auto const* oa = cfg.find("openai");
                BOOST_TEST(oa->load_error.empty());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(config_file_fields_are_checked_where_they_are_loaded) {
    struct file_case {
        std::string json;
        char const* names;
    };
    file_case const cases[] = {
        {R"({"providers":{"x":{"base_url":"http://h","api_key":"sk-injected\r\nA: b"}}})",
         "providers.x.api_key"},
        {R"({"providers":{"x":{"base_url":"http://h","api_key":"sk-injected\r"}}})",
         "providers.x.api_key"},
        {R"({"providers":{"x":{"base_url":"http://h","auth":"header","auth_header":"x-key\r\nA"}}})",
         "providers.x.auth_header"},
        {R"({"providers":{"x":{"base_url":"http://h","headers":{"X-A\r\nB":"v"}}}})",
         "providers.x.headers"},
        {R"({"providers":{"x":{"base_url":"http://h","headers":{"X-A":"sk-injected\u0000"}}}})",
         "providers.x.headers.X-A"},
        {R"({"providers":{"x":{"base_url":"http://h","options":{"anthropic_version":"1\r\nA: b"}}}})",
         "providers.x.options.anthropic_version"},
        {R"({"providers":{"x":{"base_url":"http://h","options":{"region":"us-east-1.evil"}}}})",
         "providers.x.options.region"},
        {R"({"providers":{"x":{"base_url":"http://h","options":{"project":"p/../../x"}}}})",
         "providers.x.options.project"},
        {R"({"providers":{"x":{"base_url":"http://h\r\nA: b"}}})", "providers.x.base_url"},
        {R"({"providers":{"x":{"base_url":"http://h","api_key_env":"LLMUX_TEST_BAD_KEY"}}})",
         "LLMUX_TEST_BAD_KEY"},
    };
    ::setenv("LLMUX_TEST_BAD_KEY", "sk-injected\r\nX: 1", 1);
    for (auto const& fc : cases) {
        BOOST_TEST_CONTEXT(fc.json) {
            auto c = client_config::presets();
            auto r = c.load_json(fc.json, "gw.json");
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(r.error().code == make_error_code(error::invalid_config));
            BOOST_TEST(r.error().diag.message.find(fc.names) != std::string::npos,
                       r.error().diag.message);
            BOOST_TEST(r.error().diag.message.find("injected") == std::string::npos,
                       r.error().diag.message);
            BOOST_TEST(c.find("x") == nullptr);  // a bad file changes nothing
        }
    }
    ::unsetenv("LLMUX_TEST_BAD_KEY");
}

BOOST_AUTO_TEST_CASE(a_base_url_may_hold_the_model) {
    auto c = client_config::presets();
    auto r = c.load_json(
        R"({"providers":{"az":{"base_url":"https://r.example/openai/deployments/{model}","wire":"openai"}}})");
    BOOST_TEST_REQUIRE(!!r, r.error().to_string());
    BOOST_TEST(c.find("az")->base_url == "https://r.example/openai/deployments/{model}");
}

// Configurations built in code are checked by the client too.
BOOST_AUTO_TEST_CASE(values_set_in_code_are_checked_by_the_client) {
    {
        auto cfg = client_config::presets();
        cfg.find("openai")->credentials.api_key = std::string(secret) + "\r\nX: 1";
        cfg.find("openai")->api_key_env = "OPENAI_API_KEY";
        refused(cfg, "openai/gpt-4o-mini", error::invalid_config, "OPENAI_API_KEY");
    }
    {
        auto cfg = client_config::presets();
        cfg.find("openai")->credentials.api_key = "sk-fine";
        cfg.find("openai")->headers.emplace_back("OpenAI-Organization", std::string("org\n") + secret);
        refused(cfg, "openai/gpt-4o-mini", error::invalid_config, "OpenAI-Organization");
    }
    {
        auto cfg = client_config::presets();
        cfg.find("anthropic")->credentials.api_key = "sk-fine";
        cfg.find("anthropic")->options["anthropic_version"] = std::string("2023-06-01\r\n") + secret;
        refused(cfg, "anthropic/claude-sonnet-4.6", error::invalid_config, "anthropic_version");
    }
    {
        auto cfg = client_config::presets();
        cfg.find("openai")->credentials.api_key = "sk-fine";
        chat_request req{.model = "openai/gpt-4o-mini", .messages = {user("hi")}};
        req.headers = {{"X-Custom", std::string("ok\0", 3) + secret}};
        auto const out = run_chat(cfg, req);
        BOOST_TEST_REQUIRE(!out.r);
        BOOST_TEST(out.r.error().code == make_error_code(error::invalid_request));
        BOOST_TEST(out.r.error().diag.message.find("X-Custom") != std::string::npos);
        BOOST_TEST(out.r.error().to_string().find("injected") == std::string::npos);
    }
}

// Defence in depth: the transport refuses a bad request whoever built it, before connecting.
BOOST_AUTO_TEST_CASE(the_transport_refuses_bad_headers_before_connecting) {
    asio::io_context io;
    auto tr = std::make_shared<detail::transport>(io.get_executor(), detail::transport_config{});
    std::string base;
    auto org = detail::parse_base_url("http://127.0.0.1:9", base);  // discard port: never used
    BOOST_TEST_REQUIRE(!!org);
    auto try_send = [&](detail::http_request req) {
        std::optional<result<detail::http_response>> got;
        auto shared = std::make_shared<detail::http_request>(std::move(req));
        asio::co_spawn(
            io,
            [&, shared]() -> asio::awaitable<void> {
                got = co_await tr->request(*org, shared, std::chrono::steady_clock::now() +
                                                             std::chrono::seconds(30));
            },
            asio::detached);
        io.restart();
        io.run();
        BOOST_TEST_REQUIRE(got.has_value());
        return *got;
    };
    auto check = [&](detail::http_request req, char const* names) {
        auto r = try_send(std::move(req));
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(r.error().code == make_error_code(error::invalid_request), r.error().to_string());
        BOOST_TEST(r.error().diag.message.find(names) != std::string::npos, r.error().diag.message);
        BOOST_TEST(r.error().to_string().find("injected") == std::string::npos);
    };
    detail::http_request a;
    a.target = "/x";
    a.headers.emplace_back("Authorization", std::string("Bearer ") + secret + "\r\nX: 1");
    check(a, "Authorization");
    detail::http_request b;
    b.target = "/x";
    b.headers.emplace_back("X\r\nInjected", "1");
    check(b, "not a valid token");
    detail::http_request c;
    c.target = "/x HTTP/1.1\r\nInjected: 1\r\n\r\nGET /y";
    check(c, "request target");
    detail::http_request d;
    d.method = "POST /x HTTP/1.1\r\n";
    check(d, "method");
    BOOST_TEST(tr->stats().connections_opened == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
