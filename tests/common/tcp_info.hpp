// SPDX-License-Identifier: BSL-1.0
// What the kernel counted on a TCP socket (Linux TCP_INFO), for tests that check how a peer
// wrote: apart from the precompiled header, whose <netinet/tcp.h> clashes with <linux/tcp.h>.
#pragma once

#include <cstdint>
#include <optional>

namespace llmux::test {

/// The data-carrying segments `fd` has received (`tcpi_data_segs_in`); empty where the kernel
/// does not report it.
std::optional<std::uint32_t> data_segments_in(int fd);

}  // namespace llmux::test
