// SPDX-License-Identifier: BSL-1.0
// llmux embed: texts to vectors with one model, printed as one JSON object.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "util/json_text.hpp"
#include "util/json_write.hpp"

#include <llmux/client.hpp>


#include <algorithm>
#include <array>
#include <fstream>
#include <iostream>

namespace po = boost::program_options;
namespace asio = boost::asio;

namespace {

using namespace llmux;

constexpr std::array tasks = {embedding_task::query,          embedding_task::document,
                              embedding_task::similarity,     embedding_task::classification,
                              embedding_task::clustering,     embedding_task::question_answering,
                              embedding_task::fact_verification, embedding_task::code_query};

/// Appends the lines of `in` that are not blank, without their line ends, to `out`.
void read_lines(std::istream& in, std::vector<std::string>& out) {
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") != std::string::npos) out.push_back(std::move(line));
    }
}

/// `[[0.1,-0.2,...],...]`: each float in the shortest form that reads back to it (a float
/// written as a double would print nine digits of noise); a value that is not finite (which
/// JSON cannot hold) as null.
void append_vectors(std::string& out, std::vector<std::vector<float>> const& vectors) {
    out += '[';
    for (std::size_t i = 0; i < vectors.size(); ++i) {
        if (i) out += ',';
        out += '[';
        for (std::size_t j = 0; j < vectors[i].size(); ++j) {
            if (j) out += ',';
            if (!detail::append_float(out, vectors[i][j])) out += "null";
        }
        out += ']';
    }
    out += ']';
}

/// The JSON object `llmux embed` prints for `r` (the fields of its `--help`).
std::string embed_json(result<embedding_response> const& r, std::string const& model,
                       std::size_t inputs) {
    boost::json::object o;
    o["model"] = model;
    o["inputs"] = inputs;
    if (r) {
        o["provider"] = r->provider;
        o["response_model"] = r->model;
        o["dimensions"] = r->vectors.empty() ? 0 : r->vectors.front().size();
        o["batches"] = r->batches;
        o["usage"] = cli::usage_json(r->usage);
        o["latency_ms"] = cli::to_ms(r->latency);
        o["request_id"] = r->request_id;
        o["cost_usd"] = r->cost_usd ? boost::json::value(*r->cost_usd) : nullptr;
    } else {
        auto const& f = r.error();
        auto const id = model_id::parse(model);
        o["provider"] = id ? id->provider : std::string();
        boost::json::object e;
        e["code"] = code_name(f.code);
        e["status"] = f.diag.http_status ? boost::json::value(f.diag.http_status) : nullptr;
        e["message"] = f.to_string();
        o["error"] = std::move(e);
        o["cost_usd"] = f.diag.cost_usd ? boost::json::value(*f.diag.cost_usd) : nullptr;
    }
    std::string out = detail::to_json(o);
    if (r) {  // the vectors last, so the summary reads first
        out.pop_back();
        out += ",\"embeddings\":";
        append_vectors(out, r->vectors);
        out += '}';
    }
    return out;
}

}  // namespace

int llmux_cli_embed(std::vector<std::string> const& args) {
    cli::provider_options popts;
    std::string model, file, task, title;
    std::vector<std::string> texts;
    std::int64_t dimensions = 0;

    po::options_description desc(
        "usage: llmux embed -m MODEL [options] TEXT...\n"
        "Embeds each TEXT (each non-blank line of standard input when TEXT is '-', or of FILE\n"
        "with --file) with MODEL and prints one JSON object: model, provider, response_model,\n"
        "inputs, dimensions, batches, usage, latency_ms, request_id, cost_usd and embeddings\n"
        "(one vector per input, in input order). On failure: model, provider, inputs, error\n"
        "(code, status, message) and cost_usd, and exit status 1.\n"
        "MODEL is provider/model, e.g. openai/text-embedding-3-small.\n\n"
        "options");
    std::string task_names;
    for (auto t : tasks) task_names += (task_names.empty() ? "" : ", ") + std::string(to_string(t));
    std::string const task_help = "what the vectors are for, where the provider asks: " + task_names;
    desc.add_options()
        ("help,h", "show this help")
        ("model,m", po::value(&model)->value_name("MODEL"), "the model, as provider/model")
        ("file,f", po::value(&file)->value_name("FILE"), "embed each non-blank line of FILE")
        ("dimensions", po::value(&dimensions)->value_name("N"),
         "the vectors' length, for models that can shorten them")
        ("task", po::value(&task)->value_name("TASK"), task_help.c_str())
        ("title", po::value(&title)->value_name("TEXT"), "a document title (with --task document)");
    cli::add_provider_options(desc, popts);
    po::options_description hidden;
    hidden.add_options()("text", po::value(&texts)->multitoken());
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("text", -1);
    po::variables_map vm;
    if (!cli::parse_args(args, all, pos, vm, "embed")) return 2;
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (model.empty()) {
        std::cerr << "llmux embed: missing -m MODEL (e.g. -m openai/text-embedding-3-small)\n";
        return 2;
    }

    embedding_request req;
    req.model = model;
    if (vm.count("dimensions")) {
        if (dimensions <= 0 || dimensions > 65536) {
            std::cerr << "llmux embed: --dimensions must be a number from 1 to 65536\n";
            return 2;
        }
        req.dimensions = static_cast<std::uint32_t>(dimensions);
    }
    if (!task.empty()) {
        auto const it = std::find_if(tasks.begin(), tasks.end(),
                                     [&](embedding_task t) { return to_string(t) == task; });
        if (it == tasks.end()) {
            std::cerr << "llmux embed: unknown --task '" << task << "' (one of " << task_names
                      << ")\n";
            return 2;
        }
        req.task = *it;
    }
    req.title = title;
    if (!file.empty()) {
        std::ifstream in(file);
        if (!in) {
            std::cerr << "llmux embed: cannot read --file " << file << "\n";
            return 2;
        }
        read_lines(in, req.inputs);
    }
    for (auto& t : texts) {
        if (t == "-")
            read_lines(std::cin, req.inputs);
        else
            req.inputs.push_back(std::move(t));
    }
    if (req.inputs.empty()) {
        std::cerr << "llmux embed: nothing to embed: give TEXT, '-' for the lines of standard "
                     "input, or --file FILE\n";
        return 2;
    }

    cli::session s;
    if (auto r = cli::setup(s, popts, {model}, "embed"); !r) {
        std::cerr << "llmux embed: " << r.error() << "\n";
        return 1;
    }
    client c{s.io.get_executor(), s.cfg};
    if (auto r = c.check_embed(model); !r) {
        std::cerr << "llmux embed: " << r.error() << "\n";
        if (s.emu) s.emu->stop();
        return 1;
    }

    auto const inputs = req.inputs.size();
    return cli::run_until_done(s, [&]() -> asio::awaitable<int> {
        auto const r = co_await c.embed(std::move(req));
        std::cout << embed_json(r, model, inputs) << "\n";
        if (!r) std::cerr << "llmux embed: " << r.error() << "\n";
        co_return r ? 0 : 1;
    });
}
