// SPDX-License-Identifier: BSL-1.0
// llmux models: the model catalog (built from the genai-prices data and llmux's overlay, a
// --config file's `prices` and `catalog`, and OpenRouter's /api/v1/models answer), filtered by
// provider, capability and text; and `--update FILE`, which checks a newer copy of the
// genai-prices data against its schema, says what it changes and writes it where it is used.
#include "catalog/genai_prices.hpp"
#include "util/json_read.hpp"
#include "catalog/json_schema.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/term.hpp"
#include "util/json_write.hpp"

#include <llmux/catalog.hpp>
#include <llmux/config.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
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
    // Today's prices: a model whose prices change with the date or the hour shows those in
    // effect now; its tiers follow.
    auto const p = m.prices_at(std::chrono::system_clock::now());
    o["input_price"] = opt_json(p.input_price);
    o["output_price"] = opt_json(p.output_price);
    o["cached_input_price"] = opt_json(p.cached_input_price);
    o["cache_write_price"] = opt_json(p.cache_write_price);
    o["request_price"] = opt_json(p.request_price);
    boost::json::array tiers;
    for (auto const& t : p.tiers)
        tiers.push_back(boost::json::object{{"above", t.above},
                                            {"input_price", opt_json(t.input_price)},
                                            {"output_price", opt_json(t.output_price)},
                                            {"cached_input_price", opt_json(t.cached_input_price)},
                                            {"cache_write_price", opt_json(t.cache_write_price)}});
    o["tiers"] = std::move(tiers);
    o["prices_vary_over_time"] = !m.schedule.empty();
    o["context_window"] = opt_json(m.context_window);
    o["max_output_tokens"] = opt_json(m.max_output_tokens);
    o["tools"] = m.tools;
    o["vision"] = m.vision;
    o["json_schema"] = m.json_schema;
    o["reasoning"] = m.reasoning;
    o["documents"] = m.documents;
    o["deprecated"] = m.deprecated;
    o["quality"] = m.quality;
    o["embedding_dimensions"] = m.embedding_dimensions
                                    ? boost::json::value(std::uint64_t{*m.embedding_dimensions})
                                    : boost::json::value(nullptr);
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
    add(m.reasoning, "reasoning");
    add(m.documents, "documents");
    if (m.embedding_dimensions) {
        if (!s.empty()) s += ' ';
        s += "embedding:" + std::to_string(*m.embedding_dimensions);
    }
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

// --------------------------------------------------------------------------------------------
// --update FILE

struct update_options {
    std::string file;
    std::string out;
    std::string schema_file;
    bool dry_run = false;
    bool json = false;
};

/// Writes `text` to `path` whole or not at all: a temporary file beside it, then a rename.
bool write_atomically(std::string const& path, std::string_view text, std::string& why) {
    std::string const tmp = path + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) {
            why = "cannot write '" + tmp + "'";
            return false;
        }
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.flush();
        if (!out) {
            why = "cannot write '" + tmp + "'";
            std::remove(tmp.c_str());
            return false;
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        why = "cannot replace '" + path + "'";
        std::remove(tmp.c_str());
        return false;
    }
    return true;
}

std::string list_line(std::vector<std::string> const& ids, std::size_t shown = 20) {
    std::string s;
    for (std::size_t i = 0; i < ids.size() && i < shown; ++i) s += "\n  " + ids[i];
    if (ids.size() > shown) s += "\n  ... and " + std::to_string(ids.size() - shown) + " more";
    return s;
}

int run_update(update_options const& o) {
    using namespace llmux;
    auto fail = [&](std::string const& msg, int code = 1) {
        std::cerr << "llmux models: --update " << o.file << ": " << msg << "\n";
        return code;
    };
    std::string text;
    if (!read_file(o.file, text)) return fail("cannot read the file");
    boost::system::error_code ec;
    auto const doc = detail::parse_json(text, ec);
    if (ec) return fail("not valid JSON (" + ec.message() + ")");

    std::string schema_text(detail::builtin_price_schema());
    if (!o.schema_file.empty() && !read_file(o.schema_file, schema_text))
        return fail("--schema: cannot read '" + o.schema_file + "'");
    auto const schema = detail::parse_json(schema_text, ec);
    if (ec) return fail("the schema is not valid JSON (" + ec.message() + ")");
    auto issues = detail::validate_json_schema(doc, schema, 200);
    if (!issues) return fail(issues.error().diag.message);
    std::vector<detail::schema_issue> errors, ignored;
    for (auto& i : *issues) (i.unlisted_field ? ignored : errors).push_back(std::move(i));
    if (!errors.empty()) {
        // One line per issue would drown the first; the first names the place and the problem.
        std::string more = errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) +
                                                   " more issues)"
                                             : "";
        return fail("does not follow the genai-prices schema: " +
                    (errors.front().path.empty() ? "/" : errors.front().path) + ": " +
                    errors.front().message + more);
    }
    auto parsed = detail::price_data_from_json(doc, o.file);
    if (!parsed) {
        std::cerr << "llmux models: --update: " << parsed.error().diag.message << "\n";
        return 1;
    }
    // The catalog must build from it too (the overlay merges, the rules compile).
    if (auto c = catalog::from_genai_prices(text, o.file); !c) {
        std::cerr << "llmux models: --update: " << c.error().diag.message << "\n";
        return 1;
    }

    // Where it goes: --out, or this source tree's vendored copy.
    std::string dest = o.out;
    bool const in_source_tree = std::filesystem::exists("data/genai-prices/SOURCE.md") &&
                                std::filesystem::exists("data/genai-prices/data_slim.json");
    if (dest.empty() && !o.dry_run) {
        if (!in_source_tree)
            return fail("not run from the llmux source tree: give --out FILE, then use that file "
                        "with {\"prices\": \"FILE\"} in a --config file",
                        2);
        dest = "data/genai-prices/data_slim.json";
    }
    if (dest.empty() && in_source_tree) dest = "data/genai-prices/data_slim.json";  // to compare

    // What changes: against the copy about to be replaced, else the built-in one.
    std::string before_text, before_name;
    std::optional<detail::price_data> before;
    if (!dest.empty() && read_file(dest, before_text))
        if (auto b = detail::parse_price_data(before_text, dest)) {
            before = std::move(*b);
            before_name = dest;
        }
    if (!before) {
        auto b = detail::parse_price_data(detail::builtin_price_data(), "built-in data");
        if (!b) return fail(b.error().diag.message);
        before = std::move(*b);
        before_name = "the built-in data (" + std::string(catalog::built_in_source()) + ")";
    }
    auto const d = detail::diff_price_data(*before, *parsed);

    std::string written;
    if (!o.dry_run) {
        std::string why;
        if (!write_atomically(dest, text, why)) return fail(why);
        written = dest;
        if (!o.schema_file.empty() && o.out.empty()) {
            std::string const schema_dest = "data/genai-prices/data_slim.schema.json";
            if (!write_atomically(schema_dest, schema_text, why)) return fail(why);
        }
    }

    if (o.json) {
        auto ids = [](std::vector<std::string> const& v) {
            return boost::json::array(v.begin(), v.end());
        };
        boost::json::array ignored_paths;
        for (auto const& i : ignored) ignored_paths.push_back(boost::json::string(i.path));
        boost::json::object out{{"file", o.file},
                                {"providers", parsed->providers.size()},
                                {"models", parsed->model_count()},
                                {"compared_with", before_name},
                                {"added", ids(d.added)},
                                {"removed", ids(d.removed)},
                                {"changed", ids(d.changed)},
                                {"ignored_fields", std::move(ignored_paths)},
                                {"written", written.empty() ? boost::json::value(nullptr)
                                                            : boost::json::value(written)}};
        std::cout << detail::to_json(out) << "\n";
        return 0;
    }
    std::cout << o.file << ": valid genai-prices data, " << parsed->providers.size()
              << " providers and " << parsed->model_count() << " models (was "
              << before->providers.size() << " and " << before->model_count() << " in "
              << before_name << ")\n";
    if (!ignored.empty())
        std::cout << "ignored " << ignored.size() << " field" << (ignored.size() == 1 ? "" : "s")
                  << " that the schema does not list (first: " << ignored.front().path << ")\n";
    std::cout << "added " << d.added.size() << " model" << (d.added.size() == 1 ? "" : "s")
              << list_line(d.added) << "\n";
    std::cout << "removed " << d.removed.size() << " model" << (d.removed.size() == 1 ? "" : "s")
              << list_line(d.removed) << "\n";
    std::cout << "changed prices of " << d.changed.size() << " model"
              << (d.changed.size() == 1 ? "" : "s") << list_line(d.changed) << "\n";
    if (written.empty())
        std::cout << "dry run: nothing written\n";
    else if (o.out.empty())
        std::cout << "wrote " << written
                  << "; name the upstream commit in data/genai-prices/SOURCE.md and rebuild\n";
    else
        std::cout << "wrote " << written << "; use it with {\"prices\": \"" << written
                  << "\"} in a --config file\n";
    return 0;
}

}  // namespace

int llmux_cli_models(std::vector<std::string> const& args) {
    using namespace llmux;
    std::string config_file, openrouter_file, search_opt;
    std::vector<std::string> providers_arg, caps_arg, extra;
    bool json = false, want_tools = false, want_vision = false, want_schema = false;
    update_options update;

    po::options_description desc(
        "usage: llmux models [options] [TEXT]\n"
        "       llmux models --update FILE [--out FILE] [--dry-run] [--schema FILE] [--json]\n"
        "Lists the model catalog: provider, model, prices (USD per million tokens), context\n"
        "window, longest answer, capabilities and quality rank. Prices come from the\n"
        "genai-prices data set (data/genai-prices/), capabilities from llmux's overlay.\n"
        "TEXT (or --search TEXT) keeps the models whose id contains it (case-insensitive), or\n"
        "that a provider/model id resolves to (anthropic/claude-sonnet-4.6). Filters combine:\n"
        "every one given must hold.\n"
        "--update checks a newer copy of genai-prices' data_slim.json against the schema, prints\n"
        "the models it adds, removes and reprices, and writes it: to --out FILE (use it with\n"
        "{\"prices\": \"FILE\"} in a --config file), else, run from the llmux source tree, over\n"
        "data/genai-prices/data_slim.json (rebuild to embed it).\n"
        "Exit status: 0 (also when no model matches), 1 for an unknown provider, a config or\n"
        "file that cannot be read or data that fails the checks, 2 for bad usage.\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("provider,p", po::value(&providers_arg)->composing()->value_name("P1,P2"),
         "only these providers (repeatable)")
        ("search,s", po::value(&search_opt)->value_name("TEXT"),
         "only models whose id contains TEXT, or that the id TEXT resolves to")
        ("tools", po::bool_switch(&want_tools), "only models that can call tools")
        ("vision", po::bool_switch(&want_vision), "only models that take images")
        ("json-schema", po::bool_switch(&want_schema),
         "only models that follow a JSON schema (structured output)")
        ("capability", po::value(&caps_arg)->composing()->value_name("CAP"),
         "only models with every capability given: tools, vision, json_schema, reasoning, "
         "documents (repeatable)")
        ("json", po::bool_switch(&json), "print a JSON array of the models instead of a table")
        ("openrouter", po::value(&openrouter_file)->value_name("FILE"),
         "merge OpenRouter's /api/v1/models answer (saved to FILE) into the catalog")
        ("config", po::value(&config_file)->value_name("FILE"),
         "JSON config file; its \"prices\" key names genai-prices data to use, its \"catalog\" "
         "key a catalog file to merge")
        ("update", po::value(&update.file)->value_name("FILE"),
         "check, compare and install a newer genai-prices data_slim.json")
        ("out", po::value(&update.out)->value_name("FILE"), "--update: write the data here")
        ("dry-run", po::bool_switch(&update.dry_run), "--update: check and compare only")
        ("schema", po::value(&update.schema_file)->value_name("FILE"),
         "--update: check against this data_slim.schema.json (default: the vendored one)");
    po::options_description hidden;
    hidden.add_options()("text", po::value(&extra)->multitoken());
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("text", -1);

    po::variables_map vm;
    if (!cli::parse_args(args, all, pos, vm, "models")) return 2;
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (!update.file.empty()) {
        update.json = json;
        if (!extra.empty() || !search_opt.empty() || !providers_arg.empty() || !caps_arg.empty() ||
            want_tools || want_vision || want_schema || !openrouter_file.empty()) {
            std::cerr << "llmux models: --update takes no filters (only --out, --dry-run, "
                         "--schema, --json)\n";
            return 2;
        }
        return run_update(update);
    }
    if (!update.out.empty() || update.dry_run || !update.schema_file.empty()) {
        std::cerr << "llmux models: --out, --dry-run and --schema go with --update FILE\n";
        return 2;
    }
    if (extra.size() + (vm.count("search") ? 1 : 0) > 1) {
        std::cerr << "llmux models: one search TEXT at most (got "
                  << extra.size() + (vm.count("search") ? 1 : 0) << ")\n";
        return 2;
    }
    std::string const search_text = !search_opt.empty() ? search_opt
                                    : extra.empty()     ? std::string()
                                                        : extra.front();
    std::string const search = lower(search_text);

    std::set<std::string> caps;
    if (want_tools) caps.insert("tools");
    if (want_vision) caps.insert("vision");
    if (want_schema) caps.insert("json_schema");
    for (auto const& arg : caps_arg)
        for (auto c : cli::split_list(arg)) {
            std::replace(c.begin(), c.end(), '-', '_');
            if (c == "json") c = "json_schema";
            if (c != "tools" && c != "vision" && c != "json_schema" && c != "reasoning" &&
                c != "documents") {
                std::cerr << "llmux models: --capability: unknown capability '" << c
                          << "' (expected tools, vision, json_schema, reasoning, documents)\n";
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

    // A search text that is a model id also finds the model it resolves to (a dated snapshot,
    // another spelling), whose listed id may not contain the text.
    model_info const* resolved =
        search_text.find('/') != std::string::npos ? cat.find(search_text) : nullptr;
    std::vector<model_info const*> shown;
    for (auto const& m : cat.models()) {
        if (!providers.empty() && !providers.count(provider_of(m.id))) continue;
        if (caps.count("tools") && !m.tools) continue;
        if (caps.count("vision") && !m.vision) continue;
        if (caps.count("json_schema") && !m.json_schema) continue;
        if (caps.count("reasoning") && !m.reasoning) continue;
        if (caps.count("documents") && !m.documents) continue;
        if (!search.empty() && lower(m.id).find(search) == std::string::npos && &m != resolved)
            continue;
        shown.push_back(&m);
    }

    if (json) {
        boost::json::array out;
        for (auto const* m : shown) out.push_back(model_json(*m));
        std::cout << llmux::detail::to_json(out) << "\n";
        return 0;
    }
    if (shown.empty()) {
        std::cerr << "llmux models: no model matches";
        if (providers.count("zenmux"))  // a router without a price list of its own
            std::cerr << " (zenmux ids are priced as their vendors' models, e.g. "
                         "zenmux/openai/gpt-4.1-mini, and not listed)";
        std::cerr << "\n";
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
    auto const now = std::chrono::system_clock::now();
    for (auto const* m : shown) {
        auto const prov = provider_of(m->id);
        auto const* pc = cfg.find(prov);
        // A provider whose key is set is one the user can call now: say so with colour only.
        bool const ready = pc && (!pc->key_required || !pc->credentials.api_key.empty() ||
                                  !pc->credentials.aws_access_key_id.empty() ||
                                  !pc->credentials.access_token.empty() ||
                                  !pc->credentials.google_credentials_file.empty());
        auto const prices = m->prices_at(now);
        // A '+' marks prices that rise for long prompts (context-size tiers).
        std::string const tiered = prices.tiers.empty() ? "" : "+";
        t.add({{prov, ready ? "32" : nullptr},
               {m->id.substr(m->id.find('/') + 1), "1"},
               {cli::format_price(prices.input_price) + tiered},
               {cli::format_price(prices.output_price) + tiered},
               {cli::format_count(m->context_window)},
               {cli::format_count(m->max_output_tokens)},
               {m->quality ? std::to_string(m->quality) : "-"},
               {capabilities(*m)}});
    }
    t.fit(cli::terminal_width(STDOUT_FILENO));
    std::cout << t.render(p);
    std::cout << p.dim(std::to_string(shown.size()) + " model" + (shown.size() == 1 ? "" : "s") +
                       "; prices in USD per million tokens (+: more above a prompt size, see "
                       "--json), from " +
                       (cfg.models ? std::string("the --config file's catalog")
                                   : std::string(catalog::built_in_source())) +
                       "; check them on the providers' pages before relying on them for billing")
              << "\n";
    return 0;
}
