// TLS contexts and handshake errors: OpenSSL 3 under Boost.Asio's ssl::stream.
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <string>

#include "socket_impl.hpp"

namespace sluice {

namespace {

class verify_category_impl final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "sluice.tls.verify"; }
  [[nodiscard]] std::string message(int v) const override {
    return std::string("certificate verify failed: ") + ::X509_verify_cert_error_string(v);
  }
};

std::string quoted(const char* op, const std::string& file) {
  std::string s(op);
  s.append(" '").append(file).append("'");
  return s;
}

bool is_ip_literal(const std::string& name) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(name, ec);
  return !ec;
}

}  // namespace

const std::error_category& tls_verify_category() noexcept {
  static const verify_category_impl c;
  return c;
}

namespace detail {

std::shared_ptr<asio::ssl::context> make_client_tls_context(const tls_client_options& o,
                                                            std::error_code& ec,
                                                            std::string& what) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3);
  boost::system::error_code bec;
  if (!o.verify_peer) {
    ctx->set_verify_mode(asio::ssl::verify_none, bec);
    return ctx;
  }
  ctx->set_verify_mode(asio::ssl::verify_peer, bec);
  if (o.ca_file.empty()) {
    ctx->set_default_verify_paths(bec);
    if (bec) what = "load the system's CA store";
  } else {
    ctx->load_verify_file(o.ca_file, bec);
    if (bec) what = quoted("load CA file", o.ca_file);
  }
  if (bec) {
    ec = to_std(bec);
    return nullptr;
  }
  return ctx;
}

std::shared_ptr<asio::ssl::context> make_server_tls_context(const tls_server_options& o,
                                                            std::error_code& ec,
                                                            std::string& what) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use);
  boost::system::error_code bec;
  ctx->use_certificate_chain_file(o.cert_file, bec);
  if (bec) {
    what = quoted("load certificate", o.cert_file);
  } else {
    ctx->use_private_key_file(o.key_file, asio::ssl::context::pem, bec);
    if (bec) what = quoted("load private key", o.key_file);
  }
  if (bec) {
    ec = to_std(bec);
    return nullptr;
  }
  return ctx;
}

std::error_code prepare_tls_client(tls_stream& s, const std::string& server_name, bool verify) {
  SSL* ssl = s.native_handle();
  const bool ip = is_ip_literal(server_name);
  // SNI carries host names only (RFC 6066).
  if (!ip && !server_name.empty() &&
      ::SSL_set_tlsext_host_name(ssl, const_cast<char*>(server_name.c_str())) != 1)
    return std::make_error_code(std::errc::invalid_argument);
  if (!verify || server_name.empty()) return {};
  // OpenSSL checks the name during verification, so a mismatch reports itself as such
  // (X509_V_ERR_HOSTNAME_MISMATCH) rather than as a generic handshake failure.
  X509_VERIFY_PARAM* param = ::SSL_get0_param(ssl);
  ::X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int ok = ip ? ::X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str())
                    : ::X509_VERIFY_PARAM_set1_host(param, server_name.c_str(), 0);
  if (ok != 1) return std::make_error_code(std::errc::invalid_argument);
  return {};
}

std::error_code handshake_error(tls_stream& s, const boost::system::error_code& ec) {
  const long v = ::SSL_get_verify_result(s.native_handle());
  if (v != X509_V_OK) return {static_cast<int>(v), tls_verify_category()};
  return to_std(ec);
}

}  // namespace detail
}  // namespace sluice
