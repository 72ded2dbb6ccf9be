// SPDX-License-Identifier: BSL-1.0
// A bounded least-recently-used map from strings, for lookups that clients drive with keys of
// their choosing (model ids): it never holds more than its capacity. Not thread-safe.
#pragma once

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace llmux::detail {

template <class V>
class bounded_lru {
public:
    explicit bounded_lru(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}

    /// @brief The value of `key`, now the most recently used; empty when absent.
    std::optional<V> get(std::string_view key) {
        auto it = index_.find(key);
        if (it == index_.end()) return std::nullopt;
        items_.splice(items_.begin(), items_, it->second);
        return it->second->second;
    }

    /// @brief Adds or replaces `key`; drops the least recently used entry when full.
    void put(std::string key, V value) {
        if (auto it = index_.find(key); it != index_.end()) {
            it->second->second = std::move(value);
            items_.splice(items_.begin(), items_, it->second);
            return;
        }
        if (items_.size() >= capacity_) {
            index_.erase(std::string_view(items_.back().first));
            items_.pop_back();
        }
        items_.emplace_front(std::move(key), std::move(value));
        // The view points into the list node's string, which never moves.
        index_.emplace(std::string_view(items_.front().first), items_.begin());
    }

    void clear() noexcept {
        index_.clear();
        items_.clear();
    }

    std::size_t size() const noexcept { return items_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }

private:
    using list = std::list<std::pair<std::string, V>>;
    std::size_t capacity_;
    list items_;  // most recently used first
    std::unordered_map<std::string_view, typename list::iterator> index_;
};

}  // namespace llmux::detail
