// SPDX-License-Identifier: BSL-1.0
#include <llmux/config.hpp>

#include <llmux/catalog.hpp>

#include "util/header.hpp"
#include "util/json_read.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace llmux {

namespace {

struct preset {
    char const* name;
    char const* base_url;
    char const* key_env;
    char const* base_env;
    auth_scheme auth;
    char const* auth_header;
    bool key_required;
    char const* wire;
};

// The built-in providers. Base URLs per PROVIDERS.md section 2.
constexpr preset presets_table[] = {
    {"openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL",
     auth_scheme::bearer, "", true, "openai"},
    {"openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL",
     auth_scheme::bearer, "", true, "openai"},
    {"deepseek", "https://api.deepseek.com", "DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL",
     auth_scheme::bearer, "", true, "openai"},
    {"zenmux", "https://zenmux.ai/api/v1", "ZENMUX_API_KEY", "ZENMUX_BASE_URL",
     auth_scheme::bearer, "", true, "openai"},
    {"azure", "", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_BASE_URL", auth_scheme::header,
     "api-key", true, "openai"},
    {"groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "GROQ_BASE_URL",
     auth_scheme::bearer, "", true, "openai"},
    {"together", "https://api.together.xyz/v1", "TOGETHER_API_KEY", "TOGETHER_BASE_URL",
     auth_scheme::bearer, "", true, "openai"},
    {"ollama", "http://localhost:11434/v1", "OLLAMA_API_KEY", "OLLAMA_BASE_URL",
     auth_scheme::bearer, "", false, "openai"},
    {"vllm", "http://localhost:8000/v1", "VLLM_API_KEY", "VLLM_BASE_URL", auth_scheme::bearer,
     "", false, "openai"},
    {"anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
     auth_scheme::header, "x-api-key", true, "anthropic"},
    {"google", "https://generativelanguage.googleapis.com/v1beta", "GEMINI_API_KEY",
     "GEMINI_BASE_URL", auth_scheme::header, "x-goog-api-key", true, "gemini"},
    // Vertex and Bedrock build their base URLs from the project/location or region below.
    {"vertex", "", "VERTEX_ACCESS_TOKEN", "VERTEX_BASE_URL", auth_scheme::google_oauth, "", true,
     "vertex"},
    {"bedrock", "", "AWS_BEARER_TOKEN_BEDROCK", "BEDROCK_BASE_URL", auth_scheme::aws_sigv4, "",
     true, "bedrock"},
};

/// The Vertex AI base URL of a project and location (PROVIDERS.md 5.1).
std::string vertex_base_url(std::string const& project, std::string const& location) {
    std::string const host = location == "global" ? "aiplatform.googleapis.com"
                                                  : location + "-aiplatform.googleapis.com";
    return "https://" + host + "/v1/projects/" + project + "/locations/" + location;
}

char const* default_getenv(char const* name) { return std::getenv(name); }

std::string env_or(client_config::env_reader const& getenv, char const* name) {
    if (!name || !*name) return {};
    char const* v = getenv(name);
    return v ? std::string(v) : std::string();
}

/// What a loaded value becomes: a header value, a name inside a host (region, location), a
/// project id inside a URL path, or a URL or file path.
enum class value_kind { header, host_label, project, url };

/// What is wrong with `v` as a value of `kind`, or nothing. Never quotes the value.
std::optional<std::string> value_problem(std::string_view v, value_kind kind) {
    if (auto p = detail::header_value_problem(v)) return std::string(*p);
    auto all = [&](auto ok) {
        for (char c : v)
            if (!ok(c)) return false;
        return !v.empty();
    };
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    switch (kind) {
    case value_kind::host_label:
        if (!all([&](char c) { return alnum(c) || c == '-'; }))
            return std::string("must be a region or location name: letters, digits and '-' "
                               "(e.g. us-east-1)");
        break;
    case value_kind::project:
        if (!all([&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.' || c == ':'; }))
            return std::string("must be a project id: letters, digits and - _ . :");
        break;
    case value_kind::header:
    case value_kind::url: break;
    }
    return std::nullopt;
}

/** Reads the environment variable `name` for provider `p`. A value that cannot be used is not
    used: `p.load_error` names the variable and the problem (the first one found wins).
*/
std::string env_checked(client_config::env_reader const& getenv, char const* name,
                        value_kind kind, provider_config& p) {
    std::string v = env_or(getenv, name);
    if (v.empty()) return v;
    if (auto problem = value_problem(v, kind)) {
        if (p.load_error.empty())
            p.load_error = "provider '" + p.name + "': environment variable " + name + " " +
                           *problem;
        return {};
    }
    return v;
}

std::string trim_slash(std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

failure config_error(std::string_view origin, std::string const& what) {
    return failure(error::invalid_config, std::string(origin) + ": " + what);
}

result<auth_scheme> parse_auth(std::string_view s, std::string_view origin,
                               std::string const& where) {
    if (s == "none") return auth_scheme::none;
    if (s == "bearer") return auth_scheme::bearer;
    if (s == "header") return auth_scheme::header;
    if (s == "aws_sigv4") return auth_scheme::aws_sigv4;
    if (s == "google_oauth") return auth_scheme::google_oauth;
    return config_error(origin, where + ": unknown auth scheme '" + std::string(s) +
                                    "' (expected none, bearer, header, aws_sigv4, google_oauth)");
}

/// Reads an object of strings; `check(name, value)` says what is wrong with a pair.
template <class Check>
result<header_list> parse_pairs(boost::json::value const& v, std::string_view origin,
                                std::string const& where, Check check) {
    auto const* obj = v.if_object();
    if (!obj) return config_error(origin, where + " must be an object of strings");
    header_list out;
    for (auto const& [k, val] : *obj) {
        auto const* s = val.if_string();
        if (!s) return config_error(origin, where + "." + std::string(k) + " must be a string");
        if (auto problem = check(k, *s))
            return config_error(origin, where + "." + detail::printable_name(k) + ": " + *problem);
        out.emplace_back(std::string(k), std::string(*s));
    }
    return out;
}

result<duration> json_duration(boost::json::value const& v, std::string_view origin,
                               std::string const& where) {
    if (auto const* s = v.if_string()) {
        auto d = parse_duration(*s);
        if (!d) return config_error(origin, where + ": " + d.error().diag.message);
        return *d;
    }
    if (v.is_number()) {
        double const secs = v.to_number<double>();
        if (secs < 0 || !std::isfinite(secs))
            return config_error(origin, where + " must be a non-negative duration");
        return std::chrono::duration_cast<duration>(std::chrono::duration<double>(secs));
    }
    return config_error(origin, where + " must be a duration such as \"10s\" or a number of seconds");
}

result<void> apply_provider(provider_config& p, boost::json::object const& o,
                            std::string_view origin, std::string const& where,
                            client_config::env_reader const& getenv) {
    for (auto const& [key, v] : o) {
        std::string const field = where + "." + std::string(key);
        auto need_string = [&]() -> result<std::string> {
            if (auto const* s = v.if_string()) return std::string(*s);
            return config_error(origin, field + " must be a string");
        };
        if (key == "base_url") {
            auto s = need_string();
            if (!s) return s.error();
            p.base_url = trim_slash(*s);
        } else if (key == "wire") {
            auto s = need_string();
            if (!s) return s.error();
            p.wire = *s;
        } else if (key == "auth") {
            auto s = need_string();
            if (!s) return s.error();
            auto a = parse_auth(*s, origin, field);
            if (!a) return a.error();
            p.auth = *a;
        } else if (key == "auth_header") {
            auto s = need_string();
            if (!s) return s.error();
            if (!detail::is_header_name(*s))
                return config_error(origin, field + " must be a header name (a token such as "
                                                    "x-api-key)");
            p.auth_header = *s;
        } else if (key == "api_key_env") {
            auto s = need_string();
            if (!s) return s.error();
            p.api_key_env = *s;
            std::string key_value = env_or(getenv, s->c_str());
            if (auto problem = value_problem(key_value, value_kind::header))
                return config_error(origin, "environment variable " + *s + " (named by " +
                                                field + ") " + *problem);
            p.credentials.api_key = std::move(key_value);
        } else if (key == "api_key") {
            auto s = need_string();
            if (!s) return s.error();
            if (auto problem = value_problem(*s, value_kind::header))
                return config_error(origin, field + " " + *problem);
            p.credentials.api_key = *s;
        } else if (key == "key_required") {
            if (!v.is_bool()) return config_error(origin, field + " must be true or false");
            p.key_required = v.get_bool();
        } else if (key == "headers") {
            auto h = parse_pairs(v, origin, field, [](std::string_view n, std::string_view val) {
                return detail::header_problem(n, val);
            });
            if (!h) return h.error();
            for (auto& [k, val] : *h) {
                auto it = std::find_if(p.headers.begin(), p.headers.end(),
                                       [&](auto const& e) { return e.first == k; });
                if (it != p.headers.end())
                    it->second = val;
                else
                    p.headers.emplace_back(k, val);
            }
        } else if (key == "query") {
            auto q = parse_pairs(v, origin, field, [](std::string_view, std::string_view val) {
                return value_problem(val, value_kind::url);
            });
            if (!q) return q.error();
            p.query = std::move(*q);
        } else if (key == "options") {
            if (!v.is_object()) return config_error(origin, field + " must be an object");
            for (auto const& [ok, ov] : v.get_object()) {
                // Options become headers (anthropic_version), host names (region, location)
                // and URL paths (project): each is checked for what it becomes.
                if (auto const* os = ov.if_string()) {
                    value_kind const kind = ok == "region" || ok == "location" ? value_kind::host_label
                                            : ok == "project"                  ? value_kind::project
                                                                               : value_kind::header;
                    if (auto problem = value_problem(*os, kind))
                        return config_error(origin, field + "." + std::string(ok) + " " + *problem);
                }
                p.options[ok] = ov;
            }
        } else {
            return config_error(origin, "unknown field " + field);
        }
    }
    return {};
}

}  // namespace

result<duration> parse_duration(std::string_view text) {
    std::string_view t = text;
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
    auto bad = [&] {
        return failure(error::invalid_config,
                       "invalid duration '" + std::string(text) +
                           "': expected a number with a unit, e.g. 250ms, 10s, 1.5s, 2m, 1h");
    };
    if (t.empty()) return bad();
    std::size_t i = 0;
    while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
    if (i == 0) return bad();
    double value = 0;
    {
        std::string const num(t.substr(0, i));
        char* end = nullptr;
        value = std::strtod(num.c_str(), &end);
        if (end != num.c_str() + num.size()) return bad();
    }
    std::string_view const unit = t.substr(i);
    double scale = 0;
    if (unit.empty() || unit == "s")
        scale = 1;
    else if (unit == "ms")
        scale = 1e-3;
    else if (unit == "us")
        scale = 1e-6;
    else if (unit == "m" || unit == "min")
        scale = 60;
    else if (unit == "h")
        scale = 3600;
    else
        return bad();
    double const secs = value * scale;
    if (!std::isfinite(secs) || secs > 1e7) return bad();
    return std::chrono::duration_cast<duration>(std::chrono::duration<double>(secs));
}

client_config client_config::presets() {
    client_config c;
    for (auto const& p : presets_table) {
        provider_config pc;
        pc.name = p.name;
        pc.base_url = p.base_url;
        pc.wire = p.wire;
        pc.auth = p.auth;
        pc.auth_header = p.auth_header;
        pc.api_key_env = p.key_env;
        pc.key_required = p.key_required;
        c.providers.emplace(pc.name, std::move(pc));
    }
    c.providers["azure"].query.emplace_back("api-version", "2024-10-21");
    c.providers["vertex"].options["vertex"] = true;
    c.providers["vertex"].options["location"] = "us-central1";
    c.providers["bedrock"].options["region"] = "us-east-1";
    c.providers["bedrock"].base_url = "https://bedrock-runtime.us-east-1.amazonaws.com";
    return c;
}

client_config client_config::from_env(env_reader getenv) {
    if (!getenv) getenv = default_getenv;
    client_config c = presets();
    for (auto const& p : presets_table) {
        auto& pc = c.providers[p.name];
        pc.credentials.api_key = env_checked(getenv, p.key_env, value_kind::header, pc);
        if (auto base = env_checked(getenv, p.base_env, value_kind::url, pc); !base.empty())
            pc.base_url = trim_slash(base);
    }
    // Azure: the resource endpoint names the base; deployments go in the path.
    {
        auto& az = c.providers["azure"];
        if (az.base_url.empty()) {
            if (auto ep = trim_slash(env_checked(getenv, "AZURE_OPENAI_ENDPOINT", value_kind::url, az));
                !ep.empty())
                az.base_url = ep + "/openai/deployments/{model}";
        }
        if (auto v = env_checked(getenv, "AZURE_OPENAI_API_VERSION", value_kind::url, az); !v.empty())
            az.query = {{"api-version", v}};
    }
    {
        auto& oa = c.providers["openai"];
        if (auto org = env_checked(getenv, "OPENAI_ORG_ID", value_kind::header, oa); !org.empty())
            oa.headers.emplace_back("OpenAI-Organization", org);
        if (auto proj = env_checked(getenv, "OPENAI_PROJECT_ID", value_kind::header, oa);
            !proj.empty())
            oa.headers.emplace_back("OpenAI-Project", proj);
    }
    {
        auto& orr = c.providers["openrouter"];
        if (auto ref = env_checked(getenv, "OPENROUTER_REFERER", value_kind::header, orr);
            !ref.empty())
            orr.headers.emplace_back("HTTP-Referer", ref);
        if (auto title = env_checked(getenv, "OPENROUTER_TITLE", value_kind::header, orr);
            !title.empty())
            orr.headers.emplace_back("X-Title", title);
    }
    {
        auto& ol = c.providers["ollama"];
        if (std::string const host = env_checked(getenv, "OLLAMA_HOST", value_kind::url, ol);
            !host.empty() && env_or(getenv, "OLLAMA_BASE_URL").empty()) {
            ol.base_url = (host.find("://") == std::string::npos ? "http://" + host : host);
            ol.base_url = trim_slash(ol.base_url) + "/v1";
        }
    }
    {
        // GOOGLE_API_KEY is accepted too, as the Google SDKs do.
        auto& g = c.providers["google"];
        if (g.credentials.api_key.empty() && env_or(getenv, "GEMINI_API_KEY").empty()) {
            g.credentials.api_key = env_checked(getenv, "GOOGLE_API_KEY", value_kind::header, g);
            if (!g.credentials.api_key.empty()) g.api_key_env = "GOOGLE_API_KEY";
        }
    }
    {
        auto& v = c.providers["vertex"];
        v.credentials.access_token = v.credentials.api_key;  // VERTEX_ACCESS_TOKEN
        v.credentials.api_key.clear();
        v.credentials.google_credentials_file =
            env_checked(getenv, "GOOGLE_APPLICATION_CREDENTIALS", value_kind::url, v);
        v.api_key_env = "GOOGLE_APPLICATION_CREDENTIALS or VERTEX_ACCESS_TOKEN";
        std::string project = env_checked(getenv, "GOOGLE_CLOUD_PROJECT", value_kind::project, v);
        if (project.empty()) project = env_checked(getenv, "VERTEX_PROJECT", value_kind::project, v);
        if (project.empty() && !v.credentials.google_credentials_file.empty()) {
            // The key file names its project.
            std::ifstream in(v.credentials.google_credentials_file);
            std::ostringstream ss;
            ss << in.rdbuf();
            boost::system::error_code ec;
            auto doc = detail::parse_json(ss.str(), ec);
            if (!ec && doc.is_object())
                if (auto const* pid = doc.get_object().if_contains("project_id"); pid && pid->is_string()) {
                    std::string_view const id = pid->get_string();
                    if (auto problem = value_problem(id, value_kind::project)) {
                        if (v.load_error.empty())
                            v.load_error = "provider 'vertex': the project_id of the key file "
                                           "named by GOOGLE_APPLICATION_CREDENTIALS " + *problem;
                    } else {
                        project = std::string(id);
                    }
                }
        }
        std::string location = env_checked(getenv, "GOOGLE_CLOUD_LOCATION", value_kind::host_label, v);
        if (location.empty())
            location = env_checked(getenv, "VERTEX_LOCATION", value_kind::host_label, v);
        if (location.empty()) location = "us-central1";
        v.options["location"] = location;
        if (!project.empty()) v.options["project"] = project;
        if (v.base_url.empty() && !project.empty()) v.base_url = vertex_base_url(project, location);
    }
    {
        auto& b = c.providers["bedrock"];
        auto& cr = b.credentials;
        cr.aws_access_key_id = env_checked(getenv, "AWS_ACCESS_KEY_ID", value_kind::header, b);
        cr.aws_secret_access_key = env_checked(getenv, "AWS_SECRET_ACCESS_KEY", value_kind::header, b);
        cr.aws_session_token = env_checked(getenv, "AWS_SESSION_TOKEN", value_kind::header, b);
        b.api_key_env = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_BEARER_TOKEN_BEDROCK)";
        std::string region = env_checked(getenv, "AWS_REGION", value_kind::host_label, b);
        if (region.empty()) region = env_checked(getenv, "AWS_DEFAULT_REGION", value_kind::host_label, b);
        if (!region.empty()) {
            b.options["region"] = region;
            if (env_or(getenv, "BEDROCK_BASE_URL").empty())
                b.base_url = "https://bedrock-runtime." + region + ".amazonaws.com";
        }
    }
    if (auto ca = env_or(getenv, "LLMUX_CA_FILE"); !ca.empty()) c.tls.ca_file = ca;
    return c;
}

result<void> client_config::load_file(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return failure(error::invalid_config, "cannot read config file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return load_json(ss.str(), path);
}

result<void> client_config::load_json(std::string_view json, std::string_view origin) {
    boost::system::error_code ec;
    boost::json::value root = detail::parse_json(json, ec);
    if (ec) return config_error(origin, "not valid JSON (" + ec.message() + ")");
    auto const* obj = root.if_object();
    if (!obj) return config_error(origin, "the top level must be a JSON object");

    client_config next = *this;  // apply to a copy: a bad file changes nothing
    env_reader getenv = default_getenv;
    // A newer copy of the genai-prices data (written by `llmux models --update FILE --out PATH`)
    // replaces the built-in prices; it is applied first, so that a "catalog" file's models go
    // on top of it whatever the order of the keys.
    if (auto const* prices = obj->if_contains("prices")) {
        if (!prices->is_string()) return config_error(origin, "prices must be a file path");
        std::string const path(prices->get_string());
        std::ifstream in(path, std::ios::binary);
        if (!in) return config_error(origin, "prices: cannot read '" + path + "'");
        std::ostringstream ss;
        ss << in.rdbuf();
        auto c = catalog::from_genai_prices(ss.str(), path);
        if (!c) return c.error();
        next.models = std::make_shared<catalog>(std::move(*c));
    }
    for (auto const& [key, v] : *obj) {
        if (key == "prices") {
            continue;  // applied above
        } else if (key == "providers") {
            auto const* ps = v.if_object();
            if (!ps) return config_error(origin, "providers must be an object");
            for (auto const& [name, pv] : *ps) {
                std::string const where = "providers." + std::string(name);
                auto const* po = pv.if_object();
                if (!po) return config_error(origin, where + " must be an object");
                if (name.empty() || name.find('/') != boost::json::string_view::npos)
                    return config_error(origin, where + ": a provider name must be non-empty "
                                                        "and contain no '/'");
                auto it = next.providers.find(std::string_view(name));
                if (it == next.providers.end()) {
                    provider_config pc;
                    pc.name = std::string(name);
                    it = next.providers.emplace(pc.name, std::move(pc)).first;
                }
                if (auto r = apply_provider(it->second, *po, origin, where, getenv); !r)
                    return r.error();
                if (it->second.base_url.empty())
                    return config_error(origin, where + ": base_url is required");
                // `{model}` (Azure-style deployments) is not valid in a URI: parse with a
                // stand-in for it.
                std::string url = it->second.base_url;
                for (auto pos = url.find("{model}"); pos != std::string::npos;
                     pos = url.find("{model}", pos))
                    url.replace(pos, 7, "MODEL");
                auto u = boost::urls::parse_uri(url);
                if (value_problem(url, value_kind::url) || !u ||
                    (u->scheme() != "http" && u->scheme() != "https") || u->encoded_host().empty())
                    return config_error(origin, where + ".base_url '" +
                                                    detail::printable_name(it->second.base_url) +
                                                    "' is not an http:// or https:// URL");
            }
        } else if (key == "timeouts") {
            auto const* to = v.if_object();
            if (!to) return config_error(origin, "timeouts must be an object");
            for (auto const& [tk, tv] : *to) {
                std::string const where = "timeouts." + std::string(tk);
                duration* target = nullptr;
                if (tk == "connect") target = &next.timeouts.connect;
                else if (tk == "tls_handshake") target = &next.timeouts.tls_handshake;
                else if (tk == "first_byte") target = &next.timeouts.first_byte;
                else if (tk == "idle") target = &next.timeouts.idle;
                else if (tk == "total") target = &next.timeouts.total;
                else if (tk == "pool_wait") target = &next.timeouts.pool_wait;
                else return config_error(origin, "unknown field " + where);
                auto d = json_duration(tv, origin, where);
                if (!d) return d.error();
                *target = *d;
            }
        } else if (key == "tls") {
            auto const* t = v.if_object();
            if (!t) return config_error(origin, "tls must be an object");
            for (auto const& [tk, tv] : *t) {
                if (tk == "ca_file" && tv.is_string())
                    next.tls.ca_file = std::string(tv.get_string());
                else if (tk == "insecure_skip_verify" && tv.is_bool())
                    next.tls.insecure_skip_verify = tv.get_bool();
                else
                    return config_error(origin, "tls." + std::string(tk) +
                                                    " is unknown or has the wrong type");
            }
        } else if (key == "pool") {
            auto const* t = v.if_object();
            if (!t) return config_error(origin, "pool must be an object");
            for (auto const& [tk, tv] : *t) {
                if (tk == "max_connections_per_origin" && tv.is_number()) {
                    auto n = tv.to_number<double>();
                    if (n < 1 || n > 1e6 || n != std::floor(n))
                        return config_error(origin, "pool.max_connections_per_origin must be "
                                                    "a positive integer");
                    next.pool.max_connections_per_origin = static_cast<std::size_t>(n);
                } else if (tk == "idle_timeout") {
                    auto d = json_duration(tv, origin, "pool.idle_timeout");
                    if (!d) return d.error();
                    next.pool.idle_timeout = *d;
                } else {
                    return config_error(origin, "pool." + std::string(tk) +
                                                    " is unknown or has the wrong type");
                }
            }
        } else if (key == "limits") {
            auto const* l = v.if_object();
            if (!l) return config_error(origin, "limits must be an object of providers");
            for (auto const& [pname, pv] : *l) {
                std::string const where = "limits." + std::string(pname);
                auto const* po = pv.if_object();
                if (!po) return config_error(origin, where + " must be an object");
                rate_limit rl;
                for (auto const& [lk, lv] : *po) {
                    if (!lv.is_number() || lv.to_number<double>() < 0)
                        return config_error(origin, where + "." + std::string(lk) +
                                                        " must be a non-negative number");
                    if (lk == "requests_per_minute" || lk == "rpm")
                        rl.requests_per_minute = lv.to_number<double>();
                    else if (lk == "tokens_per_minute" || lk == "tpm")
                        rl.tokens_per_minute = lv.to_number<double>();
                    else
                        return config_error(origin, "unknown field " + where + "." + std::string(lk));
                }
                next.limits[std::string(pname)] = rl;
            }
        } else if (key == "unpriced_price") {
            auto const* o = v.if_object();
            if (!o) return config_error(origin, "unpriced_price must be an object {\"input\": USD per "
                                                "million tokens, \"output\": ...}");
            price pr;
            bool in = false, out = false;
            for (auto const& [pk, pv] : *o) {
                if (!pv.is_number() || pv.to_number<double>() < 0 || !std::isfinite(pv.to_number<double>()))
                    return config_error(origin, "unpriced_price." + std::string(pk) +
                                                    " must be a non-negative number");
                if (pk == "input") {
                    pr.input_per_mtok = pv.to_number<double>();
                    in = true;
                } else if (pk == "output") {
                    pr.output_per_mtok = pv.to_number<double>();
                    out = true;
                } else {
                    return config_error(origin, "unknown field unpriced_price." + std::string(pk));
                }
            }
            if (!in || !out)
                return config_error(origin, "unpriced_price needs both input and output");
            next.unpriced_price = pr;
        } else if (key == "default_max_output_tokens" || key == "max_tracked_models") {
            if (!v.is_number() || v.to_number<double>() < 1 || v.to_number<double>() > 1e9 ||
                v.to_number<double>() != std::floor(v.to_number<double>()))
                return config_error(origin, std::string(key) + " must be a positive whole number");
            if (key == "default_max_output_tokens")
                next.default_max_output_tokens = static_cast<std::uint64_t>(v.to_number<double>());
            else
                next.max_tracked_models = static_cast<std::size_t>(v.to_number<double>());
        } else if (key == "budget_usd") {
            if (!v.is_number() || v.to_number<double>() < 0)
                return config_error(origin, "budget_usd must be a non-negative number");
            next.budget_usd = v.to_number<double>();
        } else if (key == "breaker") {
            auto const* b = v.if_object();
            if (!b) return config_error(origin, "breaker must be an object");
            for (auto const& [bk, bv] : *b) {
                std::string const where = "breaker." + std::string(bk);
                if (bk == "enabled" && bv.is_bool()) {
                    next.breaker.enabled = bv.get_bool();
                } else if (bk == "failure_threshold" && bv.is_number() && bv.to_number<double>() >= 1) {
                    next.breaker.failure_threshold = static_cast<unsigned>(bv.to_number<double>());
                } else if (bk == "window" || bk == "cooldown") {
                    auto d = json_duration(bv, origin, where);
                    if (!d) return d.error();
                    (bk == "window" ? next.breaker.window : next.breaker.cooldown) = *d;
                } else {
                    return config_error(origin, where + " is unknown or has the wrong type");
                }
            }
        } else if (key == "concurrency") {
            auto const* o = v.if_object();
            if (!o) return config_error(origin, "concurrency must be an object");
            auto& cc = next.concurrency;
            for (auto const& [ck, cv] : *o) {
                std::string const where = "concurrency." + std::string(ck);
                auto const n = cv.is_number() ? cv.to_number<double>() : -1.0;
                bool const whole = n >= 1 && n <= 1e6 && n == std::floor(n);
                if (ck == "enabled" && cv.is_bool()) {
                    cc.enabled = cv.get_bool();
                } else if (ck == "initial_limit" || ck == "min_limit" || ck == "max_limit" ||
                           ck == "max_queue") {
                    if (!whole)
                        return config_error(origin, where + " must be a whole number from 1");
                    (ck == "initial_limit" ? cc.initial_limit
                     : ck == "min_limit"   ? cc.min_limit
                     : ck == "max_limit"   ? cc.max_limit
                                           : cc.max_queue) = static_cast<std::size_t>(n);
                } else if (ck == "max_requeues") {
                    if (!(n >= 0 && n <= 100 && n == std::floor(n)))
                        return config_error(origin, where + " must be a whole number from 0 to 100");
                    cc.max_requeues = static_cast<unsigned>(n);
                } else if (ck == "backoff_ratio" || ck == "latency_backoff_ratio") {
                    if (!(n > 0 && n < 1))
                        return config_error(origin, where + " must be a number between 0 and 1");
                    (ck == "backoff_ratio" ? cc.backoff_ratio : cc.latency_backoff_ratio) = n;
                } else if (ck == "ttft_tolerance") {
                    if (!(n > 1 && n <= 1000))
                        return config_error(origin, where + " must be a number above 1");
                    cc.ttft_tolerance = n;
                } else {
                    return config_error(origin, where + " is unknown or has the wrong type");
                }
            }
            if (cc.min_limit > cc.max_limit)
                return config_error(origin, "concurrency.min_limit is above concurrency.max_limit");
        } else if (key == "catalog") {
            // A catalog file whose models add to (or override) the built-in ones.
            if (!v.is_string()) return config_error(origin, "catalog must be a file path");
            auto c = std::make_shared<catalog>(next.models ? *next.models : catalog::built_in());
            if (auto r = c->load_file(std::string(v.get_string())); !r) return r.error();
            next.models = std::move(c);
        } else if (key == "max_response_bytes" || key == "max_stream_bytes") {
            if (!v.is_number() || v.to_number<double>() < 1)
                return config_error(origin, std::string(key) + " must be a positive number");
            auto const n = static_cast<std::size_t>(v.to_number<double>());
            (key == "max_response_bytes" ? next.max_response_bytes : next.max_stream_bytes) = n;
        } else {
            // Sections of other components (the gateway's `gateway` and `models`, ...) live in
            // the same file; they are validated by their own loaders.
            if (key != "gateway" && key != "routes" && key != "models")
                return config_error(origin, "unknown field " + std::string(key));
        }
    }
    *this = std::move(next);
    return {};
}

provider_config const* client_config::find(std::string_view name) const {
    auto it = providers.find(name);
    return it == providers.end() ? nullptr : &it->second;
}

provider_config* client_config::find(std::string_view name) {
    auto it = providers.find(name);
    return it == providers.end() ? nullptr : &it->second;
}

bool client_config::has_any_key() const {
    return std::any_of(providers.begin(), providers.end(), [](auto const& e) {
        auto const& p = e.second;
        if (!p.key_required) return false;
        // A key that was set but could not be used still counts: the user meant to call the
        // provider, and its calls report the problem (rather than falling back to the emulator).
        if (!p.load_error.empty()) return true;
        auto const& c = p.credentials;
        return !c.api_key.empty() || (!c.aws_access_key_id.empty() && !c.aws_secret_access_key.empty()) ||
               !c.google_credentials_file.empty() || !c.access_token.empty();
    });
}

void client_config::route_all_to(std::string_view base_url) {
    std::string const root = trim_slash(std::string(base_url));
    for (auto& [name, p] : providers) {
        // `{model}` is not valid in a URI: swap it out while the path is parsed.
        std::string url = p.base_url;
        if (auto pos = url.find("{model}"); pos != std::string::npos) url.replace(pos, 7, "MODEL_");
        std::string path;
        if (auto u = boost::urls::parse_uri(url); u)
            path = std::string(u->encoded_path());
        else if (name == "azure")
            path = "/openai/deployments/MODEL_";
        if (name == "vertex" && path.empty())
            path = "/v1/projects/llmux-emulator/locations/us-central1";
        if (auto pos = path.find("MODEL_"); pos != std::string::npos) path.replace(pos, 6, "{model}");
        p.base_url = root + trim_slash(path);
        if (p.auth == auth_scheme::google_oauth) {
            if (p.credentials.google_credentials_file.empty() && p.credentials.access_token.empty())
                p.credentials.access_token = "llmux-emulator";
        } else if (p.auth == auth_scheme::aws_sigv4) {
            // Signed with the emulator's default credentials (below), not a bearer key.
        } else if (p.credentials.api_key.empty()) {
            p.credentials.api_key = "llmux-emulator";
        }
        if (p.credentials.aws_access_key_id.empty()) {
            p.credentials.aws_access_key_id = "AKIDLLMUXEMULATOR";
            p.credentials.aws_secret_access_key = "llmux-emulator-secret";
        }
        p.options["emulated"] = true;
    }
}

}  // namespace llmux
