// tools/sluice/net_stages.cpp: tcp-listen, tcp-connect, unix-connect, http-get and http-post,
// and the request `sluice fetch` makes (net_stages.hpp).
#include "net_stages.hpp"

#include <boost/beast/http/status.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"
#include "sluice/net/server.hpp"
#include "sluice/net/socket.hpp"

namespace sluice::cli {
namespace {

class net_stage_category_impl final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "sluice.cli.net"; }
  [[nodiscard]] std::string message(int v) const override {
    if (v >= 100) {
      const auto reason = boost::beast::http::obsolete_reason(
          boost::beast::http::int_to_status(static_cast<unsigned>(v)));
      std::string out = "HTTP " + std::to_string(v);
      if (!reason.empty() && reason != "<unknown-status>") out += " " + std::string(reason);
      return out;
    }
    switch (static_cast<net_stage_errc>(v)) {
      case net_stage_errc::too_many_redirects:
        return "too many redirects (more than " + std::to_string(max_redirects) + ")";
      case net_stage_errc::redirect_without_location:
        return "redirect without a Location header";
      case net_stage_errc::redirect_not_followed:
        return "redirect not followed (use -L)";
    }
    return "network stage error";
  }
};

asio_loop& asio_of(sluice::loop& l) {
  auto* a = dynamic_cast<asio_loop*>(&l);
  if (a == nullptr) throw std::invalid_argument("the network stages need an asio_loop");
  return *a;
}

// ---- relay_source: a source whose data comes from a stream that arrives later ----------------

class relay_source final : public readable<buffer> {
 public:
  /// Runs in the construct step, which completes at once (so that destroy() never waits for a
  /// peer): attaches the inner stream later, or fails the relay.
  using starter = std::function<void(const std::shared_ptr<relay_source>&)>;

  relay_source(sluice::loop& l, const std::string& name, starter start)
      : readable<buffer>(l, readable_options{.name = name}), start_(std::move(start)) {
    use_construct();
  }

  /// Forwards `in`'s chunks, pausing it while this stream is full; `in`'s end is this stream's
  /// end, its error this stream's error, with `prefix` put in front of its context.
  void attach(std::shared_ptr<readable<buffer>> in, std::string prefix) {
    in_ = std::move(in);
    prefix_ = std::move(prefix);
    std::weak_ptr<relay_source> weak = self();
    in_->on_data([weak](buffer&& b) {
      auto s = weak.lock();
      if (!s || !s->intact()) return;
      if (!s->push(std::move(b)) && s->in_) s->in_->pause();
    });
    in_->on_end([weak] {
      if (auto s = weak.lock(); s && s->intact()) s->push_eof();
    });
    in_->on_error([weak](std::error_code ec) {
      auto s = weak.lock();
      if (!s || !s->intact() || !s->in_) return;
      std::string ctx = s->in_->error_context();
      if (!s->prefix_.empty()) ctx = ctx.empty() ? s->prefix_ : s->prefix_ + ": " + ctx;
      s->fail(ec, std::move(ctx));
    });
  }

  [[nodiscard]] std::optional<std::uint64_t> expected_bytes() const noexcept { return total_; }
  void set_expected_bytes(std::optional<std::uint64_t> n) noexcept { total_ = n; }
  /// Run when the stream is destroyed (closes a server).
  void on_teardown(std::function<void()> fn) { teardown_ = std::move(fn); }

 protected:
  void do_construct(callback cb) override {
    start_(self());
    cb({});
  }
  void do_read(std::size_t) override {
    if (in_ && in_->is_paused()) in_->resume();
  }
  void do_destroy(std::error_code ec, callback cb) override {
    if (in_ && !in_->destroyed()) in_->destroy();
    in_.reset();
    if (teardown_) std::exchange(teardown_, nullptr)();
    start_ = nullptr;
    cb(ec);
  }

 private:
  std::shared_ptr<relay_source> self() {
    return std::dynamic_pointer_cast<relay_source>(shared_from_this());
  }

  starter start_;
  std::shared_ptr<readable<buffer>> in_;
  std::string prefix_;
  std::optional<std::uint64_t> total_;
  std::function<void()> teardown_;
};

// ---- http-get: the response body, after redirects and the status check -----------------------

struct get_request : std::enable_shared_from_this<get_request> {
  asio_loop& loop;
  std::weak_ptr<relay_source> relay;
  bool follow = false;
  request_options options;
  int redirects = 0;

  get_request(asio_loop& l, bool f, request_options o)
      : loop(l), follow(f), options(std::move(o)) {}

  void start(const std::string& url) {
    auto req = make_http_request(url, options);
    if (auto* ec = std::get_if<std::error_code>(&req)) {
      fail(*ec, options.method + " " + url);
      return;
    }
    http_fetch(loop, std::get<http_client_request>(std::move(req)),
               [self = shared_from_this(), url](std::error_code ec,
                                                std::shared_ptr<http_client_response> res) {
                 self->on_response(url, ec, std::move(res));
               });
  }

  void on_response(const std::string& url, std::error_code ec,
                   std::shared_ptr<http_client_response> res) {
    auto r = relay.lock();
    if (!r || !r->intact()) {
      if (res && res->body()) res->body()->destroy();
      return;
    }
    const std::string what = options.method + " " + url;
    if (ec) {
      fail(ec, what);
      return;
    }
    const unsigned status = res->status();
    if (status >= 300 && status < 400 && status != 304) {
      res->body()->destroy();
      const auto location = res->headers().get("Location");
      if (!location) {
        fail(make_error_code(net_stage_errc::redirect_without_location), what);
        return;
      }
      const std::string next = resolve_location(url, std::string(*location));
      if (!follow) {
        fail(http_status_error(status), what + " (redirected to " + next + "; -L follows)");
        return;
      }
      if (++redirects > max_redirects) {
        fail(make_error_code(net_stage_errc::too_many_redirects), what);
        return;
      }
      start(next);
      return;
    }
    if (status >= 400) {
      res->body()->destroy();
      fail(http_status_error(status), what);
      return;
    }
    // The size for the progress bar: what is on the wire, unless it is gunzipped on the way.
    const auto encoding = res->headers().get("Content-Encoding");
    if (!(options.compressed && encoding)) r->set_expected_bytes(res->content_length());
    r->attach(res->body(), what);
  }

  void fail(std::error_code ec, std::string context) {
    if (auto r = relay.lock()) r->fail(ec, std::move(context));
  }
};

// ---- http-post: a sink that is the request body ---------------------------------------------

class upload_source final : public readable<buffer> {
 public:
  upload_source(sluice::loop& l, std::function<void()> on_read)
      : readable<buffer>(l, readable_options{.name = "request body"}),
        on_read_(std::move(on_read)) {}

 protected:
  void do_read(std::size_t) override {
    if (on_read_) on_read_();
  }
  void do_destroy(std::error_code ec, callback cb) override {
    on_read_ = nullptr;
    cb(ec);
  }

 private:
  std::function<void()> on_read_;
};

class http_post_sink final : public writable<buffer> {
 public:
  http_post_sink(asio_loop& l, const std::string& name, std::string url, request_options o)
      : writable<buffer>(l, writable_options{.name = name}),
        loop_(l),
        url_(std::move(url)),
        options_(std::move(o)) {
    use_construct();
  }

 protected:
  void do_construct(callback cb) override {
    const std::string what = options_.method + " " + url_;
    auto req = make_http_request(url_, options_);
    if (auto* ec = std::get_if<std::error_code>(&req)) {
      fail(*ec, what);
      cb(*ec);
      return;
    }
    std::weak_ptr<http_post_sink> weak = self();
    upload_ = std::make_shared<upload_source>(loop_, [weak] {
      if (auto s = weak.lock(); s && s->pending_write_) {
        const write_callback cb = *s->pending_write_;
        s->pending_write_.reset();
        cb({});
      }
    });
    auto& r = std::get<http_client_request>(req);
    r.body = upload_;
    r.headers.set("Content-Type", "application/octet-stream");
    http_fetch(loop_, std::move(r),
               [weak, what](std::error_code ec, std::shared_ptr<http_client_response> res) {
                 auto s = weak.lock();
                 if (!s || !s->intact()) {
                   if (res && res->body()) res->body()->destroy();
                   return;
                 }
                 s->on_response(what, ec, std::move(res));
               });
    cb({});
  }

  void do_write(buffer&& chunk, write_callback cb) override {
    if (upload_->push(std::move(chunk)))
      cb({});
    else
      pending_write_ = cb;  // until the client reads the upload again
  }

  void do_final(callback cb) override {
    upload_->push_eof();
    final_ = std::move(cb);
    maybe_finish();
  }

  void do_destroy(std::error_code ec, callback cb) override {
    pending_write_.reset();
    final_ = nullptr;
    if (upload_ && !upload_->destroyed()) upload_->destroy();
    if (body_ && !body_->destroyed()) body_->destroy();
    body_.reset();
    cb(ec);
  }

 private:
  std::shared_ptr<http_post_sink> self() {
    return std::dynamic_pointer_cast<http_post_sink>(shared_from_this());
  }

  void on_response(const std::string& what, std::error_code ec,
                   std::shared_ptr<http_client_response> res) {
    if (ec) {
      fail(ec, what);
      return;
    }
    if (res->status() >= 300) {
      res->body()->destroy();
      fail(http_status_error(res->status()), what);
      return;
    }
    // The response body is read to its end (and dropped) so the exchange completes.
    body_ = res->body();
    std::weak_ptr<http_post_sink> weak = self();
    body_->on_data([](buffer&&) {});
    body_->on_end([weak] {
      if (auto s = weak.lock()) {
        s->answered_ = true;
        s->maybe_finish();
      }
    });
    body_->on_error([weak, what](std::error_code e) {
      auto s = weak.lock();
      if (!s || !s->intact() || !s->body_) return;
      s->fail(e, what + ": " + s->body_->error_context());
    });
  }

  void maybe_finish() {
    if (final_ && answered_) std::exchange(final_, nullptr)({});
  }

  asio_loop& loop_;
  std::string url_;
  request_options options_;
  std::shared_ptr<upload_source> upload_;
  std::shared_ptr<readable<buffer>> body_;
  std::optional<write_callback> pending_write_;
  callback final_;
  bool answered_ = false;
};

bool starts_with_scheme(const std::string& s) {
  const auto colon = s.find("://");
  if (colon == std::string::npos || colon == 0) return false;
  for (std::size_t i = 0; i < colon; ++i)
    if (std::isalpha(static_cast<unsigned char>(s[i])) == 0 && s[i] != '+' && s[i] != '-' &&
        s[i] != '.')
      return false;
  return true;
}

// One URL argument: http:// or https:// (verified against the system's store of authorities, which
// SSL_CERT_FILE can replace).
std::variant<std::string, syntax_error> url_argument(stage_args& args) {
  std::optional<std::string> url;
  while (!args.done()) {
    const token& t = args.next();
    if (is_option(t) || url) return args.unexpected(t);
    if (!t.text.starts_with("http://") && !t.text.starts_with("https://"))
      return error_at(t, args.name() + ": not an http:// URL: " + quote(t.text));
    url = t.text;
  }
  if (!url) return args.missing("URL");
  return *url;
}

}  // namespace

const std::error_category& net_stage_category() noexcept {
  static const net_stage_category_impl c;
  return c;
}

std::error_code make_error_code(net_stage_errc e) noexcept {
  return {static_cast<int>(e), net_stage_category()};
}

std::error_code http_status_error(unsigned status) noexcept {
  return {static_cast<int>(status), net_stage_category()};
}

std::variant<http_client_request, std::error_code> make_http_request(const std::string& url,
                                                                     const request_options& o) {
  http_client_request req;
  req.method = o.method;
  req.url = url;
  req.timeout = o.timeout;
  req.decompress = o.compressed;
  req.tls.ca_file = o.ca_file;
  req.tls.verify_peer = !o.insecure;
  req.headers.set("User-Agent", "sluice/0.1.0");
  return req;
}

std::string resolve_location(const std::string& base, const std::string& location) {
  if (starts_with_scheme(location)) return location;
  const auto scheme_end = base.find("://");
  const std::string scheme = base.substr(0, scheme_end);
  if (location.starts_with("//")) return scheme + ":" + location;
  const auto path_start = base.find_first_of("/?#", scheme_end + 3);
  const std::string origin = base.substr(0, path_start);
  if (location.starts_with("/")) return origin + location;
  std::string path = path_start == std::string::npos ? "/" : base.substr(path_start);
  path = path.substr(0, path.find_first_of("?#"));
  if (location.starts_with("?")) return origin + path + location;
  return origin + path.substr(0, path.rfind('/') + 1) + location;
}

std::optional<host_port> parse_host_port(std::string_view s, bool host_optional) {
  host_port out;
  std::string_view port = s;
  if (s.starts_with("[")) {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return std::nullopt;
    out.host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else if (const auto colon = s.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
  } else if (!host_optional) {
    return std::nullopt;
  }
  if (!host_optional && out.host.empty()) return std::nullopt;
  const auto n = parse_int(port);
  if (!n || *n < 0 || *n > 65535) return std::nullopt;
  out.port = static_cast<std::uint16_t>(*n);
  return out;
}

// ---- parsers --------------------------------------------------------------------------------

/// The value of the TCP stages' --timeout S (`t`): seconds, a decimal number, 0 for none.
std::optional<syntax_error> parse_peer_timeout(stage_args& args, const token& t,
                                               std::chrono::milliseconds& out) {
  auto v = args.value_of(t);
  if (auto* e = std::get_if<syntax_error>(&v)) return *e;
  const token& val = *std::get<const token*>(v);
  double secs = -1;
  const char* end = val.text.data() + val.text.size();
  const auto [p, ec] = std::from_chars(val.text.data(), end, secs);
  if (ec != std::errc{} || p != end || !(secs >= 0) || secs > 86'400)
    return error_at(val, args.name() +
                             ": --timeout must be seconds (0: none; at most 86400), not " +
                             quote(val.text));
  out = std::chrono::milliseconds(static_cast<std::int64_t>(secs * 1000 + 0.5));
  if (secs > 0 && out.count() == 0) out = std::chrono::milliseconds(1);
  return std::nullopt;
}

stage_parse_result parse_tcp_listen(stage_args& args) {
  auto s = std::make_shared<tcp_listen_stage>();
  bool have = false;
  while (!args.done()) {
    const token& t = args.next();
    if (is_option(t) && option_name(t) == "--timeout") {
      if (auto e = parse_peer_timeout(args, t, s->peer_timeout)) return *e;
      continue;
    }
    if (is_option(t) || have) return args.unexpected(t);
    const auto hp = parse_host_port(t.text, true);
    if (!hp)
      return error_at(t, "tcp-listen: expected [HOST:]PORT (port 0..65535), not " + quote(t.text));
    if (!hp->host.empty()) s->host = hp->host;
    s->port = hp->port;
    have = true;
  }
  if (!have) return args.missing("[HOST:]PORT");
  return s;
}

stage_parse_result parse_tcp_connect(stage_args& args) {
  auto s = std::make_shared<connect_stage>();
  bool have = false;
  while (!args.done()) {
    const token& t = args.next();
    if (is_option(t) && option_name(t) == "--timeout") {
      if (auto e = parse_peer_timeout(args, t, s->peer_timeout)) return *e;
      continue;
    }
    if (is_option(t) || have) return args.unexpected(t);
    const auto hp = parse_host_port(t.text, false);
    if (!hp || hp->port == 0)
      return error_at(t, "tcp-connect: expected HOST:PORT (port 1..65535), not " + quote(t.text));
    s->host = hp->host;
    s->port = hp->port;
    have = true;
  }
  if (!have) return args.missing("HOST:PORT");
  return s;
}

stage_parse_result parse_unix_connect(stage_args& args) {
  auto s = std::make_shared<connect_stage>();
  s->unix_domain = true;
  bool have = false;
  while (!args.done()) {
    const token& t = args.next();
    if (is_option(t) || have) return args.unexpected(t);
    s->host = t.text;
    have = true;
  }
  if (!have) return args.missing("PATH");
  return s;
}

stage_parse_result parse_http_get(stage_args& args) {
  auto url = url_argument(args);
  if (auto* e = std::get_if<syntax_error>(&url)) return *e;
  auto s = std::make_shared<http_get_stage>();
  s->url = std::get<std::string>(std::move(url));
  return s;
}

stage_parse_result parse_http_post(stage_args& args) {
  auto url = url_argument(args);
  if (auto* e = std::get_if<syntax_error>(&url)) return *e;
  auto s = std::make_shared<http_post_stage>();
  s->url = std::get<std::string>(std::move(url));
  return s;
}

// ---- build() --------------------------------------------------------------------------------

byte_stage tcp_listen_stage::build(build_context& ctx) const {
  asio_loop& l = asio_of(ctx.loop);
  server_options o;
  o.host = host;
  o.port = port;
  // A run that fails resets the connection, so the sender fails too rather than taking the
  // close for a clean end; a cut link fails the read after --timeout.
  o.connection.reset_on_abort = true;
  o.connection.peer_timeout = peer_timeout;
  auto srv = make_tcp_server(l, o);
  if (const std::error_code ec = srv->listen())
    throw std::runtime_error("stage " + std::to_string(ctx.index + 1) + " (" + ctx.name +
                             "): " + srv->error_message());
  // Port 0 picked one: say which, so that the sender can be started.
  if (port == 0)
    std::fprintf(stderr, "sluice: %s: listening on %s\n", ctx.name.c_str(), srv->address().c_str());
  auto relay =
      std::make_shared<relay_source>(l, ctx.name, [srv](const std::shared_ptr<relay_source>& r) {
        std::weak_ptr<relay_source> weak = r;
        auto taken = std::make_shared<bool>(false);
        srv->on_connection(
            [weak, taken, srv_weak = std::weak_ptr<server>(srv)](std::shared_ptr<socket> sock) {
              auto s = weak.lock();
              if (!s || !s->intact() || *taken) {
                sock->destroy();  // one connection only
                return;
              }
              *taken = true;
              s->attach(sock, {});
              if (auto sv = srv_weak.lock()) sv->close();
            });
      });
  relay->on_teardown([srv] { srv->close(); });
  return {relay, ctx.name};
}

byte_stage connect_stage::build(build_context& ctx) const {
  asio_loop& l = asio_of(ctx.loop);
  socket_options o;
  // A sender that fails, or is killed, resets the connection: the receiver's read fails instead
  // of ending, and its output never appears under the final name. A cut link fails after
  // --timeout. (A Unix socket's peer is on the same host: its death is an end there.)
  o.reset_on_abort = true;
  o.peer_timeout = peer_timeout;
  auto sock =
      unix_domain ? make_unix_connection(l, host, o) : make_tcp_connection(l, host, port, o);
  return {sock, ctx.name};
}

byte_stage http_get_stage::build(build_context& ctx) const {
  asio_loop& l = asio_of(ctx.loop);
  auto relay = std::make_shared<relay_source>(
      l, ctx.name,
      [&l, url = url, follow = follow, o = request](const std::shared_ptr<relay_source>& r) {
        auto g = std::make_shared<get_request>(l, follow, o);
        g->relay = r;
        g->start(url);
      });
  return {relay, ctx.name};
}

byte_stage http_post_stage::build(build_context& ctx) const {
  return {std::make_shared<http_post_sink>(asio_of(ctx.loop), ctx.name, url, request), ctx.name};
}

std::optional<std::uint64_t> network_source_size(const stream* s) {
  if (const auto* r = dynamic_cast<const relay_source*>(s)) return r->expected_bytes();
  return std::nullopt;
}

}  // namespace sluice::cli
