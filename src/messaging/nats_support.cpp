// What the JetStream streams share on the libnats side (nats_support.hpp).
#include "nats_support.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <vector>

namespace sluice::messaging::detail {

sluice::detail::io_pool& messaging_pool() {
  // libnats initializes itself, and OpenSSL (its random numbers), on first use: on one of these
  // threads. OpenSSL frees a thread's state when the thread ends, unless its own exit handler
  // has run already; and exit handlers run in the reverse order of their registration. So
  // libnats comes first, and the pool, registered after it, is joined before OpenSSL's cleanup.
  static sluice::detail::io_pool& pool = []() -> sluice::detail::io_pool& {
    nats_Open(-1);
    static sluice::detail::io_pool threads(2);
    return threads;
  }();
  return pool;
}

nats_bundle::~nats_bundle() {
  // (Destroying the subscription does not delete a durable consumer: libnats 3.4 deletes only
  // on an explicit unsubscribe.)
  if (subscription != nullptr) natsSubscription_Destroy(subscription);
  if (js != nullptr) jsCtx_Destroy(js);
  if (connection != nullptr) natsConnection_Destroy(connection);
  if (options != nullptr) natsOptions_Destroy(options);
}

std::shared_ptr<nats_bundle> make_bundle() {
  return std::shared_ptr<nats_bundle>(
      new nats_bundle, [](nats_bundle* b) { messaging_pool().submit([b] { delete b; }); });
}

// ---- Routes -------------------------------------------------------------------------------------

namespace {

struct route_table {
  std::mutex mu;
  std::uint64_t next = 0;
  std::map<std::uint64_t, std::weak_ptr<nats_route>> routes;
};

route_table& routes() {
  static route_table t;
  return t;
}

}  // namespace

std::uint64_t add_route(std::weak_ptr<nats_route> r) {
  route_table& t = routes();
  std::lock_guard lock(t.mu);
  const std::uint64_t id = ++t.next;
  t.routes.emplace(id, std::move(r));
  return id;
}

void remove_route(std::uint64_t id) {
  route_table& t = routes();
  std::lock_guard lock(t.mu);
  t.routes.erase(id);
}

std::shared_ptr<nats_route> find_route(void* closure) {
  const auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(closure));
  route_table& t = routes();
  std::lock_guard lock(t.mu);
  const auto it = t.routes.find(id);
  return it == t.routes.end() ? nullptr : it->second.lock();
}

namespace {

void on_closed(natsConnection*, void* closure) {
  if (auto r = find_route(closure)) r->closed();
}

std::vector<std::string> split_urls(const std::string& urls) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= urls.size()) {
    std::size_t end = urls.find(',', start);
    if (end == std::string::npos) end = urls.size();
    std::string u = urls.substr(start, end - start);
    u.erase(0, u.find_first_not_of(" \t"));
    u.erase(u.find_last_not_of(" \t") + 1);
    if (!u.empty()) out.push_back(std::move(u));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::int64_t to_ms(std::chrono::nanoseconds d) {
  return std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

std::string last_error_text(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* more = nats_GetLastError(&last);
  if (more != nullptr && *more != '\0') {
    // libnats prefixes its text with where it was set, "(conn.c:2088): ": keep the words.
    std::string_view m = more;
    if (!m.empty() && m.front() == '(') {
      if (const auto close = m.find("): "); close != std::string_view::npos)
        m.remove_prefix(close + 3);
    }
    if (!m.empty() && m != text) text += ": " + std::string(m);
  }
  return text;
}

std::string server_text(std::string_view text, jsErrCode code) {
  std::string out(text.empty() ? "refused" : text);
  if (code != 0) out += " (error " + std::to_string(static_cast<int>(code)) + ")";
  return out;
}

std::error_code classify(natsStatus s, jsErrCode code, std::string_view text) {
  switch (s) {
    case NATS_OK:
      return {};
    case NATS_TIMEOUT:
      return jetstream_errc::timeout;
    case NATS_NO_RESPONDERS:
      return jetstream_errc::no_responders;
    case NATS_CONNECTION_CLOSED:
      return jetstream_errc::connection_closed;
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_INSUFFICIENT_BUFFER:
    case NATS_STALE_CONNECTION:
      return jetstream_errc::disconnected;
    case NATS_NO_SERVER:
      return jetstream_errc::connect_failed;
    case NATS_NOT_FOUND:
      if (code == JSConsumerNotFoundErr) return jetstream_errc::consumer_not_found;
      if (code == JSStreamNotFoundErr) return jetstream_errc::stream_not_found;
      return jetstream_errc::server_error;
    case NATS_ERR:
      break;
    default:
      return jetstream_errc::client_error;
  }
  // A refusal by the server: by its error code, and for a store failure by its words (the
  // server has one code, 10077, for every limit a message can meet).
  if (code == JSStreamWrongLastMsgIDErr) return jetstream_errc::wrong_last_message;
  if (code == JSStreamNotFoundErr) return jetstream_errc::stream_not_found;
  if (code == JSConsumerNotFoundErr) return jetstream_errc::consumer_not_found;
  if (text.find("maximum messages exceeded") != std::string_view::npos ||
      text.find("maximum messages per subject exceeded") != std::string_view::npos)
    return jetstream_errc::maximum_messages_exceeded;
  if (text.find("maximum bytes exceeded") != std::string_view::npos)
    return jetstream_errc::maximum_bytes_exceeded;
  return code != 0 ? jetstream_errc::server_error : jetstream_errc::client_error;
}

std::error_code open_bundle(const jetstream_options& o, jsOptions* jo, std::uint64_t route,
                            nats_bundle& b, std::string& context) {
  const std::vector<std::string> urls = split_urls(o.urls);
  context = "jetstream connect to " + o.urls;
  if (urls.empty()) {
    context += ": no server URL";
    return jetstream_errc::connect_failed;
  }
  std::vector<const char*> servers;
  servers.reserve(urls.size());
  for (const std::string& u : urls) servers.push_back(u.c_str());
  natsStatus s = natsOptions_Create(&b.options);
  if (s == NATS_OK)
    s = natsOptions_SetServers(b.options, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(b.options, to_ms(o.connect_timeout));
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(b.options, o.max_reconnects);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(b.options, to_ms(o.reconnect_wait));
  if (s == NATS_OK)
    s = natsOptions_SetReconnectBufSize(
        b.options, static_cast<int>(std::min<std::size_t>(o.reconnect_buffer, 1u << 30)));
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(b.options, !o.randomize);
  if (s == NATS_OK && !o.connection_name.empty())
    s = natsOptions_SetName(b.options, o.connection_name.c_str());
  if (s == NATS_OK && route != 0)
    s = natsOptions_SetClosedCB(b.options, on_closed, route_closure(route));
  if (s != NATS_OK) {
    context += ": options refused: " + last_error_text(s);
    return jetstream_errc::client_error;
  }
  s = natsConnection_Connect(&b.connection, b.options);
  if (s != NATS_OK) {
    context += ": " + last_error_text(s);
    return jetstream_errc::connect_failed;
  }
  s = natsConnection_JetStream(&b.js, b.connection, jo);
  if (s != NATS_OK) {
    context += ": JetStream context: " + last_error_text(s);
    return jetstream_errc::client_error;
  }
  return {};
}

std::error_code ensure_stream_on(jsCtx* js, const jetstream_stream_config& c,
                                 const std::string& urls, std::string& context) {
  context = "jetstream stream '" + c.name + "' on " + urls;
  jsStreamInfo* si = nullptr;
  jsErrCode code = no_js_error;
  natsStatus s = js_GetStreamInfo(&si, js, c.name.c_str(), nullptr, &code);
  jsStreamInfo_Destroy(si);
  si = nullptr;
  if (s == NATS_OK) return {};
  if (s != NATS_NOT_FOUND) {
    context += ": " + last_error_text(s);
    return classify(s, code);
  }
  std::vector<const char*> subjects;
  for (const std::string& sub : c.subjects) subjects.push_back(sub.c_str());
  if (subjects.empty()) subjects.push_back(c.name.c_str());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = c.name.c_str();
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Replicas = c.replicas;
  cfg.Storage = c.storage == jetstream_storage::memory ? js_MemoryStorage : js_FileStorage;
  cfg.Retention = c.retention == jetstream_retention::interest     ? js_InterestPolicy
                  : c.retention == jetstream_retention::work_queue ? js_WorkQueuePolicy
                                                                   : js_LimitsPolicy;
  cfg.Discard = c.discard == jetstream_discard::discard_new ? js_DiscardNew : js_DiscardOld;
  cfg.MaxMsgs = c.max_msgs;
  cfg.MaxBytes = c.max_bytes;
  cfg.MaxAge = std::chrono::duration_cast<std::chrono::nanoseconds>(c.max_age).count();
  cfg.Duplicates = std::chrono::duration_cast<std::chrono::nanoseconds>(c.duplicate_window).count();
  code = no_js_error;
  s = js_AddStream(&si, js, &cfg, nullptr, &code);
  jsStreamInfo_Destroy(si);
  if (s != NATS_OK) {
    const std::string why = last_error_text(s);
    context += ": create: " + why;
    return classify(s, code, why);
  }
  return {};
}

}  // namespace sluice::messaging::detail
