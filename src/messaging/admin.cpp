// Streams and consumers as the server sees them (sluice/messaging/jetstream_admin.hpp): each
// call connects on a messaging thread, makes its JetStream API request and hands the result to
// the loop.
#include <utility>

#include "nats_support.hpp"
#include "sluice/core/detail/io_pool.hpp"
#include "sluice/messaging/jetstream_admin.hpp"

namespace sluice::messaging {
namespace {

struct admin_result {
  std::error_code ec;
  std::string message;
};

// Runs `request(js, context)` on a connection of its own, off the loop, and `done(result)` on
// the loop. `request` returns the error and extends the context on failure.
template <class Request, class Done>
void with_connection(loop& l, const jetstream_options& o, Request request, Done done) {
  sluice::detail::run_blocking(
      detail::messaging_pool(), l,
      [o, request = std::move(request)]() mutable {
        auto b = detail::make_bundle();
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = detail::to_ms(o.request_timeout);
        std::string context;
        auto r = request.empty_result();
        std::error_code ec = detail::open_bundle(o, &jo, 0, *b, context);
        if (!ec) ec = request(b->js, context, r);
        r.ec = ec;
        if (ec) r.message = std::move(context);
        return r;
      },
      std::move(done));
}

std::string consumer_name(const std::string& stream, const std::string& consumer,
                          const std::string& urls) {
  return "jetstream consumer '" + stream + "'/'" + consumer + "' on " + urls;
}

}  // namespace

void ensure_stream(loop& l, const jetstream_options& o, jetstream_stream_config config,
                   admin_callback done) {
  struct request {
    jetstream_stream_config c;
    std::string urls;
    admin_result empty_result() const { return {}; }
    std::error_code operator()(jsCtx* js, std::string& context, admin_result&) const {
      return detail::ensure_stream_on(js, c, urls, context);
    }
  };
  with_connection(l, o, request{std::move(config), o.urls},
                  [done = std::move(done)](admin_result r) { done(r.ec, r.message); });
}

void get_stream_info(
    loop& l, const jetstream_options& o, std::string stream,
    std::function<void(std::error_code, const std::string&, jetstream_stream_info)> done) {
  struct result {
    std::error_code ec;
    std::string message;
    jetstream_stream_info info;
  };
  struct request {
    std::string stream;
    std::string urls;
    result empty_result() const { return {}; }
    std::error_code operator()(jsCtx* js, std::string& context, result& r) const {
      context = "jetstream stream '" + stream + "' on " + urls;
      jsStreamInfo* si = nullptr;
      jsErrCode code = detail::no_js_error;
      const natsStatus s = js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &code);
      if (s != NATS_OK) {
        const std::string why = detail::last_error_text(s);
        context += ": " + why;
        return detail::classify(s, code, why);
      }
      r.info.name = stream;
      r.info.messages = si->State.Msgs;
      r.info.bytes = si->State.Bytes;
      r.info.first_sequence = si->State.FirstSeq;
      r.info.last_sequence = si->State.LastSeq;
      r.info.consumers = si->State.Consumers;
      if (si->Cluster != nullptr && si->Cluster->Leader != nullptr)
        r.info.leader = si->Cluster->Leader;
      jsStreamInfo_Destroy(si);
      return {};
    }
  };
  with_connection(l, o, request{std::move(stream), o.urls},
                  [done = std::move(done)](result r) { done(r.ec, r.message, std::move(r.info)); });
}

void get_consumer_info(
    loop& l, const jetstream_options& o, std::string stream, std::string consumer,
    std::function<void(std::error_code, const std::string&, jetstream_consumer_info)> done) {
  struct result {
    std::error_code ec;
    std::string message;
    jetstream_consumer_info info;
  };
  struct request {
    std::string stream;
    std::string consumer;
    std::string urls;
    result empty_result() const { return {}; }
    std::error_code operator()(jsCtx* js, std::string& context, result& r) const {
      context = consumer_name(stream, consumer, urls);
      jsConsumerInfo* ci = nullptr;
      jsErrCode code = detail::no_js_error;
      const natsStatus s =
          js_GetConsumerInfo(&ci, js, stream.c_str(), consumer.c_str(), nullptr, &code);
      if (s != NATS_OK) {
        const std::string why = detail::last_error_text(s);
        context += ": " + why;
        return detail::classify(s, code, why);
      }
      r.info.stream = stream;
      r.info.name = consumer;
      r.info.num_pending = ci->NumPending;
      r.info.num_ack_pending =
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, ci->NumAckPending));
      r.info.num_redelivered =
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, ci->NumRedelivered));
      r.info.num_waiting = ci->NumWaiting;
      r.info.delivered_stream_sequence = ci->Delivered.Stream;
      r.info.ack_floor_stream_sequence = ci->AckFloor.Stream;
      if (ci->Cluster != nullptr && ci->Cluster->Leader != nullptr)
        r.info.leader = ci->Cluster->Leader;
      jsConsumerInfo_Destroy(ci);
      return {};
    }
  };
  with_connection(l, o, request{std::move(stream), std::move(consumer), o.urls},
                  [done = std::move(done)](result r) { done(r.ec, r.message, std::move(r.info)); });
}

void delete_stream(loop& l, const jetstream_options& o, std::string stream, admin_callback done) {
  struct request {
    std::string stream;
    std::string urls;
    admin_result empty_result() const { return {}; }
    std::error_code operator()(jsCtx* js, std::string& context, admin_result&) const {
      context = "jetstream stream '" + stream + "' on " + urls;
      jsErrCode code = detail::no_js_error;
      const natsStatus s = js_DeleteStream(js, stream.c_str(), nullptr, &code);
      if (s != NATS_OK) {
        const std::string why = detail::last_error_text(s);
        context += ": delete: " + why;
        return detail::classify(s, code, why);
      }
      return {};
    }
  };
  with_connection(l, o, request{std::move(stream), o.urls},
                  [done = std::move(done)](admin_result r) { done(r.ec, r.message); });
}

void delete_consumer(loop& l, const jetstream_options& o, std::string stream, std::string consumer,
                     admin_callback done) {
  struct request {
    std::string stream;
    std::string consumer;
    std::string urls;
    admin_result empty_result() const { return {}; }
    std::error_code operator()(jsCtx* js, std::string& context, admin_result&) const {
      context = consumer_name(stream, consumer, urls);
      jsErrCode code = detail::no_js_error;
      const natsStatus s = js_DeleteConsumer(js, stream.c_str(), consumer.c_str(), nullptr, &code);
      if (s != NATS_OK) {
        const std::string why = detail::last_error_text(s);
        context += ": delete: " + why;
        return detail::classify(s, code, why);
      }
      return {};
    }
  };
  with_connection(l, o, request{std::move(stream), std::move(consumer), o.urls},
                  [done = std::move(done)](admin_result r) { done(r.ec, r.message); });
}

}  // namespace sluice::messaging
