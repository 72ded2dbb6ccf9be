// SPDX-License-Identifier: BSL-1.0
// The `gateway` and `models` sections of a configuration file (see gateway.hpp). Gateway keys
// given by environment variable are hashed at once; the key itself is never kept or printed.
#include <llmux/gateway.hpp>

#include "util/crypto.hpp"
#include "util/json_read.hpp"
#include "util/header.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace llmux {

std::optional<group_strategy> parse_group_strategy(std::string_view s) noexcept {
    if (s == "fallback" || s == "ordered") return group_strategy::fallback;
    if (s == "weighted") return group_strategy::weighted;
    if (s == "cheapest") return group_strategy::cheapest;
    if (s == "fastest") return group_strategy::fastest;
    if (s == "best") return group_strategy::best;
    if (s == "least_busy" || s == "least-busy") return group_strategy::least_busy;
    return std::nullopt;
}

char const* to_string(group_strategy s) noexcept {
    switch (s) {
    case group_strategy::fallback: return "fallback";
    case group_strategy::weighted: return "weighted";
    case group_strategy::cheapest: return "cheapest";
    case group_strategy::fastest: return "fastest";
    case group_strategy::best: return "best";
    case group_strategy::least_busy: return "least_busy";
    }
    return "fallback";
}

namespace {

namespace json = boost::json;

failure bad(std::string_view origin, std::string const& what) {
    return failure(error::invalid_config, std::string(origin) + ": " + what);
}

result<duration> get_duration(json::value const& v, std::string_view origin,
                              std::string const& where) {
    if (v.is_number()) {
        double const s = v.to_number<double>();
        if (!(s >= 0) || s > 1e9) return bad(origin, where + " must be a non-negative duration");
        return std::chrono::duration_cast<duration>(std::chrono::duration<double>(s));
    }
    if (auto const* s = v.if_string()) {
        auto d = parse_duration(std::string_view(s->data(), s->size()));
        if (!d) return bad(origin, where + ": " + d.error().diag.message);
        return *d;
    }
    return bad(origin, where + " must be a duration such as \"10s\" or \"250ms\"");
}

result<double> get_non_negative(json::value const& v, std::string_view origin,
                                std::string const& where) {
    if (!v.is_number() || !(v.to_number<double>() >= 0))
        return bad(origin, where + " must be a non-negative number");
    return v.to_number<double>();
}

bool is_hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

/// `gateway.state`: which store, and its settings.
result<void> load_state(json::object const& o, std::string_view origin,
                        client_config::env_reader const& getenv, gateway_state_config& out) {
    gateway_state_config st;
    int backends = 0;
    for (auto const& [name, v] : o) {
        std::string const at = "gateway.state." + std::string(name);
        auto text = [&]() -> result<std::string> {
            if (!v.is_string() || v.get_string().empty())
                return bad(origin, at + " must be a non-empty string");
            return std::string(v.get_string());
        };
        if (name == "sqlite") {
            auto t = text();
            if (!t) return t.error();
            st.backend = state_backend::sqlite;
            st.sqlite_path = std::move(*t);
            ++backends;
        } else if (name == "redis") {
            auto t = text();
            if (!t) return t.error();
            if (auto r = st.redis.set_address(*t, at); !r) return bad(origin, r.error().diag.message);
            st.backend = state_backend::redis;
            ++backends;
        } else if (name == "memory") {
            if (!v.is_bool() || !v.get_bool()) return bad(origin, at + " must be true");
            st.backend = state_backend::memory;
            ++backends;
        } else if (name == "on_failure") {
            auto t = text();
            if (!t) return t.error();
            if (*t != "open" && *t != "closed")
                return bad(origin, at + " must be \"open\" (serve unchecked) or \"closed\" (503)");
            st.fail_open = *t == "open";
        } else if (name == "reservation_ttl") {
            auto d = get_duration(v, origin, at);
            if (!d) return d.error();
            auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
            if (ms.count() < 1000) return bad(origin, at + " must be at least 1s");
            st.reservation_ttl = ms;
        } else if (name == "durability") {
            auto t = text();
            if (!t) return t.error();
            if (*t == "full")
                st.durability = sqlite_durability::full;
            else if (*t == "normal")
                st.durability = sqlite_durability::normal;
            else
                return bad(origin, at + " must be \"full\" or \"normal\"");
        } else if (name == "ledger_max_age") {
            auto d = get_duration(v, origin, at);
            if (!d) return d.error();
            auto const h = std::chrono::duration_cast<std::chrono::hours>(*d);
            if (h.count() < 1) return bad(origin, at + " must be at least 1h");
            st.retention.max_age = h;
        } else if (name == "ledger_max_rows") {
            if (!v.is_number() || v.to_number<double>() < 1 || v.to_number<double>() > 1e12 ||
                v.to_number<double>() != std::floor(v.to_number<double>()))
                return bad(origin, at + " must be a whole number from 1 to 1e12");
            st.retention.max_rows = static_cast<std::uint64_t>(v.to_number<double>());
        } else if (name == "redis_password_env") {
            auto t = text();
            if (!t) return t.error();
            char const* value = getenv(t->c_str());
            if (!value || !*value)
                return bad(origin, at + ": the environment variable " + *t + " is not set or empty");
            // It goes into a RESP command, not a header, but a stray newline from a paste
            // would still make it a different password: say so rather than fail to AUTH.
            if (auto problem = detail::header_value_problem(value))
                return bad(origin, at + ": the environment variable " + *t + " " +
                                       std::string(*problem));
            st.redis.password = value;
        } else if (name == "redis_prefix") {
            auto t = text();
            if (!t) return t.error();
            st.redis.prefix = std::move(*t);
        } else {
            return bad(origin, "unknown field " + at);
        }
    }
    if (backends > 1)
        return bad(origin, "gateway.state: give one of sqlite, redis or memory");
    out = std::move(st);
    return {};
}

result<void> load_keys(json::array const& arr, std::string_view origin,
                       client_config::env_reader const& getenv, std::vector<gateway_key>& out) {
    for (std::size_t i = 0; i < arr.size(); ++i) {
        std::string const where = "gateway.keys[" + std::to_string(i) + "]";
        auto const* o = arr[i].if_object();
        if (!o) return bad(origin, where + " must be an object");
        gateway_key k;
        bool has_key = false;
        for (auto const& [name, v] : *o) {
            std::string const at = where + "." + std::string(name);
            if (name == "name") {
                if (!v.is_string() || v.get_string().empty())
                    return bad(origin, at + " must be a non-empty string");
                k.name = std::string(v.get_string());
            } else if (name == "key_env") {
                if (!v.is_string() || v.get_string().empty())
                    return bad(origin, at + " must name an environment variable");
                std::string const var(v.get_string());
                char const* value = getenv(var.c_str());
                if (!value || !*value)
                    return bad(origin, at + ": the environment variable " + var +
                                           " is not set or empty");
                // Clients send the key in a header, which cannot hold these: such a key could
                // never match (a stray newline from a pasted value, most likely).
                if (auto problem = detail::header_value_problem(value))
                    return bad(origin, at + ": the environment variable " + var + " " +
                                           std::string(*problem));
                k.sha256 = detail::sha256_hex(value);
                has_key = true;
            } else if (name == "key_sha256") {
                if (!v.is_string() || !is_hex64(v.get_string()))
                    return bad(origin, at + " must be 64 hex digits (the SHA-256 of the key)");
                k.sha256 = std::string(v.get_string());
                for (auto& c : k.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                has_key = true;
            } else if (name == "key") {
                // Refused on purpose: the point of key_env and key_sha256 is that the file
                // holds no secret.
                return bad(origin, at + ": plain keys are not accepted in a file; use key_env "
                                        "(an environment variable) or key_sha256");
            } else if (name == "budget_usd") {
                auto d = get_non_negative(v, origin, at);
                if (!d) return d.error();
                k.budget_usd = *d;
            } else if (name == "requests_per_minute" || name == "rpm") {
                auto d = get_non_negative(v, origin, at);
                if (!d) return d.error();
                k.requests_per_minute = *d;
            } else if (name == "tokens_per_minute" || name == "tpm") {
                auto d = get_non_negative(v, origin, at);
                if (!d) return d.error();
                k.tokens_per_minute = *d;
            } else if (name == "admin") {
                if (!v.is_bool()) return bad(origin, at + " must be true or false");
                k.admin = v.get_bool();
            } else {
                return bad(origin, "unknown field " + at);
            }
        }
        if (!has_key) return bad(origin, where + " needs key_env or key_sha256");
        if (k.name.empty()) k.name = "key" + std::to_string(i + 1);
        for (auto const& other : out)
            if (other.name == k.name) return bad(origin, where + ": duplicate key name '" + k.name + "'");
        out.push_back(std::move(k));
    }
    return {};
}

result<model_group> load_group(json::value const& v, std::string_view origin,
                               std::string const& where) {
    model_group g;
    if (auto const* s = v.if_string()) {
        g.deployments.emplace_back(*s);
        return g;
    }
    if (auto const* a = v.if_array()) {
        for (auto const& d : *a) {
            if (!d.is_string()) return bad(origin, where + " must list provider/model ids");
            g.deployments.emplace_back(d.get_string());
        }
        if (g.deployments.empty()) return bad(origin, where + " has no deployments");
        return g;
    }
    auto const* o = v.if_object();
    if (!o) return bad(origin, where + " must be an object, a list of deployments or one id");
    for (auto const& [name, fv] : *o) {
        std::string const at = where + "." + std::string(name);
        if (name == "deployments") {
            if (auto const* s = fv.if_string()) {
                g.deployments.emplace_back(*s);
                continue;
            }
            auto const* a = fv.if_array();
            if (!a) return bad(origin, at + " must be a list of provider/model ids");
            for (auto const& d : *a) {
                if (auto const* s = d.if_string()) {
                    g.deployments.emplace_back(*s);
                } else if (auto const* dobj = d.if_object()) {
                    // {"model": "openai/gpt-4o", "weight": 3}
                    auto const* m = dobj->if_contains("model");
                    if (!m || !m->is_string())
                        return bad(origin, at + ": a deployment object needs \"model\"");
                    g.deployments.emplace_back(m->get_string());
                    if (auto const* w = dobj->if_contains("weight")) {
                        auto d2 = get_non_negative(*w, origin, at + ".weight");
                        if (!d2) return d2.error();
                        g.weights[std::string(m->get_string())] = *d2;
                    }
                } else {
                    return bad(origin, at + " must be a list of provider/model ids");
                }
            }
        } else if (name == "strategy") {
            auto const* s = fv.if_string();
            auto st = s ? parse_group_strategy(std::string_view(s->data(), s->size())) : std::nullopt;
            if (!st)
                return bad(origin, at + " must be fallback, weighted, cheapest, fastest, best or "
                                        "least_busy");
            g.strategy = *st;
        } else if (name == "weights") {
            auto const* w = fv.if_object();
            if (!w) return bad(origin, at + " must be an object of deployment -> weight");
            for (auto const& [dname, dw] : *w) {
                auto d = get_non_negative(dw, origin, at + "." + std::string(dname));
                if (!d) return d.error();
                g.weights[std::string(dname)] = *d;
            }
        } else if (name == "per_attempt" || name == "timeout") {
            auto d = get_duration(fv, origin, at);
            if (!d) return d.error();
            g.per_attempt = *d;
        } else if (name == "deadline") {
            auto d = get_duration(fv, origin, at);
            if (!d) return d.error();
            g.deadline = *d;
        } else if (name == "retries") {
            if (!fv.is_number() || fv.to_number<double>() < 0 || fv.to_number<double>() > 10 ||
                std::floor(fv.to_number<double>()) != fv.to_number<double>())
                return bad(origin, at + " must be an integer from 0 to 10");
            g.retries = static_cast<unsigned>(fv.to_number<double>());
        } else if (name == "retry_backoff") {
            auto d = get_duration(fv, origin, at);
            if (!d) return d.error();
            g.retry_backoff = *d;
        } else if (name == "continue_streams") {
            if (!fv.is_bool()) return bad(origin, at + " must be true or false");
            g.continue_streams = fv.get_bool();
        } else if (name == "cache") {
            if (fv.is_null() || (fv.is_bool() && !fv.get_bool())) continue;
            response_cache_policy c;
            if (auto const* co = fv.if_object()) {
                for (auto const& [cname, cv] : *co) {
                    std::string const cat = at + "." + std::string(cname);
                    if (cname == "ttl") {
                        auto d = get_duration(cv, origin, cat);
                        if (!d) return d.error();
                        if (*d <= duration::zero() || *d > std::chrono::hours(24 * 30))
                            return bad(origin, cat + " must be more than 0 and at most 30 days");
                        c.ttl = *d;
                    } else if (cname == "any_temperature") {
                        if (!cv.is_bool()) return bad(origin, cat + " must be true or false");
                        c.any_temperature = cv.get_bool();
                    } else {
                        return bad(origin, "unknown field " + cat);
                    }
                }
            } else if (!fv.is_bool()) {
                return bad(origin, at + " must be true, false or an object {\"ttl\", "
                                        "\"any_temperature\"}");
            }
            g.cache = c;
        } else if (name == "hedge") {
            if (fv.is_null() || (fv.is_bool() && !fv.get_bool())) continue;
            auto d = get_duration(fv, origin, at);
            if (!d) return d.error();
            g.hedge = *d;
        } else {
            return bad(origin, "unknown field " + at);
        }
    }
    if (g.deployments.empty()) return bad(origin, where + " has no deployments");
    for (auto const& [dname, w] : g.weights) {
        (void)w;
        if (std::find(g.deployments.begin(), g.deployments.end(), dname) == g.deployments.end())
            return bad(origin, where + ".weights names '" + dname + "', which is not a deployment");
    }
    return g;
}

}  // namespace

result<void> gateway_config::load_json(std::string_view text, std::string_view origin,
                                       client_config::env_reader getenv) {
    if (!getenv) getenv = [](char const* n) -> char const* { return std::getenv(n); };
    boost::system::error_code ec;
    auto const root = detail::parse_json(text, ec);
    if (ec) return bad(origin, "not valid JSON (" + ec.message() + ")");
    auto const* obj = root.if_object();
    if (!obj) return bad(origin, "the top level must be a JSON object");

    gateway_config next = *this;  // a bad file changes nothing
    if (auto const* gw = obj->if_contains("gateway")) {
        auto const* g = gw->if_object();
        if (!g) return bad(origin, "gateway must be an object");
        for (auto const& [name, v] : *g) {
            std::string const at = "gateway." + std::string(name);
            auto flag = [&](bool& into) -> result<void> {
                if (!v.is_bool()) return bad(origin, at + " must be true or false");
                into = v.get_bool();
                return {};
            };
            auto dur = [&](duration& into) -> result<void> {
                auto d = get_duration(v, origin, at);
                if (!d) return d.error();
                into = *d;
                return {};
            };
            result<void> r;
            if (name == "keys") {
                auto const* a = v.if_array();
                if (!a) return bad(origin, at + " must be a list");
                next.keys.clear();
                r = load_keys(*a, origin, getenv, next.keys);
            } else if (name == "state") {
                auto const* so = v.if_object();
                if (!so)
                    return bad(origin, at + " must be an object such as {\"sqlite\": \"llmux.db\"}");
                r = load_state(*so, origin, getenv, next.state);
            } else if (name == "access_log") {
                r = flag(next.access_log);
            } else if (name == "log_prompts") {
                r = flag(next.log_prompts);
            } else if (name == "any_model") {
                r = flag(next.any_model);
            } else if (name == "access_log_file") {
                if (!v.is_string()) return bad(origin, at + " must be a file path");
                next.access_log_file = std::string(v.get_string());
            } else if (name == "max_body_bytes" || name == "max_header_bytes") {
                if (!v.is_number() || v.to_number<double>() < 1024 || v.to_number<double>() > 4e9)
                    return bad(origin, at + " must be a number of bytes from 1024 to 4e9");
                if (name == "max_body_bytes")
                    next.max_body_bytes = static_cast<std::size_t>(v.to_number<double>());
                else
                    next.max_header_bytes = static_cast<std::uint32_t>(v.to_number<double>());
            } else if (name == "reuse_port") {
                r = flag(next.reuse_port);
            } else if (name == "expose_upstream_errors") {
                r = flag(next.expose_upstream_errors);
            } else if (name == "max_connections" || name == "max_connections_per_client") {
                if (!v.is_number() || v.to_number<double>() < 1 || v.to_number<double>() > 1e7 ||
                    v.to_number<double>() != std::floor(v.to_number<double>()))
                    return bad(origin, at + " must be a whole number from 1 to 1e7");
                (name == "max_connections" ? next.max_connections
                                           : next.max_connections_per_client) =
                    static_cast<std::size_t>(v.to_number<double>());
            } else if (name == "header_timeout") {
                r = dur(next.header_timeout);
            } else if (name == "read_timeout") {
                r = dur(next.read_timeout);
            } else if (name == "write_timeout") {
                r = dur(next.write_timeout);
            } else if (name == "idle_timeout") {
                r = dur(next.idle_timeout);
            } else if (name == "grace") {
                r = dur(next.grace);
            } else if (name == "host") {
                if (!v.is_string()) return bad(origin, at + " must be a string");
                next.host = std::string(v.get_string());
            } else if (name == "port") {
                if (!v.is_number() || v.to_number<double>() < 0 || v.to_number<double>() > 65535)
                    return bad(origin, at + " must be a port number");
                next.port = static_cast<std::uint16_t>(v.to_number<double>());
            } else {
                return bad(origin, "unknown field " + at);
            }
            if (!r) return r.error();
        }
    }
    if (auto const* ms = obj->if_contains("models")) {
        auto const* m = ms->if_object();
        if (!m) return bad(origin, "models must be an object of public model name -> group");
        next.models.clear();
        for (auto const& [name, v] : *m) {
            if (name.empty()) return bad(origin, "models: a public model name must not be empty");
            auto g = load_group(v, origin, "models." + std::string(name));
            if (!g) return g.error();
            next.models.insert_or_assign(std::string(name), std::move(*g));
        }
    }
    *this = std::move(next);
    return {};
}

result<void> gateway_config::load_file(std::string const& path, client_config::env_reader getenv) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return failure(error::invalid_config, "cannot read config file '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    return load_json(ss.str(), path, std::move(getenv));
}

}  // namespace llmux
