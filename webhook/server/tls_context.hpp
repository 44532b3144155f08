// Building the server's TLS context from PEM text (TLS 1.2/1.3, Mozilla "intermediate" ciphers,
// ALPN http/1.1, optional client verification), and the store that hands the current one to
// each new connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "server/shared_slot.hpp"

namespace boost::asio::ssl {
class context;
}

namespace nodealloc::server {

struct TlsFiles {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;  // empty: no client certificate required

  bool operator==(const TlsFiles&) const = default;
};

struct TlsContext {
  std::shared_ptr<boost::asio::ssl::context> context;
  std::int64_t not_after = 0;  // the leaf certificate's, Unix seconds
  std::string subject;         // one line, for logs
};

// Error: why the pair (or CA) cannot serve, e.g. "private key does not match the certificate".
Result<TlsContext> make_tls_context(const TlsFiles& files);

class TlsStore {
 public:
  void set(std::shared_ptr<boost::asio::ssl::context> context) {
    current_.store(std::move(context));
  }
  std::shared_ptr<boost::asio::ssl::context> load() const { return current_.load(); }

 private:
  SharedSlot<boost::asio::ssl::context> current_;
};

}  // namespace nodealloc::server
