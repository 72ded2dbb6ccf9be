// SPDX-License-Identifier: BSL-1.0
// The whole public API of llmux.
#pragma once

#include <llmux/client.hpp>
#include <llmux/config.hpp>
#include <llmux/emulator.hpp>
#include <llmux/error.hpp>
#include <llmux/types.hpp>
