// SPDX-License-Identifier: BSL-1.0
#include "state/redis_pipeline.hpp"

#include <llmux/state.hpp>

#include <algorithm>

namespace llmux::detail {

redis_pipeline::id_type redis_pipeline::push(std::string bytes, std::size_t replies,
                                             clock::time_point deadline) {
    pending p;
    p.id = next_id_++;
    p.bytes = std::move(bytes);
    p.replies = std::max<std::size_t>(replies, 1);
    p.deadline = deadline;
    unwritten_.push_back(std::move(p));
    return unwritten_.back().id;
}

std::string redis_pipeline::take_write() {
    std::string out;
    std::size_t total = 0;
    for (auto const& p : unwritten_)
        total += p.bytes.size();
    out.reserve(total);
    while (!unwritten_.empty()) {
        auto& p = unwritten_.front();
        out += p.bytes;
        p.bytes.clear();
        p.bytes.shrink_to_fit();
        written_.push_back(std::move(p));
        unwritten_.pop_front();
    }
    return out;
}

redis_pipeline::read_result redis_pipeline::on_read(std::string_view bytes) {
    read_result out;
    reader_.feed(bytes);
    for (;;) {
        auto r = reader_.next();
        if (!r) {
            out.broken = r.error();
            break;
        }
        if (!*r) break;
        if (written_.empty()) {
            out.broken = failure(make_error_code(state_error::protocol),
                                 "the Redis server sent a reply to no request");
            break;
        }
        auto& p = written_.front();
        p.got.push_back(std::move(**r));
        if (p.got.size() == p.replies) {
            out.done.push_back({p.id, std::move(p.got)});
            written_.pop_front();
        }
    }
    return out;
}

std::optional<redis_pipeline::clock::time_point> redis_pipeline::next_deadline() const noexcept {
    std::optional<clock::time_point> t;
    if (!written_.empty()) t = written_.front().deadline;
    if (!unwritten_.empty() && (!t || unwritten_.front().deadline < *t))
        t = unwritten_.front().deadline;
    return t;
}

redis_pipeline::expiry redis_pipeline::expire(clock::time_point now) {
    expiry out;
    while (!unwritten_.empty() && unwritten_.front().deadline <= now) {
        out.expired.push_back(unwritten_.front().id);
        unwritten_.pop_front();
    }
    out.stuck = !written_.empty() && written_.front().deadline <= now;
    return out;
}

void redis_pipeline::cancel(id_type id) {
    auto it = std::find_if(unwritten_.begin(), unwritten_.end(),
                           [id](pending const& p) { return p.id == id; });
    if (it != unwritten_.end()) unwritten_.erase(it);
}

std::vector<redis_pipeline::id_type> redis_pipeline::drain() {
    std::vector<id_type> ids;
    ids.reserve(size());
    for (auto const& p : written_)
        ids.push_back(p.id);
    for (auto const& p : unwritten_)
        ids.push_back(p.id);
    written_.clear();
    unwritten_.clear();
    reader_.reset();
    return ids;
}

}  // namespace llmux::detail
