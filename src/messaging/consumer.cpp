// js_consumer and js_message (sluice/messaging/detail/jetstream_client.hpp): a durable pull
// consumer fetched on a thread of its own.
//
// libnats 3.4 fetches only with a blocking call (natsSubscription_Fetch waits up to its
// timeout for the batch), so it cannot run on the loop, nor on the shared I/O pool, whose
// threads would be held a whole fetch_wait at a time. Each consumer has one thread: it waits
// (on a condition variable, using no CPU) until the reader has room, fetches at most that
// many, and posts the batch to the loop. The thread holds a work_guard for its whole life; at
// its end it posts a task that joins it, then lets the guard go.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "nats_support.hpp"
#include "sluice/messaging/detail/jetstream_client.hpp"

namespace sluice::messaging::detail {

class js_message {
 public:
  js_message(natsMsg* m, std::shared_ptr<nats_bundle> b) : bundle_(std::move(b)), msg_(m) {}
  js_message(const js_message&) = delete;
  js_message& operator=(const js_message&) = delete;
  // The message goes before the connection it came on (an acknowledgement uses both).
  ~js_message() { natsMsg_Destroy(msg_); }

  [[nodiscard]] natsMsg* get() const noexcept { return msg_; }

 private:
  std::shared_ptr<nats_bundle> bundle_;
  natsMsg* msg_;
};

bool send_ack(js_message& m, ack_kind kind) {
  natsStatus s = NATS_OK;
  switch (kind) {
    case ack_kind::ack:
      s = natsMsg_Ack(m.get(), nullptr);
      break;
    case ack_kind::nak:
      s = natsMsg_Nak(m.get(), nullptr);
      break;
    case ack_kind::term:
      s = natsMsg_Term(m.get(), nullptr);
      break;
    case ack_kind::in_progress:
      s = natsMsg_InProgress(m.get(), nullptr);
      break;
  }
  return s == NATS_OK;
}

struct js_consumer::impl final : std::enable_shared_from_this<js_consumer::impl> {
  impl(loop& lp, jetstream_options opts, consumer_settings cs)
      : l(lp), o(std::move(opts)), s(std::move(cs)) {}

  loop& l;
  const jetstream_options o;
  const consumer_settings s;

  // Loop thread only.
  handlers h;
  bool open = true;  // stop() not called

  // Shared with the fetch thread.
  std::mutex mu;
  std::condition_variable cv;
  std::size_t credit = 0;  // messages the reader has room for and has not been handed
  bool stopping = false;
  std::thread thread;  // joined by a loop task the thread posts at its end

  // Fetch thread only: when consumer_gone() last asked.
  static constexpr std::chrono::seconds consumer_check_every{1};
  std::chrono::steady_clock::time_point last_consumer_check{};
  int consumer_missing = 0;  // answers in a row that it is not there

  ~impl() {
    // Normally joined already by the task run() posts; that task is lost only when the loop
    // is destroyed first, and then this may even run on the thread itself.
    if (thread.joinable()) {
      if (thread.get_id() == std::this_thread::get_id())
        thread.detach();
      else
        thread.join();
    }
  }

  std::string describe() const {
    return "jetstream consumer '" + s.stream + "'/'" + s.consumer + "' on " + o.urls;
  }

  // Looks the consumer up, creates it when it is missing, and binds a pull subscription to it.
  std::error_code bind(nats_bundle& b, std::string& context) const {
    context = describe();
    jsConsumerInfo* ci = nullptr;
    jsErrCode code = no_js_error;
    natsStatus st =
        js_GetConsumerInfo(&ci, b.js, s.stream.c_str(), s.consumer.c_str(), nullptr, &code);
    jsConsumerInfo_Destroy(ci);
    ci = nullptr;
    if (st == NATS_NOT_FOUND && code != JSStreamNotFoundErr) {
      jsConsumerConfig cc;
      jsConsumerConfig_Init(&cc);
      cc.Durable = s.consumer.c_str();
      cc.AckPolicy = js_AckExplicit;
      cc.DeliverPolicy = js_DeliverAll;
      cc.AckWait = std::chrono::duration_cast<std::chrono::nanoseconds>(s.ack_wait).count();
      cc.MaxDeliver = s.max_deliver;
      cc.MaxAckPending = s.max_ack_pending;
      if (!s.filter_subject.empty()) cc.FilterSubject = s.filter_subject.c_str();
      code = no_js_error;
      st = js_AddConsumer(&ci, b.js, s.stream.c_str(), &cc, nullptr, &code);
      jsConsumerInfo_Destroy(ci);
    }
    if (st != NATS_OK) {
      const std::string why = last_error_text(st);
      context += ": " + why;
      return classify(st, code, why);
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = s.stream.c_str();
    so.Consumer = s.consumer.c_str();
    code = no_js_error;
    st = js_PullSubscribe(&b.subscription, b.js, "", s.consumer.c_str(), nullptr, &so, &code);
    if (st != NATS_OK) {
      const std::string why = last_error_text(st);
      context += ": bind: " + why;
      return classify(st, code, why);
    }
    return {};
  }

  // Loop thread: hands `fn` a locked self if the consumer is still open.
  template <class F>
  void post(F fn) {
    l.post([w = weak_from_this(), fn = std::move(fn)]() mutable {
      auto p = w.lock();
      if (p && p->open) fn(*p);
    });
  }

  // Waits until the reader has room (or stop); returns 0 on stop.
  std::size_t wait_for_credit() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stopping || credit > 0; });
    return stopping ? 0 : std::min(credit, s.max_batch);
  }

  bool stop_requested() {
    std::lock_guard lock(mu);
    return stopping;
  }

  // Waits `d` or until stop.
  void pause(loop::duration d) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, d, [&] { return stopping; });
  }

  void run(status_callback ready) {
    auto b = make_bundle();
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = to_ms(o.request_timeout);
    std::string context;
    std::error_code ec = open_bundle(o, &jo, 0, *b, context);
    if (!ec) ec = bind(*b, context);
    post([ready, ec, context](impl&) { ready(ec, context); });
    if (!ec) fetch_loop(b);
  }

  void fetch_loop(const std::shared_ptr<nats_bundle>& b) {
    last_consumer_check = std::chrono::steady_clock::now();  // bind() has just seen it
    for (;;) {
      const std::size_t n = wait_for_credit();
      if (n == 0) return;
      natsMsgList list{};
      // One request that waits up to fetch_wait. (natsSubscription_Fetch first asks with
      // no_wait and asks again on the server's 404: with two processes on one consumer at its
      // max_ack_pending, libnats 3.4.1 corrupted its heap on that path, about one run in three
      // of scripts/demo-cluster.sh.)
      jsFetchRequest req;
      jsFetchRequest_Init(&req);
      req.Batch = static_cast<int>(n);
      req.Expires = std::chrono::duration_cast<std::chrono::nanoseconds>(s.fetch_wait).count();
      const natsStatus st = natsSubscription_FetchRequest(&list, b->subscription, &req);
      if (st == NATS_OK && stop_requested()) {
        // Fetched after stop() or destroy(): nobody will take them. Handed back at once, so
        // the next reader has them without waiting for ack_wait.
        for (int i = 0; i < list.Count; ++i) natsMsg_Nak(list.Msgs[i], nullptr);
        natsMsgList_Destroy(&list);
        return;
      }
      if (st == NATS_OK) {
        hand_over(b, list);
      } else if (st == NATS_CONNECTION_CLOSED || st == NATS_NOT_FOUND) {
        const std::string why = last_error_text(st);
        fail(classify(st, no_js_error, why), "fetch: " + why);
        return;
      } else if (const std::string why = last_error_text(st);
                 st == NATS_ERR && why.find("Consumer Deleted") != std::string::npos) {
        // The server's answer to the pull requests waiting when the consumer was deleted.
        fail(jetstream_errc::consumer_not_found, "fetch: " + why);
        return;
      } else {
        // NATS_TIMEOUT: nothing came within fetch_wait; ask again (a chance to see stop()).
        // Otherwise disconnected (libnats is reconnecting), the consumer's leader being
        // elected, ...: try again shortly. Either way, now and then, make sure the consumer is
        // still there: a fetch from a deleted one only times out.
        if (consumer_gone(b)) return;
        if (st != NATS_TIMEOUT)
          pause(std::min<loop::duration>(s.fetch_wait, std::chrono::milliseconds(100)));
      }
      if (stop_requested()) return;
    }
  }

  // Fetch thread: reports `ec` on the loop, as the reader's error.
  void fail(std::error_code ec, std::string what) {
    post([ec, what = std::move(what)](impl& p) {
      if (p.h.on_error) p.h.on_error(ec, p.describe() + ": " + what);
    });
  }

  // Fetch thread: at most every consumer_check_every, asks the server whether the consumer
  // still exists; true (after reporting consumer_not_found) when it said no twice in a row (a
  // cluster electing leaders may answer wrongly for a moment). Other failures of the question
  // (a server away) are left to the fetches.
  bool consumer_gone(const std::shared_ptr<nats_bundle>& b) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_consumer_check < consumer_check_every) return false;
    last_consumer_check = now;
    jsConsumerInfo* ci = nullptr;
    jsErrCode code = no_js_error;
    const natsStatus st =
        js_GetConsumerInfo(&ci, b->js, s.stream.c_str(), s.consumer.c_str(), nullptr, &code);
    jsConsumerInfo_Destroy(ci);
    if (st != NATS_NOT_FOUND || code != JSConsumerNotFoundErr) {
      consumer_missing = 0;
      return false;
    }
    if (++consumer_missing < 2) return false;
    fail(jetstream_errc::consumer_not_found, "fetch: " + last_error_text(st));
    return true;
  }

  void hand_over(const std::shared_ptr<nats_bundle>& b, natsMsgList& list) {
    std::vector<fetched_message> batch;
    batch.reserve(static_cast<std::size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* m = list.Msgs[i];
      list.Msgs[i] = nullptr;  // ours now (natsMsgList_Destroy skips it)
      fetched_message f;
      f.msg = std::make_shared<js_message>(m, b);
      const char* subject = natsMsg_GetSubject(m);
      f.subject = subject != nullptr ? subject : "";
      f.data = std::string_view(natsMsg_GetData(m),
                                static_cast<std::size_t>(std::max(0, natsMsg_GetDataLength(m))));
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        f.stream_sequence = meta->Sequence.Stream;
        f.consumer_sequence = meta->Sequence.Consumer;
        f.deliveries = meta->NumDelivered;
        jsMsgMetaData_Destroy(meta);
      }
      batch.push_back(std::move(f));
    }
    natsMsgList_Destroy(&list);
    {
      std::lock_guard lock(mu);
      credit -= std::min(credit, batch.size());
    }
    post([batch = std::move(batch)](impl& p) mutable {
      if (p.h.on_batch) p.h.on_batch(std::move(batch));
    });
  }
};

js_consumer::js_consumer(loop& l, jetstream_options o, consumer_settings s)
    : impl_(std::make_shared<impl>(l, std::move(o), std::move(s))) {}

js_consumer::~js_consumer() { stop(); }

std::string js_consumer::describe() const { return impl_->describe(); }

void js_consumer::start(handlers h, status_callback ready) {
  impl_->h = std::move(h);
  impl_->thread = std::thread(
      [self = impl_, ready = std::move(ready), guard = impl_->l.make_work_guard()]() mutable {
        self->run(std::move(ready));
        // The loop joins this thread (it is about to end); the guard goes after the post, so the
        // loop cannot go idle before the join has run.
        self->l.post([self] {
          if (self->thread.joinable()) self->thread.join();
        });
        guard.reset();
      });
}

void js_consumer::request(std::size_t n) {
  if (n == 0 || !impl_->open) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->credit += n;
  }
  impl_->cv.notify_one();
}

void js_consumer::stop() {
  if (!impl_->open) return;
  impl_->open = false;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
}

}  // namespace sluice::messaging::detail
