// SPDX-License-Identifier: BSL-1.0
#include "auth/sigv4.hpp"

#include "util/crypto.hpp"
#include "util/text.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace llmux::detail {

namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";

char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = ascii_lower(c);
    return out;
}

bool iequal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

using header_span = std::span<std::pair<std::string, std::string> const>;

std::optional<std::string_view> find_header(header_span headers, std::string_view name) {
    for (auto const& [n, v] : headers)
        if (iequal(n, name)) return std::string_view(v);
    return std::nullopt;
}

bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// SigV4's Trimall: trim, and collapse each run of whitespace to one space (botocore splits on
// any whitespace, so tabs count too).
void append_trimmed(std::string& out, std::string_view value) {
    bool pending_space = false;
    bool any = false;
    for (char c : value) {
        if (is_space(c)) {
            pending_space = any;
            continue;
        }
        if (pending_space) out.push_back(' ');
        pending_space = false;
        any = true;
        out.push_back(c);
    }
}

// botocore's SIGNED_HEADERS_BLACKLIST, plus Authorization (never signed) and Content-Length,
// which the transport sets after signing and the payload hash covers anyway.
bool is_unsignable(std::string_view lower_name) noexcept {
    constexpr std::string_view names[] = {"authorization",
                                          "connection",
                                          "content-length",
                                          "expect",
                                          "keep-alive",
                                          "proxy-authenticate",
                                          "proxy-authorization",
                                          "te",
                                          "trailer",
                                          "transfer-encoding",
                                          "upgrade",
                                          "user-agent",
                                          "x-amzn-trace-id"};
    return std::find(std::begin(names), std::end(names), lower_name) != std::end(names);
}

struct canonical_header {
    std::string name;  // lowercase
    std::string value;
};

/// The headers to sign, sorted, with repeated names merged (values joined by `,`).
/// `only` empty: sign-side policy (everything signable, `req.host` as host). Otherwise exactly
/// the names listed there (sorted and unique), as a verifier must.
result<std::vector<canonical_header>> collect_headers(sigv4_request const& req,
                                                      std::span<std::string const> only) {
    std::vector<canonical_header> out;
    out.reserve(req.headers.size() + 1);
    bool const use_host_field = only.empty() && !req.host.empty();
    if (use_host_field) out.push_back({"host", std::string(req.host)});
    for (auto const& [name, value] : req.headers) {
        std::string lname = to_lower(name);
        if (only.empty()) {
            if (is_unsignable(lname)) continue;
            if (use_host_field && lname == "host") continue;
        } else if (!std::binary_search(only.begin(), only.end(), lname)) {
            continue;
        }
        out.push_back({std::move(lname), std::string(value)});
    }
    // Stable, so repeated headers keep their order when merged, as the spec requires.
    std::stable_sort(out.begin(), out.end(),
                     [](auto const& a, auto const& b) { return a.name < b.name; });
    std::vector<canonical_header> merged;
    merged.reserve(out.size());
    for (auto& h : out) {
        std::string trimmed;
        append_trimmed(trimmed, h.value);
        if (!merged.empty() && merged.back().name == h.name) {
            merged.back().value.push_back(',');
            merged.back().value.append(trimmed);
        } else {
            merged.push_back({std::move(h.name), std::move(trimmed)});
        }
    }
    if (!only.empty()) {
        for (auto const& name : only) {
            bool const present = std::any_of(merged.begin(), merged.end(),
                                             [&](auto const& h) { return h.name == name; });
            if (!present)
                return failure(error::auth_failed,
                               "signed header '" + name + "' is missing from the request");
        }
    }
    return merged;
}

std::string join_names(std::vector<canonical_header> const& headers) {
    std::string out;
    for (auto const& h : headers) {
        if (!out.empty()) out.push_back(';');
        out.append(h.name);
    }
    return out;
}

// A path with `?query` appended is split, so callers can pass a request-target as is.
std::pair<std::string_view, std::string_view> split_target(sigv4_request const& req) {
    std::string_view path = req.path;
    std::string_view query = req.query;
    if (auto const q = path.find('?'); q != std::string_view::npos) {
        if (query.empty()) query = path.substr(q + 1);
        path = path.substr(0, q);
    }
    return {path, query};
}

std::string build_canonical_request(sigv4_request const& req,
                                    std::vector<canonical_header> const& headers) {
    auto const [path, query] = split_target(req);
    std::string payload_hash;
    if (auto const h = find_header(req.headers, "x-amz-content-sha256"))
        payload_hash = std::string(*h);
    else
        payload_hash = sha256_hex(req.body);

    std::string out;
    out.reserve(256 + req.path.size() + req.query.size());
    out.append(req.method).push_back('\n');
    out.append(canonical_uri(path)).push_back('\n');
    out.append(canonical_query(query)).push_back('\n');
    for (auto const& h : headers) {
        out.append(h.name).push_back(':');
        out.append(h.value).push_back('\n');
    }
    out.push_back('\n');
    out.append(join_names(headers)).push_back('\n');
    out.append(payload_hash);
    return out;
}

// RFC 3986 5.2.4 plus the removal of empty segments (AWS collapses `//`), as botocore's
// `normalize_url_path` does.
std::string remove_dot_segments(std::string_view path) {
    if (path.empty()) return "/";
    std::vector<std::string_view> segments;
    std::size_t pos = 0;
    while (pos <= path.size()) {
        std::size_t end = path.find('/', pos);
        if (end == std::string_view::npos) end = path.size();
        std::string_view const seg = path.substr(pos, end - pos);
        if (seg == "..") {
            if (!segments.empty()) segments.pop_back();
        } else if (!seg.empty() && seg != ".") {
            segments.push_back(seg);
        }
        pos = end + 1;
    }
    std::string out;
    if (path.front() == '/') out.push_back('/');
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (i > 0) out.push_back('/');
        out.append(segments[i]);
    }
    if (path.back() == '/' && !segments.empty()) out.push_back('/');
    return out;
}

failure rejection(std::string_view aws_type, std::string message) {
    failure f(error::auth_failed, std::move(message));
    f.diag.http_status = 403;
    f.diag.error_type = std::string(aws_type);
    return f;
}

// Any whitespace, \v and \f included, as botocore strips it.
std::string_view trim_any_space(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

bool valid_scope_part(std::string_view s) noexcept {
    return !s.empty() && s.find('/') == std::string_view::npos;
}

}  // namespace

std::string format_amz_date(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto const secs = floor<seconds>(t);
    auto const day = floor<days>(secs);
    year_month_day const ymd{day};
    hh_mm_ss const hms{secs - day};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view s) {
    using namespace std::chrono;
    if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
    auto number = [&](std::size_t from, std::size_t len) -> int {
        int v = 0;
        for (std::size_t i = from; i < from + len; ++i) {
            if (s[i] < '0' || s[i] > '9') return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    int const y = number(0, 4), mo = number(4, 2), d = number(6, 2);
    int const h = number(9, 2), mi = number(11, 2), se = number(13, 2);
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0) return std::nullopt;
    year_month_day const ymd{year{y}, month{static_cast<unsigned>(mo)},
                             day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || se > 59) return std::nullopt;
    return time_point_cast<system_clock::duration>(sys_days{ymd} + hours{h} + minutes{mi} +
                                                   seconds{se});
}

std::string canonical_uri(std::string_view path) {
    return uri_encode(remove_dot_segments(path), false);
}

std::string canonical_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> pairs;
    std::size_t pos = 0;
    while (pos <= query.size() && !query.empty()) {
        std::size_t end = query.find('&', pos);
        if (end == std::string_view::npos) end = query.size();
        std::string_view const item = query.substr(pos, end - pos);
        if (!item.empty()) {
            std::size_t const eq = item.find('=');
            std::string_view const name = item.substr(0, eq);
            std::string_view const value =
                eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
            pairs.emplace_back(uri_encode(percent_decode(name), true),
                               uri_encode(percent_decode(value), true));
        }
        pos = end + 1;
    }
    std::sort(pairs.begin(), pairs.end());
    std::string out;
    for (auto const& [name, value] : pairs) {
        if (!out.empty()) out.push_back('&');
        out.append(name).push_back('=');
        out.append(value);
    }
    return out;
}

std::string signed_headers(sigv4_request const& req) {
    auto headers = collect_headers(req, {});
    return join_names(*headers);  // the sign-side policy cannot fail
}

std::string canonical_request(sigv4_request const& req) {
    auto headers = collect_headers(req, {});
    return build_canonical_request(req, *headers);
}

std::string credential_scope(std::string_view date, std::string_view region,
                             std::string_view service) {
    std::string out;
    out.reserve(date.size() + region.size() + service.size() + 16);
    out.append(date).push_back('/');
    out.append(region).push_back('/');
    out.append(service).append("/aws4_request");
    return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request) {
    std::string out(algorithm);
    out.push_back('\n');
    out.append(amz_date).push_back('\n');
    out.append(scope).push_back('\n');
    out.append(sha256_hex(canonical_request));
    return out;
}

std::string signing_key(std::string_view secret_access_key, std::string_view date,
                        std::string_view region, std::string_view service) {
    std::string k_secret = "AWS4";
    k_secret.append(secret_access_key);
    std::string const k_date = hmac_sha256(k_secret, date);
    // Wipe our copy of the secret rather than leave it in freed heap memory.
    OPENSSL_cleanse(k_secret.data(), k_secret.size());
    std::string const k_region = hmac_sha256(k_date, region);
    std::string const k_service = hmac_sha256(k_region, service);
    return hmac_sha256(k_service, "aws4_request");
}

std::string sigv4_signature(std::string_view signing_key, std::string_view string_to_sign) {
    return hex_encode(hmac_sha256(signing_key, string_to_sign));
}

result<header_list> sigv4_sign(sigv4_request const& req, aws_credentials const& credentials,
                               std::string_view region, std::string_view service,
                               std::chrono::system_clock::time_point when) {
    if (credentials.access_key_id.empty() || credentials.secret_access_key.empty())
        return failure(error::missing_api_key,
                       "AWS SigV4: the access key id or the secret access key is empty");
    if (!valid_scope_part(region) || !valid_scope_part(service))
        return failure(
            error::invalid_request,
            "AWS SigV4: the region and the service must be non-empty and contain no '/'");
    std::string_view host = req.host;
    if (host.empty()) host = find_header(req.headers, "host").value_or(std::string_view());
    if (host.empty()) return failure(error::invalid_request, "AWS SigV4: the request has no host");

    std::string const amz_date = format_amz_date(when);
    std::string_view const date = std::string_view(amz_date).substr(0, 8);

    header_list headers;
    headers.reserve(req.headers.size() + 2);
    for (auto const& h : req.headers) {
        if (iequal(h.first, "x-amz-date") || iequal(h.first, "x-amz-security-token") ||
            iequal(h.first, "authorization"))
            continue;
        headers.push_back(h);
    }
    headers.emplace_back("X-Amz-Date", amz_date);
    if (!credentials.session_token.empty())
        headers.emplace_back("X-Amz-Security-Token", credentials.session_token);

    sigv4_request signed_req = req;
    signed_req.host = host;
    signed_req.headers = headers;
    auto const canonical = collect_headers(signed_req, {});
    std::string const creq = build_canonical_request(signed_req, *canonical);
    std::string const scope = credential_scope(date, region, service);
    std::string const key = signing_key(credentials.secret_access_key, date, region, service);
    std::string const signature = sigv4_signature(key, string_to_sign(amz_date, scope, creq));

    std::string authorization(algorithm);
    authorization.append(" Credential=").append(credentials.access_key_id);
    authorization.push_back('/');
    authorization.append(scope);
    authorization.append(", SignedHeaders=").append(join_names(*canonical));
    authorization.append(", Signature=").append(signature);

    header_list out;
    out.emplace_back("X-Amz-Date", amz_date);
    if (!credentials.session_token.empty())
        out.emplace_back("X-Amz-Security-Token", credentials.session_token);
    out.emplace_back("Authorization", std::move(authorization));
    return out;
}

result<sigv4_identity> sigv4_verify(sigv4_incoming_request const& req,
                                    aws_secret_lookup const& lookup,
                                    sigv4_verify_options const& options) {
    auto const auth = find_header(req.headers, "authorization");
    if (!auth || trim_any_space(*auth).empty())
        return rejection("MissingAuthenticationTokenException", "Missing Authentication Token");

    std::string_view rest = trim_any_space(*auth);
    if (rest.size() <= algorithm.size() || rest.substr(0, algorithm.size()) != algorithm ||
        !is_space(rest[algorithm.size()]))
        return rejection("IncompleteSignatureException",
                         "Authorization header requires the AWS4-HMAC-SHA256 algorithm");
    rest.remove_prefix(algorithm.size());

    std::optional<std::string_view> credential, signed_list, signature;
    while (!rest.empty()) {
        std::size_t const comma = rest.find(',');
        std::string_view const item = trim_any_space(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (item.empty()) continue;
        std::size_t const eq = item.find('=');
        if (eq == std::string_view::npos)
            return rejection("IncompleteSignatureException",
                             "Authorization header component is not of the form key=value");
        std::string_view const key = item.substr(0, eq);
        std::string_view const value = item.substr(eq + 1);
        if (key == "Credential")
            credential = value;
        else if (key == "SignedHeaders")
            signed_list = value;
        else if (key == "Signature")
            signature = value;
    }
    for (auto const& [part, name] :
         {std::pair{&credential, "Credential"}, std::pair{&signed_list, "SignedHeaders"},
          std::pair{&signature, "Signature"}})
        if (!*part || (*part)->empty())
            return rejection("IncompleteSignatureException",
                             std::string("Authorization header requires '") + name + "' parameter");

    // Credential=<akid>/<date>/<region>/<service>/aws4_request
    std::vector<std::string_view> scope_parts;
    {
        std::string_view c = *credential;
        while (true) {
            std::size_t const slash = c.find('/');
            scope_parts.push_back(c.substr(0, slash));
            if (slash == std::string_view::npos) break;
            c.remove_prefix(slash + 1);
        }
        if (scope_parts.size() != 5 || scope_parts[4] != "aws4_request" ||
            std::any_of(scope_parts.begin(), scope_parts.end(),
                        [](std::string_view p) { return p.empty(); }))
            return rejection("IncompleteSignatureException",
                             "Credential must be <access key id>/<YYYYMMDD>/<region>/<service>/"
                             "aws4_request");
    }
    std::string_view const access_key_id = scope_parts[0];

    auto const amz_date = find_header(req.headers, "x-amz-date");
    if (!amz_date)
        return rejection("IncompleteSignatureException",
                         "Authorization header requires existence of a 'X-Amz-Date' header");
    auto const signed_at = parse_amz_date(*amz_date);
    if (!signed_at)
        return rejection("IncompleteSignatureException",
                         "X-Amz-Date must be of the form YYYYMMDD'T'HHMMSS'Z'");
    if (scope_parts[1] != amz_date->substr(0, 8))
        return rejection("InvalidSignatureException",
                         "Date in Credential scope does not match YYYYMMDD from X-Amz-Date");
    if (!options.region.empty() && scope_parts[2] != options.region)
        return rejection("InvalidSignatureException",
                         "Credential should be scoped to a valid region, not '" +
                             std::string(scope_parts[2]) + "'");
    if (!options.service.empty() && scope_parts[3] != options.service)
        return rejection("InvalidSignatureException",
                         "Credential should be scoped to correct service: '" +
                             std::string(options.service) + "'");

    if (*signed_at + options.max_skew < options.now)
        return rejection("InvalidSignatureException",
                         "Signature expired: " + std::string(*amz_date) + " is now earlier than " +
                             format_amz_date(options.now - options.max_skew));
    if (*signed_at - options.max_skew > options.now)
        return rejection("InvalidSignatureException",
                         "Signature not yet current: " + std::string(*amz_date) +
                             " is still later than " +
                             format_amz_date(options.now + options.max_skew));

    std::vector<std::string> names;
    {
        std::string_view list = *signed_list;
        while (true) {
            std::size_t const semi = list.find(';');
            std::string_view const name = list.substr(0, semi);
            if (!name.empty()) names.push_back(to_lower(name));
            if (semi == std::string_view::npos) break;
            list.remove_prefix(semi + 1);
        }
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
    }
    if (!std::binary_search(names.begin(), names.end(), std::string("host")))
        return rejection("IncompleteSignatureException",
                         "'Host' must be a 'SignedHeader' in the AWS Authorization");

    auto const secret = lookup ? lookup(access_key_id) : std::nullopt;
    if (!secret)
        return rejection("UnrecognizedClientException",
                         "The security token included in the request is invalid");

    if (auto const h = find_header(req.headers, "x-amz-content-sha256")) {
        // The canonical request uses this header in place of the body's hash, so it must be
        // checked against the body or the body would go unauthenticated.
        if (*h != sha256_hex(req.body))
            return rejection("InvalidSignatureException",
                             "The provided 'x-amz-content-sha256' header does not match the "
                             "body");
    }

    sigv4_request canonical_req;
    canonical_req.method = req.method;
    canonical_req.path = req.target;
    canonical_req.headers = req.headers;
    canonical_req.body = req.body;
    auto const headers = collect_headers(canonical_req, names);
    if (!headers) return rejection("InvalidSignatureException", headers.error().diag.message);

    std::string const creq = build_canonical_request(canonical_req, *headers);
    std::string const scope = credential_scope(scope_parts[1], scope_parts[2], scope_parts[3]);
    std::string const key = signing_key(*secret, scope_parts[1], scope_parts[2], scope_parts[3]);
    std::string const expected = sigv4_signature(key, string_to_sign(*amz_date, scope, creq));
    if (signature->size() != expected.size() ||
        CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0)
        return rejection("InvalidSignatureException",
                         "The request signature we calculated does not match the signature you "
                         "provided. Check your AWS Secret Access Key and signing method.");

    sigv4_identity id;
    id.access_key_id = std::string(access_key_id);
    id.region = std::string(scope_parts[2]);
    id.service = std::string(scope_parts[3]);
    if (auto const token = find_header(req.headers, "x-amz-security-token"))
        id.session_token = std::string(*token);
    return id;
}

}  // namespace llmux::detail
