// pgobo/log.hpp — the one spdlog logger the library writes to.
//
// pgobo logs through a logger named "pgobo": debug for connections opened and
// closed, warn for failures. Replace it to route pgobo's lines into your own
// sinks, or change its level:
//
//   pgobo::set_logger(spdlog::default_logger()->clone("pgobo"));
//   pgobo::logger()->set_level(spdlog::level::debug);
//
// Nothing pgobo logs ever contains a token, password or client secret.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace pgobo {

// The library's logger. Never null; thread-safe to call from anywhere.
[[nodiscard]] std::shared_ptr<spdlog::logger> logger() noexcept;

// Replaces the library's logger. nullptr restores the default (stderr, level
// info). Safe to call while other threads log.
void set_logger(std::shared_ptr<spdlog::logger> replacement);

}  // namespace pgobo
