// The body type of a request to the TLS port: a std::string, as Beast's string_body, but
// appended to without its zero-fill. Beast's parser fills it only for a body without
// Content-Length (chunked); HttpsSession::read_body reads a Content-Length body straight into
// the string, with room for the padding simdjson reads past the end.
#pragma once

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <string>

#include "server/net.hpp"

namespace nodealloc::server {

struct RequestBody {
  using value_type = std::string;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  // string_body's reader resizes the string before each copy, writing zeros over every byte it
  // then overwrites (40 KiB a review); this one appends.
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(beast::http::header<isRequest, Fields>& /*header*/, value_type& body) : body_(body) {}

    // Only bodies without a Content-Length come here (HttpsSession::read_body reads the others
    // itself, reserving the padding): nothing to size in advance.
    void init(const boost::optional<std::uint64_t>& /*length*/, beast::error_code& ec) { ec = {}; }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      const std::size_t n = beast::buffer_bytes(buffers);
      if (n > body_.max_size() - body_.size()) {
        ec = beast::http::error::buffer_overflow;
        return 0;
      }
      for (const auto buffer : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(buffer.data()), buffer.size());
      }
      ec = {};
      return n;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

}  // namespace nodealloc::server
