// The NATS JetStream stages of `sluice run` (messaging_stages.hpp).
#include "messaging_stages.hpp"

#include <charconv>
#include <deque>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/compose/operators.hpp"
#include "sluice/messaging/jetstream_reader.hpp"
#include "sluice/messaging/jetstream_writer.hpp"

namespace sluice::cli {
namespace {

namespace ms = sluice::messaging;
using namespace std::chrono_literals;

// ---- nats-pub: a message per line ------------------------------------------------------------

// A writable of bytes that publishes each line through a jetstream_writer. A write (a chunk) is
// accepted while the publisher has room, and done once every line it completed has been
// acknowledged by the server; the bytes after its last newline wait for the next chunk (or
// end()) to finish their line, and 'finish' waits for that last one.
class line_publisher final : public writable<buffer> {
  using publisher = ms::jetstream_writer<std::string, bytes_serializer>;

 public:
  using writable<buffer>::write_callback;

  line_publisher(sluice::loop& l, std::shared_ptr<publisher> inner)
      : writable<buffer>(l, writable_options{.high_water_mark = 64 * 1024, .name = "nats-pub"}),
        inner_(std::move(inner)) {
    this->use_accept();
  }

  void attach() {
    std::weak_ptr<line_publisher> w =
        std::dynamic_pointer_cast<line_publisher>(this->shared_from_this());
    self_ = w;
    drain_id_ = inner_->on_drain([w] {
      if (auto p = w.lock()) p->inner_drained();
    });
    error_id_ = inner_->on_error([w](std::error_code ec) {
      if (auto p = w.lock()) p->inner_failed(ec);
    });
  }

 protected:
  void do_write(buffer&& chunk, write_callback cb) override {
    const std::string_view v = chunk.view();
    bool room = true;
    std::size_t start = 0;
    for (std::size_t nl = v.find('\n'); nl != std::string_view::npos;
         start = nl + 1, nl = v.find('\n', start)) {
      partial_.append(v.substr(start, nl - start));
      room = publish(std::exchange(partial_, std::string()));
    }
    partial_.append(v.substr(start));
    // Done once the lines it completed are acknowledged. Its bytes after the last newline are
    // held here and go with the write that completes their line (or with end()): waiting for
    // that write would hold the one before it, and the producer waits for a 'drain' first.
    done_at_.push_back(sent_);
    if (room)
      this->accept(cb);
    else
      held_.emplace(cb);  // accepted once the publisher drains
    complete();
  }

  void do_final(callback cb) override {
    if (!partial_.empty()) (void)publish(std::exchange(partial_, std::string()));
    inner_->end([w = self_, cb = std::move(cb)](std::error_code ec) {
      auto p = w.lock();
      if (p && !p->destroyed()) cb(ec);
    });
  }

  void do_destroy(std::error_code ec, callback cb) override {
    inner_->off(drain_id_);
    inner_->off(error_id_);
    if (held_) {
      const std::error_code e = ec ? ec : make_error_code(errc::stream_destroyed);
      this->defer([c = *std::exchange(held_, std::nullopt), e] { c(e); });
    }
    inner_->destroy(ec);
    cb(ec);
  }

 private:
  bool publish(std::string line) {
    ++sent_;
    return inner_->write(std::move(line), [w = self_](std::error_code ec) {
      auto p = w.lock();
      if (!p || p->destroyed()) return;
      if (ec) return p->inner_failed(ec);
      ++p->acked_;
      p->complete();
    });
  }

  // Acknowledges the oldest writes whose lines are all acknowledged (a held write waits until
  // it is accepted).
  void complete() {
    std::size_t n = 0;
    while (n < done_at_.size() && n < this->accepted_count() && done_at_[n] <= acked_) ++n;
    if (n == 0) return;
    done_at_.erase(done_at_.begin(), done_at_.begin() + static_cast<std::ptrdiff_t>(n));
    this->acknowledge(n);
  }

  void inner_drained() {
    if (!held_ || this->destroyed()) return;
    this->accept(*std::exchange(held_, std::nullopt));
    complete();
  }

  void inner_failed(std::error_code ec) {
    if (this->destroyed() || this->errored()) return;
    this->fail(ec, inner_->error_context());
  }

  std::shared_ptr<publisher> inner_;
  std::weak_ptr<line_publisher> self_;
  std::string partial_;                // the bytes after the last newline
  std::uint64_t sent_ = 0;             // lines published
  std::uint64_t acked_ = 0;            // lines the server acknowledged
  std::deque<std::uint64_t> done_at_;  // per write not yet done: the lines it needs acknowledged
  std::optional<write_callback> held_;
  listener_id drain_id_{};
  listener_id error_id_{};
};

// ---- nats-sub: a line per message, acknowledged once the sink has it ------------------------

using line_reader = ms::jetstream_reader<buffer, bytes_serializer>;

// The messages handed on and not yet acknowledged, by the end of their line in the output.
struct ack_ledger {
  std::deque<std::pair<std::uint64_t, ms::acknowledgement>> open;  // (end offset, receipt)
  std::uint64_t emitted = 0;                                       // bytes handed on
  std::uint64_t taken = 0;                                         // messages handed on
  std::uint64_t acked = 0;

  void add(std::size_t bytes, ms::acknowledgement r) {
    emitted += bytes;
    ++taken;
    open.emplace_back(emitted, std::move(r));
  }
  // Acknowledges every message whose line ends within the first `bytes` bytes.
  void ack_through(std::uint64_t bytes) {
    while (!open.empty() && open.front().first <= bytes) {
      open.front().second.ack();
      open.pop_front();
      ++acked;
    }
  }
  void ack_all() { ack_through(emitted); }
  // Restarts the server's ack wait of every message still held.
  void keep_alive() {
    for (auto& o : open) o.second.in_progress();
  }
};

}  // namespace

byte_stage nats_pub_stage::build(build_context& ctx) const {
  ms::jetstream_options c;
  c.urls = urls;
  c.connection_name = "sluice nats-pub";
  ms::jetstream_writer_options o;
  o.subject = subject;
  o.max_pending = max_pending;
  o.name = "nats-pub";
  if (!stream.empty())
    o.ensure_stream =
        ms::jetstream_stream_config{.name = stream, .subjects = {subject}, .replicas = replicas};
  auto p = std::make_shared<line_publisher>(
      ctx.loop, ms::make_jetstream_writer<std::string>(ctx.loop, std::move(c), std::move(o)));
  p->attach();
  return {p, ctx.name};
}

byte_stage nats_sub_stage::build(build_context& ctx) const {
  if (ctx.hooks == nullptr)
    throw std::invalid_argument("nats-sub: needs a run that tells it what its sink has written");
  ms::jetstream_options c;
  c.urls = urls;
  c.connection_name = "sluice nats-sub";
  ms::jetstream_reader_options o;
  o.stream = stream;
  o.consumer = consumer;
  o.max_ack_pending = max_ack_pending;
  o.ack_wait = ack_wait;
  o.end_after_idle = idle;
  // Fetches of up to 256 messages: with the reader's default (16) a fetch's round trip paid for
  // 16 lines, and a consumer read about 5,000 lines/s.
  o.high_water_mark = 256;
  o.name = "nats-sub";
  auto reader = ms::make_jetstream_reader<buffer>(ctx.loop, std::move(c), std::move(o));
  auto ledger = std::make_shared<ack_ledger>();
  std::weak_ptr<line_reader> weak_reader = reader;
  sluice::loop& l = ctx.loop;
  auto lines = flat_map(
      reader,
      [ledger, weak_reader, count = count, &l](ms::delivery<buffer>&& d) {
        std::vector<buffer> out;
        if (count && ledger->taken >= *count) {
          d.nak();  // beyond --count: for the next reader, at once
          return out;
        }
        std::string line(d.value.view());
        line += '\n';
        ledger->add(line.size(), std::move(d.receipt));
        out.emplace_back(std::move(line));
        if (count && ledger->taken == *count)
          l.defer([weak_reader] {
            if (auto r = weak_reader.lock()) r->stop();
          });
        return out;
      },
      operator_options{.high_water_mark = 64 * 1024, .name = "nats-sub"});

  // What the run tells it: the sink, then the outcome.
  struct state {
    std::shared_ptr<ack_ledger> ledger;
    writable<buffer>* sink = nullptr;  // direct: the sink whose completed bytes are acknowledged
    timer tick;
    loop::time_point next_keep_alive{};
  };
  auto st = std::make_shared<state>();
  st->ledger = ledger;
  const bool ends = count.has_value() || idle.has_value();
  // A run that acknowledges at its end gets at most max_ack_pending messages (the server sends
  // no more until they are acknowledged): a larger --count without --idle would wait for ever.
  const bool count_fits = !count || idle || *count <= static_cast<std::uint64_t>(max_ack_pending);
  const auto keep_alive_every = std::max<loop::duration>(ack_wait / 3, 100ms);
  // Every 20 ms: acknowledges what the sink completed (direct), or restarts the ack wait of
  // what is held until the end.
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [st, &l, keep_alive_every, weak_poll = std::weak_ptr(poll)] {
    if (st->sink != nullptr) {
      // Bytes the sink has completed: taken, less those still waiting for their callback.
      st->ledger->ack_through(st->sink->counters().bytes_in - st->sink->writable_length());
    } else if (l.now() >= st->next_keep_alive) {
      st->ledger->keep_alive();
      st->next_keep_alive = l.now() + keep_alive_every;
    }
    if (auto p = weak_poll.lock())
      st->tick = l.start_timer(20ms, [p] {
        if (*p) (*p)();
      });
  };
  ctx.hooks->built.push_back([st, poll, ends, count_fits, &l, keep_alive_every,
                              max = max_ack_pending](const byte_stage& sink, bool direct) {
    if (!direct && !ends)
      throw std::invalid_argument(
          "nats-sub: with stages after it, or a sink that is not stdout or a file written in "
          "place, its messages are acknowledged when the run has succeeded: give --count N or "
          "--idle S so that the run ends");
    if (!direct && !count_fits)
      throw std::invalid_argument(
          "nats-sub: messages acknowledged when the run has succeeded are at most "
          "--max-ack-pending (" +
          std::to_string(max) +
          ") in a run: the server sends no more until they are; lower --count, raise "
          "--max-ack-pending or add --idle S");
    if (direct) st->sink = sink.writable_side();
    st->next_keep_alive = l.now() + keep_alive_every;
    st->tick = l.start_timer(20ms, [poll] {
      if (*poll) (*poll)();
    });
  });
  ctx.hooks->finished.push_back([st, poll](const pipeline_error& e) {
    st->tick.cancel();
    *poll = nullptr;
    // A run that succeeded has everything where it stays. After a failure the reader was
    // destroyed with the error and acknowledges nothing more: the rest is delivered again.
    if (!e) st->ledger->ack_all();
    st->sink = nullptr;
  });
  ctx.hooks->stats.push_back([reader, ledger] {
    const ms::jetstream_reader_stats s = reader->stats();
    return "nats-sub: " + std::to_string(ledger->taken) + " messages, " +
           std::to_string(ledger->acked) + " acknowledged; " + std::to_string(s.redelivered) +
           " delivered again (left unacknowledged by an earlier reader), " +
           std::to_string(s.duplicates) + " dropped as duplicates\n";
  });
  return {lines, ctx.name};
}

// ---- parsing ---------------------------------------------------------------------------------

namespace {

std::variant<std::string, syntax_error> word(stage_args& a, const std::string& what) {
  if (a.done()) return a.missing(what);
  const token& t = a.next();
  if (is_option(t)) return a.unexpected(t);
  return t.text;
}

// The stage's leading words, in order, into `stage`'s fields (what each is, for the error).
template <class Stage>
std::optional<syntax_error> words(
    stage_args& a, Stage& stage,
    std::initializer_list<std::pair<std::string Stage::*, const char*>> fields) {
  for (const auto& [field, what] : fields) {
    auto w = word(a, what);
    if (auto* e = std::get_if<syntax_error>(&w)) return *e;
    stage.*field = std::get<std::string>(std::move(w));
  }
  return std::nullopt;
}

// --OPTION N: a whole number from `min` to `max`.
std::optional<syntax_error> number(stage_args& a, const token& t, std::int64_t min,
                                   std::int64_t max, std::int64_t& out) {
  auto v = a.value_of(t);
  if (auto* e = std::get_if<syntax_error>(&v)) return *e;
  const token& n = *std::get<const token*>(v);
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(n.text.data(), n.text.data() + n.text.size(), value);
  if (ec != std::errc() || end != n.text.data() + n.text.size() || value < min || value > max)
    return error_at(n, a.name() + ": " + option_name(t) + " takes a number from " +
                           std::to_string(min) + " to " + std::to_string(max) + ", not " +
                           quote(n.text));
  out = value;
  return std::nullopt;
}

// --OPTION S: seconds, more than 0 and at most a day.
std::optional<syntax_error> seconds(stage_args& a, const token& t, std::chrono::milliseconds& out) {
  auto v = a.value_of(t);
  if (auto* e = std::get_if<syntax_error>(&v)) return *e;
  const token& n = *std::get<const token*>(v);
  double s = -1;
  const char* end = n.text.data() + n.text.size();
  const auto [p, ec] = std::from_chars(n.text.data(), end, s);
  if (ec != std::errc() || p != end || !(s > 0) || s > 86'400)
    return error_at(n, a.name() + ": " + option_name(t) +
                           " takes seconds (more than 0, at most 86400), not " + quote(n.text));
  out = std::max(std::chrono::milliseconds(1),
                 std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000 + 0.5)));
  return std::nullopt;
}

}  // namespace

stage_parse_result parse_nats_pub(stage_args& a) {
  auto s = std::make_shared<nats_pub_stage>();
  if (auto e =
          words(a, *s,
                {{&nats_pub_stage::urls, "a server URL"}, {&nats_pub_stage::subject, "a subject"}}))
    return *e;
  while (!a.done()) {
    const token& t = a.next();
    const std::string name = is_option(t) ? option_name(t) : "";
    std::int64_t n = 0;
    if (name == "--stream") {
      auto v = a.value_of(t);
      if (auto* e = std::get_if<syntax_error>(&v)) return *e;
      s->stream = std::get<const token*>(v)->text;
    } else if (name == "--replicas") {
      if (auto e = number(a, t, 1, 5, n)) return *e;
      s->replicas = static_cast<int>(n);
    } else if (name == "--max-pending") {
      if (auto e = number(a, t, 1, 100'000, n)) return *e;
      s->max_pending = static_cast<std::size_t>(n);
    } else {
      return a.unexpected(t);
    }
  }
  return s;
}

stage_parse_result parse_nats_sub(stage_args& a) {
  auto s = std::make_shared<nats_sub_stage>();
  if (auto e = words(a, *s,
                     {{&nats_sub_stage::urls, "a server URL"},
                      {&nats_sub_stage::stream, "a stream name"},
                      {&nats_sub_stage::consumer, "a consumer name"}}))
    return *e;
  while (!a.done()) {
    const token& t = a.next();
    const std::string name = is_option(t) ? option_name(t) : "";
    std::int64_t n = 0;
    std::chrono::milliseconds d{};
    if (name == "--count") {
      if (auto e = number(a, t, 1, std::int64_t{1} << 50, n)) return *e;
      s->count = static_cast<std::uint64_t>(n);
    } else if (name == "--idle") {
      if (auto e = seconds(a, t, d)) return *e;
      s->idle = d;
    } else if (name == "--ack-wait") {
      if (auto e = seconds(a, t, d)) return *e;
      s->ack_wait = d;
    } else if (name == "--max-ack-pending") {
      if (auto e = number(a, t, 1, 1'000'000, n)) return *e;
      s->max_ack_pending = n;
    } else {
      return a.unexpected(t);
    }
  }
  return s;
}

}  // namespace sluice::cli
