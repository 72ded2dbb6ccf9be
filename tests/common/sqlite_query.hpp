// SPDX-License-Identifier: BSL-1.0
// Reads a SQLite file as users do: rows of a SQL query, as text (the gateway's ledger tests).
#pragma once

#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <string>
#include <vector>

namespace llmux::test {

/// Rows of a SQL query on the database file (opened read-only), each column as text ("NULL"
/// for a null).
inline std::vector<std::vector<std::string>> query(std::string const& path, char const* sql) {
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK, sqlite3_errmsg(db));
    std::vector<std::vector<std::string>> rows;
    while (sqlite3_step(st) == SQLITE_ROW) {
        auto& row = rows.emplace_back();
        for (int i = 0; i < sqlite3_column_count(st); ++i) {
            auto const* t = sqlite3_column_text(st, i);
            row.emplace_back(t ? reinterpret_cast<char const*>(t) : "NULL");
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

}  // namespace llmux::test
