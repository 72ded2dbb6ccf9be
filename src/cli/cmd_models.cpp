// SPDX-License-Identifier: BSL-1.0
// llmux models: the model catalog (built in, from a --config file's `catalog`, and OpenRouter's
// /api/v1/models answer), filtered by provider, capability and text.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/term.hpp"
#include "util/json_write.hpp"

#include <llmux/catalog.hpp>
#include <llmux/config.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

namespace po = boost::program_options;

namespace {

using llmux::model_info;

std::string provider_of(std::string const& id) { return id.substr(0, id.find('/')); }

boost::json::value opt_json(std::optional<double> v) {
    return v ? boost::json::value(*v) : boost::json::value(nullptr);
}
boost::json::value opt_json(std::optional<std::uint64_t> v) {
    return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

boost::json::object model_json(model_info const& m) {
    boost::json::object o;
    o["id"] = m.id;
    o["provider"] = provider_of(m.id);
    o["model"] = m.id.substr(m.id.find('/') + 1);
    o["input_price"] = opt_json(m.input_price);
    o["output_price"] = opt_json(m.output_price);
    o["cached_input_price"] = opt_json(m.cached_input_price);
    o["cache_write_price"] = opt_json(m.cache_write_price);
    o["context_window"] = opt_json(m.context_window);
    o["max_output_tokens"] = opt_json(m.max_output_tokens);
    o["tools"] = m.tools;
    o["vision"] = m.vision;
    o["json_schema"] = m.json_schema;
    o["quality"] = m.quality;
    return o;
}

std::string capabilities(model_info const& m) {
    std::string s;
    auto add = [&](bool on, char const* name) {
        if (!on) return;
        if (!s.empty()) s += ' ';
        s += name;
    };
    add(m.tools, "tools");
    add(m.vision, "vision");
    add(m.json_schema, "json_schema");
    return s.empty() ? "-" : s;
}

bool read_file(std::string const& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return static_cast<bool>(in) || in.eof();
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

int llmux_cli_models(std::vector<std::string> const& args) {
    using namespace llmux;
    std::string config_file, openrouter_file, search;
    std::vector<std::string> providers_arg, caps_arg, extra;
    bool json = false, want_tools = false, want_vision = false, want_schema = false;

    po::options_description desc(
        "usage: llmux models [options] [TEXT]\n"
        "Lists the model catalog: provider, model, prices (USD per million tokens), context\n"
        "window, longest answer, capabilities and quality rank. TEXT keeps the models whose id\n"
        "contains it (case-insensitive). Filters combine: every one given must hold.\n"
        "Exit status: 0 (also when no model matches), 1 for an unknown provider or a config or\n"
        "file that cannot be read, 2 for bad usage.\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("provider,p", po::value(&providers_arg)->composing()->value_name("P1,P2"),
         "only these providers (repeatable)")
        ("tools", po::bool_switch(&want_tools), "only models that can call tools")
        ("vision", po::bool_switch(&want_vision), "only models that take images")
        ("json-schema", po::bool_switch(&want_schema),
         "only models that follow a JSON schema (structured output)")
        ("capability", po::value(&caps_arg)->composing()->value_name("CAP"),
         "only models with every capability given: tools, vision, json_schema (repeatable)")
        ("json", po::bool_switch(&json), "print a JSON array of the models instead of a table")
        ("openrouter", po::value(&openrouter_file)->value_name("FILE"),
         "merge OpenRouter's /api/v1/models answer (saved to FILE) into the catalog")
        ("config", po::value(&config_file)->value_name("FILE"),
         "JSON config file; its \"catalog\" key names a catalog file to merge");
    po::options_description hidden;
    hidden.add_options()("search", po::value(&extra)->multitoken());
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("search", -1);

    po::variables_map vm;
    if (!cli::parse_args(args, all, pos, vm, "models")) return 2;
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (extra.size() > 1) {
        std::cerr << "llmux models: one search TEXT at most (got " << extra.size() << ")\n";
        return 2;
    }
    if (!extra.empty()) search = lower(extra.front());

    std::set<std::string> caps;
    if (want_tools) caps.insert("tools");
    if (want_vision) caps.insert("vision");
    if (want_schema) caps.insert("json_schema");
    for (auto const& arg : caps_arg)
        for (auto c : cli::split_list(arg)) {
            std::replace(c.begin(), c.end(), '-', '_');
            if (c == "json") c = "json_schema";
            if (c != "tools" && c != "vision" && c != "json_schema") {
                std::cerr << "llmux models: --capability: unknown capability '" << c
                          << "' (expected tools, vision, json_schema)\n";
                return 2;
            }
            caps.insert(c);
        }

    client_config cfg = client_config::from_env();
    if (!config_file.empty())
        if (auto r = cfg.load_file(config_file); !r) {
            std::cerr << "llmux models: " << r.error() << "\n";
            return 1;
        }
    catalog cat = cfg.models ? *cfg.models : catalog::built_in();
    if (!openrouter_file.empty()) {
        std::string text;
        if (!read_file(openrouter_file, text)) {
            std::cerr << "llmux models: --openrouter: cannot read '" << openrouter_file << "'\n";
            return 1;
        }
        if (auto r = cat.import_openrouter(text); !r) {
            std::cerr << "llmux models: --openrouter " << openrouter_file << ": " << r.error()
                      << "\n";
            return 1;
        }
    }

    std::set<std::string> providers;
    for (auto const& arg : providers_arg)
        for (auto const& p : cli::split_list(arg)) {
            bool const known = cfg.find(p) != nullptr ||
                               std::any_of(cat.models().begin(), cat.models().end(),
                                           [&](model_info const& m) { return provider_of(m.id) == p; });
            if (!known) {
                std::cerr << "llmux models: unknown provider '" << p
                          << "' (not configured and not in the catalog)\n";
                return 1;
            }
            providers.insert(p);
        }

    std::vector<model_info const*> shown;
    for (auto const& m : cat.models()) {
        if (!providers.empty() && !providers.count(provider_of(m.id))) continue;
        if (caps.count("tools") && !m.tools) continue;
        if (caps.count("vision") && !m.vision) continue;
        if (caps.count("json_schema") && !m.json_schema) continue;
        if (!search.empty() && lower(m.id).find(search) == std::string::npos) continue;
        shown.push_back(&m);
    }

    if (json) {
        boost::json::array out;
        for (auto const* m : shown) out.push_back(model_json(*m));
        std::cout << llmux::detail::to_json(out) << "\n";
        return 0;
    }
    if (shown.empty()) {
        std::cerr << "llmux models: no model matches\n";
        return 0;
    }

    auto const p = cli::palette::for_fd(STDOUT_FILENO);
    cli::table t({{"PROVIDER"},
                  {"MODEL"},
                  {"INPUT $/M", true},
                  {"OUTPUT $/M", true},
                  {"CONTEXT", true},
                  {"MAX OUT", true},
                  {"QUALITY", true},
                  {"CAPABILITIES"}});
    for (auto const* m : shown) {
        auto const prov = provider_of(m->id);
        auto const* pc = cfg.find(prov);
        // A provider whose key is set is one the user can call now: say so with colour only.
        bool const ready = pc && (!pc->key_required || !pc->credentials.api_key.empty() ||
                                  !pc->credentials.aws_access_key_id.empty() ||
                                  !pc->credentials.access_token.empty() ||
                                  !pc->credentials.google_credentials_file.empty());
        t.add({{prov, ready ? "32" : nullptr},
               {m->id.substr(m->id.find('/') + 1), "1"},
               {cli::format_price(m->input_price)},
               {cli::format_price(m->output_price)},
               {cli::format_count(m->context_window)},
               {cli::format_count(m->max_output_tokens)},
               {m->quality ? std::to_string(m->quality) : "-"},
               {capabilities(*m)}});
    }
    t.fit(cli::terminal_width(STDOUT_FILENO));
    std::cout << t.render(p);
    std::cout << p.dim(std::to_string(shown.size()) + " model" + (shown.size() == 1 ? "" : "s") +
                       "; prices in USD per million tokens; check them on the providers' pages "
                       "before relying on them for billing")
              << "\n";
    return 0;
}
