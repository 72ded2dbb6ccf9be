// SPDX-License-Identifier: BSL-1.0
// The whole public API of llmux.
#pragma once

#include <llmux/catalog.hpp>
#include <llmux/client.hpp>
#include <llmux/combinators.hpp>
#include <llmux/config.hpp>
#include <llmux/embeddings.hpp>
#include <llmux/emulator.hpp>
#include <llmux/error.hpp>
#include <llmux/histogram.hpp>
#include <llmux/router.hpp>
#include <llmux/telemetry.hpp>
#include <llmux/types.hpp>
