// SPDX-License-Identifier: BSL-1.0
// The emulator's Bedrock Runtime (PROVIDERS.md 6): `POST /model/{modelId}/converse` and
// `/converse-stream`, authenticated by a SigV4 signature (verified against the emulator's AWS
// credentials) or a Bedrock API key; answers as Converse JSON or as real
// `application/vnd.amazon.eventstream` frames; errors as Bedrock's `{"message"}` bodies with
// `x-amzn-ErrorType`. Fidelity is checked by `@aws-sdk/client-bedrock-runtime`
// (tests/conformance/bedrock_sdk.mjs).
#include "auth/crypto.hpp"
#include "auth/sigv4.hpp"
#include "codec/event_stream.hpp"
#include "util/json_text.hpp"
#include "emulator/protocol.hpp"
#include "util/text.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::detail {

namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::string_view_literals;

/// What Bedrock appends to the exception name in `x-amzn-ErrorType`.
constexpr std::string_view error_type_suffix =
    ":http://internal.amazon.com/coral/com.amazon.coral.service/";

/// True when the `SignedHeaders` list of a SigV4 `Authorization` value names `header`
/// (lower case, as SigV4 lists them).
bool signs_header(std::string_view authorization, std::string_view header) noexcept {
    constexpr auto key = "SignedHeaders="sv;
    auto const p = authorization.find(key);
    if (p == std::string_view::npos) return false;
    std::string_view list = authorization.substr(p + key.size());
    list = list.substr(0, list.find_first_of(", "));
    while (!list.empty()) {
        auto const semi = list.find(';');
        if (list.substr(0, semi) == header) return true;
        if (semi == std::string_view::npos) break;
        list.remove_prefix(semi + 1);
    }
    return false;
}

emu_error aws_error(unsigned status, std::string message, std::string type) {
    return {status, std::move(message), std::move(type), "", ""};
}

emu_error validation(std::string message) {
    return aws_error(400, std::move(message), "ValidationException");
}

/// Bedrock's wording for a constraint a request member breaks.
emu_error constraint(std::string_view where, std::string_view what) {
    return validation("1 validation error detected: Value at '" + std::string(where) +
                      "' failed to satisfy constraint: " + std::string(what));
}

std::string_view stop_reason(emu_finish f) noexcept {
    switch (f) {
    case emu_finish::stop:
        return "end_turn";
    case emu_finish::length:
        return "max_tokens";
    case emu_finish::tool_calls:
        return "tool_use";
    }
    return "end_turn";
}

/// A request id in AWS's UUID shape, deterministic per request number.
std::string request_id(std::uint64_t n) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "e0000000-0000-4000-8000-000000000000";
    for (std::size_t i = id.size(); n != 0 && i-- > 24;) {
        id[i] = hex[n & 15];
        n >>= 4;
    }
    return id;
}

/// The emulator does not time the model it pretends to run: a deterministic figure that grows
/// with the answer, like the real one.
std::uint64_t latency_ms(emu_answer const& a) noexcept {
    return 20 + 5 * a.completion_tokens;
}

void append_tool_use_id(std::string& out, emu_answer const& a) {
    out += "\"tooluse_emu_";
    append_number(out, a.number);
    out += '"';
}

void append_usage(std::string& out, emu_answer const& a) {
    out += "{\"inputTokens\":";
    append_number(out, a.prompt_tokens);
    out += ",\"outputTokens\":";
    append_number(out, a.completion_tokens);
    out += ",\"totalTokens\":";
    append_number(out, a.prompt_tokens + a.completion_tokens);
    out += '}';
}

/// AWS pads event payloads with a member `p` of varying length so that sizes do not reveal
/// the tokens; clients must ignore it. Deterministic here: its length follows `seed`.
void append_padding(std::string& out, std::size_t seed) {
    static constexpr std::string_view letters =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    out += ",\"p\":\"";
    out += letters.substr(0, 1 + (seed * 7 + 3) % (letters.size() - 1));
    out += '"';
}

/// Appends one `:message-type: event` frame.
void append_event(std::string& out, std::string_view type, std::string_view payload) {
    event_header const headers[] = {
        {":event-type", type},
        {":content-type", "application/json"sv},
        {":message-type", "event"sv},
    };
    encode_message_to(out, headers, payload);
}

/// The text of the text and JSON items of a tool result's content.
void append_tool_result_text(json::value const* content, std::string& out) {
    auto const* items = content ? content->if_array() : nullptr;
    if (!items) return;
    for (auto const& it : *items) {
        auto const* o = it.if_object();
        if (!o) continue;
        if (auto const* t = o->if_contains("text"); t && t->is_string())
            out += t->get_string();
        else if (auto const* j = o->if_contains("json"))
            out += json::serialize(*j);
    }
}

class bedrock_protocol final : public emulator_protocol {
public:
    std::string_view name() const noexcept override { return "bedrock"; }

    emu_route route(http::verb method, std::string_view path) const override {
        emu_route r;
        if (method != http::verb::post) return r;
        constexpr auto prefix = "/model/"sv;
        auto const p = path.find(prefix);
        if (p == std::string_view::npos) return r;
        // The model id is one (percent-encoded) segment; the operation follows it.
        std::string_view const rest = path.substr(p + prefix.size());
        auto const slash = rest.find('/');
        if (slash == 0 || slash == std::string_view::npos) return r;
        std::string_view const op = rest.substr(slash + 1);
        if (op == "converse")
            r.path_stream = false;
        else if (op == "converse-stream")
            r.path_stream = true;
        else
            return r;
        r.endpoint = emu_endpoint::chat;
        r.path_model = percent_decode(rest.substr(0, slash));
        return r;
    }

    std::optional<emu_error> check_auth(server_request const& req,
                                        emu_auth const& auth) const override {
        std::string_view const authz = req[http::field::authorization];
        if (authz.size() > 7 && boost::beast::iequals(authz.substr(0, 7), "Bearer ")) {
            // A Bedrock API key (PROVIDERS.md 6). The exact error AWS gives a bad one is
            // (unconfirmed); the exception is the one a bad SigV4 key id gets.
            if (auth.bearer_token && auth.bearer_token(trim(authz.substr(7))))
                return std::nullopt;
            return aws_error(403, "The security token included in the request is invalid.",
                             "UnrecognizedClientException");
        }
        std::vector<std::pair<std::string, std::string>> headers;
        for (auto const& f : req)
            headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        sigv4_incoming_request in;
        in.method = req.method_string();
        in.target = req.target();
        in.headers = headers;
        in.body = req.body();
        sigv4_verify_options opt;
        opt.now = auth.now;
        opt.service = "bedrock";  // any region: the emulator stands in for all of them
        auto id = sigv4_verify(in, auth.aws_secret, opt);
        if (!id) return aws_error(403, id.error().diag.message, id.error().diag.error_type);
        // Any session token is accepted (the emulator keeps no STS sessions), but only a signed
        // one, as the AWS SDKs send it: an unsigned token could be swapped in transit.
        if (!id->session_token.empty() && !signs_header(authz, "x-amz-security-token"))
            return aws_error(403,
                             "The request signature we calculated does not match the signature "
                             "you provided: X-Amz-Security-Token must be a signed header.",
                             "InvalidSignatureException");
        return std::nullopt;
    }

    boost::system::result<emu_request, emu_error>
    parse_chat(json::value const& doc, emu_route const& route) const override {
        auto const* body = doc.if_object();
        if (!body)
            return validation("Malformed input request: expected a JSON object, please reformat "
                              "your input and try again.");
        emu_request r;
        r.model = route.path_model;
        r.stream = route.path_stream;
        r.include_usage = true;  // the metadata event always carries the usage
        if (r.model.empty()) return constraint("modelId", "Member must not be null");

        if (auto const* sys = body->if_contains("system")) {
            auto const* blocks = sys->if_array();
            if (!blocks) return constraint("system", "Member must be a list");
            for (auto const& b : *blocks)
                if (auto const* o = b.if_object())
                    if (auto const* t = o->if_contains("text"); t && t->is_string())
                        r.prompt_chars += t->get_string().size();
        }

        auto const* messages = body->if_contains("messages");
        if (!messages || messages->is_null())
            return constraint("messages", "Member must not be null");
        auto const* list = messages->if_array();
        if (!list) return constraint("messages", "Member must be a list");
        if (list->empty())
            return validation("A conversation must start with a user message. Try again with a "
                              "conversation that starts with a user message.");
        bool tool_blocks = false;
        std::string_view previous_role;
        for (std::size_t i = 0; i < list->size(); ++i) {
            auto where = [i] { return "messages." + std::to_string(i); };
            auto const* msg = (*list)[i].if_object();
            if (!msg) return constraint(where(), "Member must be a structure");
            auto const* role_v = msg->if_contains("role");
            std::string_view const role =
                role_v && role_v->is_string() ? std::string_view(role_v->get_string()) : "";
            if (role != "user" && role != "assistant")
                return constraint(where() + ".role",
                                  "Member must satisfy enum value set: [user, assistant]");
            if (i == 0 && role != "user")
                return validation("A conversation must start with a user message. Try again "
                                  "with a conversation that starts with a user message.");
            if (role == previous_role)
                return validation("A conversation must alternate between user and assistant "
                                  "roles. Make sure the conversation alternates between user "
                                  "and assistant roles and try again.");
            previous_role = role;
            auto const* content_v = msg->if_contains("content");
            auto const* content = content_v ? content_v->if_array() : nullptr;
            if (!content) return constraint(where() + ".content", "Member must not be null");
            if (content->empty())
                return constraint(where() + ".content",
                                  "Member must have length greater than or equal to 1");
            std::string text;
            std::string result_text;
            bool has_result = false;
            for (std::size_t j = 0; j < content->size(); ++j) {
                auto block = [&] { return where() + ".content." + std::to_string(j); };
                auto const* b = (*content)[j].if_object();
                if (!b) return constraint(block(), "Member must be a structure");
                if (auto const* t = b->if_contains("text")) {
                    if (!t->is_string() || t->get_string().empty())
                        return validation("The text field in the ContentBlock object at " +
                                          block() +
                                          " is blank. Add text to the text field, and try again.");
                    text += t->get_string();
                } else if (auto const* img = b->if_contains("image")) {
                    auto const* io = img->if_object();
                    auto const* fmt = io ? io->if_contains("format") : nullptr;
                    std::string_view const f =
                        fmt && fmt->is_string() ? std::string_view(fmt->get_string()) : "";
                    if (f != "png" && f != "jpeg" && f != "gif" && f != "webp")
                        return constraint(block() + ".image.format",
                                          "Member must satisfy enum value set: [png, jpeg, gif, "
                                          "webp]");
                    auto const* src = io->if_contains("source");
                    auto const* so = src ? src->if_object() : nullptr;
                    auto const* bytes = so ? so->if_contains("bytes") : nullptr;
                    if (!(bytes && bytes->is_string() &&
                          base64_decode(std::string_view(bytes->get_string()))) &&
                        !(so && so->contains("s3Location")))
                        return validation("Malformed input request: the image at " + block() +
                                          " has no valid base64 bytes or s3Location.");
                } else if (auto const* use = b->if_contains("toolUse")) {
                    tool_blocks = true;
                    if (role != "assistant")
                        return validation("The toolUse content block at " + block() +
                                          " must be in an assistant message.");
                    if (auto const* uo = use->if_object())
                        if (auto const* in = uo->if_contains("input"))
                            r.prompt_chars += json::serialize(*in).size();
                } else if (auto const* res = b->if_contains("toolResult")) {
                    tool_blocks = true;
                    if (role != "user")
                        return validation("The toolResult content block at " + block() +
                                          " must be in a user message.");
                    has_result = true;
                    auto const* ro = res->if_object();
                    append_tool_result_text(ro ? ro->if_contains("content") : nullptr,
                                            result_text);
                }
            }
            r.prompt_chars += text.size() + result_text.size();
            if (role == "user" && !text.empty()) r.last_user_text = text;
            bool const last = i + 1 == list->size();
            if (last && has_result) {
                r.last_is_tool_result = true;
                r.tool_result = std::move(result_text);
            }
        }

        if (auto const* ic = body->if_contains("inferenceConfig")) {
            auto const* io = ic->if_object();
            if (!io) return constraint("inferenceConfig", "Member must be a structure");
            if (auto const* mt = io->if_contains("maxTokens"); mt && !mt->is_null()) {
                std::int64_t n = 0;
                if (mt->is_int64())
                    n = mt->get_int64();
                else if (mt->is_uint64())
                    n = mt->get_uint64() > INT64_MAX ? INT64_MAX
                                                     : static_cast<std::int64_t>(mt->get_uint64());
                else
                    return constraint("inferenceConfig.maxTokens", "Member must be an integer");
                if (n < 1)
                    return constraint("inferenceConfig.maxTokens",
                                      "Member must have value greater than or equal to 1");
                r.max_tokens = static_cast<std::uint64_t>(n);
            }
        }

        bool has_tool_config = false;
        if (auto const* tc = body->if_contains("toolConfig"); tc && !tc->is_null()) {
            auto const* to = tc->if_object();
            if (!to) return constraint("toolConfig", "Member must be a structure");
            has_tool_config = true;
            auto const* tools = to->if_contains("tools");
            auto const* list_t = tools ? tools->if_array() : nullptr;
            if (!list_t || list_t->empty())
                return constraint("toolConfig.tools",
                                  "Member must have length greater than or equal to 1");
            for (std::size_t i = 0; i < list_t->size(); ++i) {
                auto const* t = (*list_t)[i].if_object();
                auto const* spec_v = t ? t->if_contains("toolSpec") : nullptr;
                auto const* spec = spec_v ? spec_v->if_object() : nullptr;
                if (!spec) continue;  // cachePoint and system tools
                auto const* name = spec->if_contains("name");
                std::string const where = "toolConfig.tools." + std::to_string(i) + ".toolSpec";
                if (!name || !name->is_string() || name->get_string().empty())
                    return constraint(where + ".name", "Member must not be null");
                auto const* schema = spec->if_contains("inputSchema");
                auto const* so = schema ? schema->if_object() : nullptr;
                auto const* js = so ? so->if_contains("json") : nullptr;
                if (!js) return constraint(where + ".inputSchema", "Member must not be null");
                emu_tool tool;
                tool.name = name->get_string();
                tool.parameters = js->if_object();
                r.tools.push_back(tool);
            }
            if (auto const* choice = to->if_contains("toolChoice")) {
                auto const* co = choice->if_object();
                if (co && co->contains("any")) {
                    r.tool_choice = emu_request::tool_mode::required;
                } else if (auto const* named = co ? co->if_contains("tool") : nullptr) {
                    auto const* no = named->if_object();
                    auto const* n = no ? no->if_contains("name") : nullptr;
                    if (!n || !n->is_string())
                        return constraint("toolConfig.toolChoice.tool.name",
                                          "Member must not be null");
                    r.tool_choice = emu_request::tool_mode::named;
                    r.tool_choice_name = std::string(n->get_string());
                }
            }
        }
        if (tool_blocks && !has_tool_config)
            return validation("The toolConfig field must be defined when using toolUse and "
                              "toolResult content blocks.");
        return r;
    }

    emu_error error_for_status(unsigned status, std::string_view model) const override {
        switch (status) {
        case 400:
            return validation("Malformed input request (emulated error), please reformat your "
                              "input and try again.");
        case 401:
            return aws_error(401, "The security token included in the request is invalid.",
                             "UnrecognizedClientException");
        case 403:
            return aws_error(403, "You don't have access to the model with the specified model ID.",
                             "AccessDeniedException");
        case 404:
            return aws_error(404, "Could not resolve the foundation model from the model "
                                  "identifier " + std::string(model) + ".",
                             "ResourceNotFoundException");
        case 408:
            return aws_error(408, "Model has timed out in processing the request. Try your "
                                  "request again.",
                             "ModelTimeoutException");
        case 424:
            return aws_error(424, "Received error from the model (emulated error).",
                             "ModelErrorException");
        case 429:
            return aws_error(429, "Too many requests, please wait before trying again.",
                             "ThrottlingException");
        case 500:
            return aws_error(500, "The server encountered an internal error while processing "
                                  "the request.",
                             "InternalServerException");
        case 503:
            return aws_error(503, "Bedrock is unable to process your request.",
                             "ServiceUnavailableException");
        default:
            return aws_error(status, "Emulated error (HTTP " + std::to_string(status) + ").",
                             status >= 500 ? "InternalServerException" : "ValidationException");
        }
    }

    emu_error unauthorized() const override {
        return aws_error(403, "Missing Authentication Token", "MissingAuthenticationTokenException");
    }

    emu_error unknown_route(std::string_view method, std::string_view target) const override {
        return aws_error(404,
                         "Unknown operation: " + std::string(method) + " " + std::string(target),
                         "UnknownOperationException");
    }

    emu_error invalid_json(std::string_view detail) const override {
        return validation("Malformed input request: " + std::string(detail) +
                          ", please reformat your input and try again.");
    }

    emu_error bad_request(std::string message) const override {
        return validation(std::move(message));
    }

    void render_error(emu_error const& e, std::string& out) const override {
        out += "{\"message\":";
        append_json_string(out, e.message);
        out += '}';
    }

    void add_headers(server_exchange& ex, std::uint64_t number,
                     std::uint64_t processing_ms) const override {
        (void)processing_ms;
        ex.add_header("x-amzn-RequestId", request_id(number));
    }

    void add_error_headers(server_exchange& ex, emu_error const& e) const override {
        std::string v = e.type;
        v += error_type_suffix;
        ex.add_header("x-amzn-ErrorType", v);
    }

    // Bedrock Runtime has no model listing (that is the control-plane `bedrock` service), and
    // `route` never selects these; they answer in Bedrock's shape anyway.
    void render_models(std::span<std::string const> models, std::string& out) const override {
        out += "{\"modelSummaries\":[";
        bool first = true;
        for (auto const& m : models) {
            if (!first) out += ',';
            first = false;
            render_model(m, out);
        }
        out += "]}";
    }

    void render_model(std::string_view model, std::string& out) const override {
        out += "{\"modelId\":";
        append_json_string(out, model);
        out += ",\"providerName\":\"llmux-emulator\"}";
    }

    void render_response(emu_answer const& a, std::string& out) const override {
        out += "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[";
        if (a.tool_call) {
            out += "{\"toolUse\":{\"toolUseId\":";
            append_tool_use_id(out, a);
            out += ",\"name\":";
            append_json_string(out, a.tool_name);
            out += ",\"input\":";
            // `input` is a JSON document: arguments cut by maxTokens are no longer one.
            boost::system::error_code ec;
            (void)json::parse(a.sent_text(), ec);
            if (ec)
                out += "{}";
            else
                out += a.sent_text();
            out += "}}";
        } else {
            out += "{\"text\":";
            append_json_string(out, a.sent_text());
            out += '}';
        }
        out += "]}},\"stopReason\":\"";
        out += stop_reason(a.finish);
        out += "\",\"usage\":";
        append_usage(out, a);
        out += ",\"metrics\":{\"latencyMs\":";
        append_number(out, latency_ms(a));
        out += "}}";
    }

    void render_malformed_response(emu_answer const& a, std::string& out) const override {
        // A member without a value right after the opening brace: the shape of a Converse
        // response, but no JSON parser accepts it.
        out += "{\"malformed\": ,";
        std::size_t const at = out.size();
        render_response(a, out);
        out.erase(at, 1);  // the response's own '{'
    }

    std::string_view stream_content_type() const noexcept override {
        return "application/vnd.amazon.eventstream";
    }

    void stream_begin(emu_answer& a, std::string& out) const override {
        // `a.scratch` holds each event's payload while its frame is written.
        auto& p = a.scratch;
        p.assign("{\"role\":\"assistant\"");
        append_padding(p, 0);
        p += '}';
        append_event(out, "messageStart", p);
        if (a.tool_call) {
            // Text blocks start with their first delta; a tool use announces its id and name.
            p.assign("{\"contentBlockIndex\":0,\"start\":{\"toolUse\":{\"toolUseId\":");
            append_tool_use_id(p, a);
            p += ",\"name\":";
            append_json_string(p, a.tool_name);
            p += "}}";
            append_padding(p, 1);
            p += '}';
            append_event(out, "contentBlockStart", p);
        }
    }

    void stream_piece(emu_answer& a, std::size_t i, std::string& out) const override {
        auto& p = a.scratch;
        p.assign(a.tool_call ? "{\"contentBlockIndex\":0,\"delta\":{\"toolUse\":{\"input\":"
                             : "{\"contentBlockIndex\":0,\"delta\":{\"text\":");
        append_json_string(p, a.piece(i));
        p += a.tool_call ? "}}" : "}";
        append_padding(p, i + 2);
        p += '}';
        append_event(out, "contentBlockDelta", p);
    }

    void stream_end(emu_answer& a, std::string& out) const override {
        auto& p = a.scratch;
        std::size_t const n = a.piece_count();
        p.assign("{\"contentBlockIndex\":0");
        append_padding(p, n + 2);
        p += '}';
        append_event(out, "contentBlockStop", p);

        p.assign("{\"stopReason\":\"");
        p += stop_reason(a.finish);
        p += '"';
        append_padding(p, n + 3);
        p += '}';
        append_event(out, "messageStop", p);

        p.assign("{\"usage\":");
        append_usage(p, a);
        p += ",\"metrics\":{\"latencyMs\":";
        append_number(p, latency_ms(a));
        p += '}';
        append_padding(p, n + 4);
        p += '}';
        append_event(out, "metadata", p);
    }

    void stream_error(emu_answer& a, std::string& out) const override {
        // A modelled exception (PROVIDERS.md 6.3): the model failed after the stream began.
        auto& p = a.scratch;
        p.assign("{\"message\":\"The system encountered an unexpected error during processing. "
                 "Try your request again.\",\"originalStatusCode\":500,\"originalMessage\":"
                 "\"Internal model error (emulated)\"}");
        event_header const headers[] = {
            {":exception-type", "modelStreamErrorException"sv},
            {":content-type", "application/json"sv},
            {":message-type", "exception"sv},
        };
        encode_message_to(out, headers, p);
    }

    void stream_malformed(emu_answer& a, std::string& out) const override {
        // A well-framed event (both CRCs right) whose JSON payload is cut short: the framing
        // layer accepts it, so the client's payload handling must reject it. Broken framing
        // (a CRC mismatch) is covered by the unit tests.
        auto& p = a.scratch;
        p.assign("{\"contentBlockIndex\":0,\"delta\":{\"text\":\"malformed}");
        append_event(out, "contentBlockDelta", p);
    }
};

}  // namespace

std::unique_ptr<emulator_protocol> make_bedrock_protocol() {
    return std::make_unique<bedrock_protocol>();
}

}  // namespace llmux::detail
