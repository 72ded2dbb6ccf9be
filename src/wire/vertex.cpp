// SPDX-License-Identifier: BSL-1.0
// Vertex AI serves two protocols under one provider (PROVIDERS.md 5.1, 5.3): Gemini models via
// `publishers/google` and Claude models via `publishers/anthropic`. This format only picks the
// one for the model; the Gemini and Anthropic formats encode the Vertex variant when the
// provider's options say `"vertex": true`.
#include "wire/formats.hpp"

namespace llmux::detail {

namespace {

class vertex final : public wire_format {
public:
    std::string_view name() const noexcept override { return "vertex"; }

    wire_format const& for_model(std::string_view model) const noexcept override {
        // Anthropic's models on Vertex are named claude-* (optionally publisher-qualified).
        if (model.rfind("claude", 0) == 0 || model.rfind("anthropic/", 0) == 0)
            return anthropic_messages_format();
        return gemini_format();
    }

    result<http_request> encode(chat_request const& req, encode_context const& ctx) const override {
        return for_model(ctx.model).encode(req, ctx);
    }
    // The client resolves `for_model` first, so these are only reached by mistake; answer as
    // Gemini, Vertex's own protocol.
    result<chat_response> decode(response_head const& head, std::string_view body) const override {
        return gemini_format().decode(head, body);
    }
    failure decode_error(response_head const& head, std::string_view body) const override {
        return gemini_format().decode_error(head, body);
    }
    std::unique_ptr<stream_decoder> make_stream_decoder() const override {
        return gemini_format().make_stream_decoder();
    }
    bool continues_prefill(std::string_view model, chat_request const& req) const noexcept override {
        return for_model(model).continues_prefill(model, req);
    }
};

}  // namespace

wire_format const& vertex_format() {
    static vertex const f;
    return f;
}

}  // namespace llmux::detail
