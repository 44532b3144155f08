// Structured log lines over spdlog: `text` (time level message key=value ...) or `json` (one
// object per line). Owns its logger and its background writer thread; no global registry.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "server/config.hpp"

namespace spdlog {
class logger;
namespace details {
class thread_pool;
}
}  // namespace spdlog

namespace nodealloc::server {

enum class Level { Trace, Debug, Info, Warn, Error };

// A key and its value as text; numbers are passed already formatted.
struct Field {
  std::string_view key;
  std::string_view value;
  bool quoted = true;  // json: write as a string (false: raw JSON, e.g. a number)
};

class Logger {
 public:
  Logger(LogFormat format, std::string_view level);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool enabled(Level level) const;
  void log(Level level, std::string_view message, std::initializer_list<Field> fields = {});
  void flush();

  void trace(std::string_view m, std::initializer_list<Field> f = {}) { log(Level::Trace, m, f); }
  void debug(std::string_view m, std::initializer_list<Field> f = {}) { log(Level::Debug, m, f); }
  void info(std::string_view m, std::initializer_list<Field> f = {}) { log(Level::Info, m, f); }
  void warn(std::string_view m, std::initializer_list<Field> f = {}) { log(Level::Warn, m, f); }
  void error(std::string_view m, std::initializer_list<Field> f = {}) { log(Level::Error, m, f); }

 private:
  LogFormat format_;
  Level level_;
  std::shared_ptr<spdlog::details::thread_pool> pool_;  // outlives logger_
  std::shared_ptr<spdlog::logger> logger_;
};

// Appends s to out as the inside of a JSON string.
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace nodealloc::server
