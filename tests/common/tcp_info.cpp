// SPDX-License-Identifier: BSL-1.0
// Compiled without the precompiled header (tests/CMakeLists.txt): <linux/tcp.h> has the fields
// glibc's <netinet/tcp.h> lacks.
#include "common/tcp_info.hpp"

#include <cstddef>

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace llmux::test {

std::optional<std::uint32_t> data_segments_in(int fd) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
    if (len < offsetof(tcp_info, tcpi_data_segs_in) + sizeof info.tcpi_data_segs_in)
        return std::nullopt;
    return info.tcpi_data_segs_in;
}

}  // namespace llmux::test
