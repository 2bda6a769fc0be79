// js_publisher (sluice/messaging/detail/jetstream_client.hpp): asynchronous JetStream publishes
// whose acknowledgements come back to the loop.
//
// libnats calls the PubAck handler on the thread of its reply subscription, once per publish
// it still tracks: with the server's acknowledgement, its refusal or no responders. The
// handler finds its publisher by route number, reads the item's token back from the message
// ID and queues the outcome for the loop: outcomes arriving while a delivery task is already
// posted join its batch, so a burst of acknowledgements costs one loop wakeup, not one each.
//
// No publish is given a MaxWait: libnats keeps a record per timed publish until its deadline
// passes, answered or not (a list entry and a copy of the reply subject, and a timeout message
// through the reply thread at the deadline), so a writer publishing R messages/s held
// R x ack_timeout of them (200,000 at 40k/s and 5 s: about 15 MiB). The writer times its own
// publishes and, when one is overdue, take_back() makes libnats forget every publish it still
// waits for.
#include <cstdlib>
#include <mutex>
#include <random>
#include <vector>

#include "nats_support.hpp"
#include "sluice/messaging/detail/jetstream_client.hpp"

namespace sluice::messaging::detail {

struct js_publisher::impl final : nats_route, std::enable_shared_from_this<js_publisher::impl> {
  impl(loop& lp, jetstream_options opts, std::string id_prefix)
      : l(lp), o(std::move(opts)), prefix(std::move(id_prefix)) {}

  loop& l;
  const jetstream_options o;
  const std::string prefix;
  std::uint64_t route = 0;

  // Loop thread only.
  std::shared_ptr<nats_bundle> bundle;  // once open() succeeded
  handlers h;
  bool open = true;  // close() not called

  // libnats' threads post only while attached (close() detaches under the lock, so nothing is
  // posted after it returns).
  std::mutex mu;
  bool attached = true;
  std::vector<publish_outcome> arrived;  // outcomes not yet taken by the loop (under mu)
  std::vector<publish_outcome> spare;    // the loop's last batch, kept for its capacity (under mu)

  void post(task fn) {
    std::lock_guard lock(mu);
    if (attached) l.post(std::move(fn));
  }

  // libnats' reply thread: the message is libnats' until the handler returns (it destroys it).
  void pub_ack(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) override {
    publish_outcome out;
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) {
      const std::string_view v = id;
      if (const auto dash = v.rfind('-'); dash != std::string_view::npos)
        out.token = std::strtoull(id + dash + 1, nullptr, 10);
    }
    if (pa != nullptr) {
      out.sequence = pa->Sequence;
      out.duplicate = pa->Duplicate;
    } else if (pae != nullptr) {
      const std::string_view text = pae->ErrText != nullptr ? pae->ErrText : "";
      out.ec = classify(pae->Err, pae->ErrCode, text);
      out.detail = pae->Err == NATS_ERR ? server_text(text, pae->ErrCode)
                                        : std::string(natsStatus_GetText(pae->Err));
    } else {
      out.ec = jetstream_errc::client_error;
      out.detail = "an acknowledgement with neither a result nor an error";
    }
    std::lock_guard lock(mu);
    if (!attached) return;
    arrived.push_back(std::move(out));
    if (arrived.size() == 1)
      l.post([w = weak_from_this()] {
        if (auto p = w.lock()) p->deliver_arrived();
      });
  }

  // Loop thread: everything that arrived since the task was posted, in arrival order.
  void deliver_arrived() {
    std::vector<publish_outcome> batch;
    {
      std::lock_guard lock(mu);
      batch.swap(spare);
      batch.swap(arrived);  // arrived gets the spare's capacity back
    }
    // A handler may close the publisher (a failed write destroys the writer): deliver() checks.
    for (auto& out : batch) deliver(std::move(out));
    batch.clear();
    std::lock_guard lock(mu);
    if (spare.capacity() < batch.capacity()) spare.swap(batch);
  }

  void closed() override {
    post([w = weak_from_this()] {
      auto p = w.lock();
      if (!p || !p->open) return;
      if (p->h.on_closed)
        p->h.on_closed(jetstream_errc::connection_closed,
                       "jetstream connection to " + p->o.urls + " closed");
    });
  }

  void deliver(publish_outcome out) {
    if (open && h.on_outcome) h.on_outcome(std::move(out));
  }
};

namespace {

void on_pub_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  if (auto r = find_route(closure)) r->pub_ack(msg, pa, pae);
  natsMsg_Destroy(msg);
}

}  // namespace

js_publisher::js_publisher(loop& l, jetstream_options o, std::string id_prefix)
    : impl_(std::make_shared<impl>(l, std::move(o), std::move(id_prefix))) {
  impl_->route = add_route(impl_);
}

js_publisher::~js_publisher() { close(); }

const std::string& js_publisher::urls() const noexcept { return impl_->o.urls; }

void js_publisher::open(std::size_t max_pending, std::optional<jetstream_stream_config> stream,
                        handlers h, status_callback done) {
  impl_->h = std::move(h);
  messaging_pool().submit([self = impl_, max_pending, stream = std::move(stream),
                           done = std::move(done), guard = impl_->l.make_work_guard()]() mutable {
    auto b = make_bundle();
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = to_ms(self->o.request_timeout);
    // The writer keeps at most max_pending publishes outstanding; libnats' own count can be
    // higher for a moment (an outcome is posted before libnats counts it down, and a retried
    // publish may go out before the first attempt's late answer arrives), and a publish beyond
    // libnats' MaxPending would block the loop thread. So libnats' bound is well above.
    jo.PublishAsync.MaxPending = static_cast<std::int64_t>(2 * max_pending + 1);
    jo.PublishAsync.AckHandler = on_pub_ack;
    jo.PublishAsync.AckHandlerClosure = route_closure(self->route);
    std::string context;
    std::error_code ec = open_bundle(self->o, &jo, self->route, *b, context);
    if (!ec && stream) ec = ensure_stream_on(b->js, *stream, self->o.urls, context);
    if (ec) b.reset();
    self->l.post([self, b, ec, context, done] {
      if (!self->open) return;  // closed meanwhile: the bundle goes with this task
      self->bundle = b;
      done(ec, context);
    });
    guard.reset();  // after the post: the loop has the result to run before it may go idle
  });
}

std::error_code js_publisher::publish(const std::string& subject, std::string_view data,
                                      std::uint64_t token, bool expect_previous,
                                      std::string& detail) {
  impl& p = *impl_;
  if (!p.open || !p.bundle) {
    detail = "the connection is closed";
    return jetstream_errc::connection_closed;
  }
  const std::string id = p.prefix + "-" + std::to_string(token);
  std::string previous;
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id.c_str();
  if (expect_previous && token > 0) {
    previous = p.prefix + "-" + std::to_string(token - 1);
    po.ExpectLastMsgId = previous.c_str();
  }
  natsMsg* m = nullptr;
  natsStatus s =
      natsMsg_Create(&m, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  if (s == NATS_OK) s = js_PublishMsgAsync(p.bundle->js, &m, &po);
  natsMsg_Destroy(m);  // (null once libnats took it)
  if (s != NATS_OK) {
    detail = last_error_text(s);
    return classify(s);
  }
  return {};
}

std::size_t js_publisher::take_back() {
  impl& p = *impl_;
  if (!p.open || !p.bundle) return 0;
  natsMsgList pending{};
  // (NATS_NOT_FOUND: nothing pending.) The answers still to come for these are dropped by
  // libnats: it no longer knows their reply subjects.
  if (js_PublishAsyncGetPendingList(&pending, p.bundle->js) != NATS_OK) return 0;
  const auto n = static_cast<std::size_t>(pending.Count);
  natsMsgList_Destroy(&pending);
  return n;
}

void js_publisher::close() {
  impl& p = *impl_;
  if (!p.open) return;
  p.open = false;
  {
    std::lock_guard lock(p.mu);
    p.attached = false;
  }
  remove_route(p.route);
  p.bundle.reset();  // closed on a messaging thread
}

std::string random_id_prefix() {
  static constexpr char digits[] = "0123456789abcdef";
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  std::string s(16, '0');
  for (char& c : s) {
    c = digits[v & 15];
    v >>= 4;
  }
  return s;
}

}  // namespace sluice::messaging::detail
