// SPDX-License-Identifier: BSL-1.0
#include "state/redis_resp.hpp"

#include <llmux/state.hpp>

#include <hiredis/hiredis.h>

#include <new>

namespace llmux::detail {

namespace {

template <class Args>
void append_args(std::string& out, Args const& args) {
    std::vector<char const*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (auto const& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* cmd = nullptr;
    int const n =
        redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), argv.data(), lens.data());
    if (n < 0 || !cmd) throw std::bad_alloc();  // its only failure is out-of-memory
    out.append(cmd, static_cast<std::size_t>(n));
    redisFreeCommand(cmd);
}

resp_value convert(redisReply const* r) {
    resp_value v;
    switch (r->type) {
    case REDIS_REPLY_STRING:
        v.type = resp_value::kind::string;
        v.str.assign(r->str, r->len);
        break;
    case REDIS_REPLY_STATUS:
        v.type = resp_value::kind::status;
        v.str.assign(r->str, r->len);
        break;
    case REDIS_REPLY_ERROR:
        v.type = resp_value::kind::error;
        v.str.assign(r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        v.type = resp_value::kind::integer;
        v.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
        v.type = resp_value::kind::array;
        v.elements.reserve(r->elements);
        for (std::size_t i = 0; i < r->elements; ++i)
            v.elements.push_back(convert(r->element[i]));
        break;
    default:
        v.type = resp_value::kind::nil;
        break;
    }
    return v;
}

redisReader* as_reader(void* p) {
    return static_cast<redisReader*>(p);
}

}  // namespace

void append_command(std::string& out, std::vector<std::string_view> const& args) {
    append_args(out, args);
}

void append_command(std::string& out, std::vector<std::string> const& args) {
    append_args(out, args);
}

resp_reader::resp_reader() : reader_(redisReaderCreate()) {
    if (!reader_) throw std::bad_alloc();
}

resp_reader::~resp_reader() {
    redisReaderFree(as_reader(reader_));
}

void resp_reader::feed(std::string_view bytes) {
    if (bytes.empty()) return;
    if (redisReaderFeed(as_reader(reader_), bytes.data(), bytes.size()) != REDIS_OK)
        throw std::bad_alloc();  // only fails when it cannot grow its buffer
}

result<std::optional<resp_value>> resp_reader::next() {
    void* reply = nullptr;
    if (redisReaderGetReply(as_reader(reader_), &reply) != REDIS_OK) {
        std::string why = as_reader(reader_)->errstr;
        reset();
        return failure(make_error_code(state_error::protocol),
                       "the Redis server sent bytes that are not RESP: " + why);
    }
    if (!reply) return std::optional<resp_value>();
    auto v = convert(static_cast<redisReply*>(reply));
    freeReplyObject(reply);
    return std::optional<resp_value>(std::move(v));
}

void resp_reader::reset() {
    redisReaderFree(as_reader(reader_));
    reader_ = redisReaderCreate();
    if (!reader_) throw std::bad_alloc();
}

}  // namespace llmux::detail
