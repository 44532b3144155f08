#include "server/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>

namespace nodealloc::server {

namespace {

Level to_level(std::string_view name) {
  if (name == "trace") return Level::Trace;
  if (name == "debug") return Level::Debug;
  if (name == "warn") return Level::Warn;
  if (name == "error") return Level::Error;
  return Level::Info;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::Trace:
      return spdlog::level::trace;
    case Level::Debug:
      return spdlog::level::debug;
    case Level::Info:
      return spdlog::level::info;
    case Level::Warn:
      return spdlog::level::warn;
    case Level::Error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char ch : v) {
    if (ch == ' ' || ch == '"' || ch == '=' || ch == '\\' ||
        static_cast<unsigned char>(ch) < 0x20) {
      return true;
    }
  }
  return false;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
}

Logger::Logger(LogFormat format, std::string_view level)
    : format_(format),
      level_(to_level(level)),
      pool_(std::make_shared<spdlog::details::thread_pool>(8192, 1)) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  logger_ = std::make_shared<spdlog::async_logger>("argo-node-allocator", std::move(sink), pool_,
                                                   spdlog::async_overflow_policy::block);
  if (format_ == LogFormat::Json) {
    logger_->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc));
  } else {
    logger_->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc));
  }
  logger_->set_level(to_spdlog(level_));
}

Logger::~Logger() {
  flush();
  // The writer first (it drains the queue, then is joined), the logger after: the writer's last
  // release of the logger then happens before its destruction in a way TSan sees (the join),
  // not only through reference counts inside the uninstrumented libspdlog (an intermittent TSan
  // report on exit, e.g. after an invalid policy at startup).
  pool_.reset();
  logger_.reset();
}

bool Logger::enabled(Level level) const {
  return level >= level_;
}

void Logger::flush() {
  if (logger_) logger_->flush();
}

void Logger::log(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(96 + message.size() + fields.size() * 24);
  if (format_ == LogFormat::Json) {
    line += "\"msg\":\"";
    append_json_escaped(line, message);
    line += '"';
    for (const auto& f : fields) {
      line += ",\"";
      line += f.key;
      line += "\":";
      if (f.quoted) {
        line += '"';
        append_json_escaped(line, f.value);
        line += '"';
      } else {
        line += f.value;
      }
    }
  } else {
    line += message;
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      if (needs_quotes(f.value)) {
        line += '"';
        append_json_escaped(line, f.value);
        line += '"';
      } else {
        line += f.value;
      }
    }
  }
  logger_->log(to_spdlog(level), spdlog::string_view_t(line.data(), line.size()));
}

}  // namespace nodealloc::server
