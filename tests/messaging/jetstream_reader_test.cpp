// jetstream_reader on a real three-node NATS cluster: a slow sink stops the fetching (the
// backlog stays on the server), a reader destroyed before acknowledging leaves its messages to
// be delivered again, poison messages go to the dead letter, and a pipeline goes on, in order
// and exactly once, when one of the three servers is killed under it.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "messaging/jetstream_support.hpp"
#include "sluice/codec/json_frames.hpp"
#include "sluice/core/make.hpp"
#include "sluice/messaging.hpp"

namespace {

using namespace sluice;
using namespace sluice::messaging;
using namespace std::chrono_literals;
using JetStreamReader = jetstream_test::jetstream_fixture;
using JetStreamCluster = jetstream_test::jetstream_fixture;
using jetstream_test::collector;
using jetstream_test::item;
using jetstream_test::producer;

// Publishes items [0, n) to the test's subject and waits for every acknowledgement.
void publish(jetstream_test::jetstream_fixture& f, std::size_t n) {
  auto w = make_jetstream_writer<std::string>(f.loop, f.nats, {.subject = f.subject()});
  f.track(w);
  producer p(w, n);
  p.run();
  ASSERT_TRUE(f.run_until([&] { return p.ended.has_value(); }, 20s));
  ASSERT_FALSE(*p.ended) << w->error_message();
}

// A sink that takes a write only after `delay` (a slow database). What it took goes to `into`;
// its timers keep `into` and the sink alive (a write callback does not own its stream).
std::shared_ptr<writable<std::string>> slow_sink(
    loop& l, const std::shared_ptr<std::vector<std::string>>& into, loop::duration delay) {
  return make_writable<std::string>(
      l, {.high_water_mark = 4,
          .name = "slow",
          .write = [into, &l, delay](auto& self, std::string&& s, auto cb) {
            l.start_timer(delay,
                          [into, keep = self.shared_from_this(), s = std::move(s), cb]() mutable {
                            into->push_back(std::move(s));
                            cb();
                          });
          }});
}

TEST_F(JetStreamReader, ASlowSinkStopsTheFetching) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  constexpr std::size_t hwm = 16;
  auto got = std::make_shared<std::vector<std::string>>();
  auto r = make_jetstream_reader<std::string>(
      loop, nats,
      {.stream = stream_name(), .consumer = "slow", .fetch_wait = 100ms, .high_water_mark = hwm});
  track(r);
  auto sink = track(make_acknowledging_writer(slow_sink(loop, got, 10ms), {.high_water_mark = 4}));
  r->pipe(sink);
  // What the reader holds: fetched, not acknowledged, not in the sink.
  std::size_t most = 0;
  auto held = [&] {
    const jetstream_reader_stats s = r->stats();
    most = std::max<std::size_t>(most, s.fetched - s.acked - sink->writable_length());
  };
  run_for(200ms);  // (the consumer exists, the stream is empty)
  auto w = make_jetstream_writer<std::string>(loop, nats, {.subject = subject()});
  track(w);
  producer p(w, 300);
  p.run();
  ASSERT_TRUE(run_until(
      [&] {
        held();
        return p.ended.has_value();
      },
      20s));
  ASSERT_FALSE(*p.ended) << w->error_message();
  ASSERT_TRUE(run_until(
                  [&] {
                    held();
                    return false;
                  },
                  300ms) == false);
  // The backlog is on the server: the reader fetched only what its buffer and the sink take.
  const jetstream_consumer_info ci = consumer_info(stream_name(), "slow");
  const jetstream_reader_stats s = r->stats();
  EXPECT_GE(ci.num_pending, 300u - s.fetched - 16) << "fetched " << s.fetched;
  EXPECT_GT(ci.num_pending, 150u);
  EXPECT_LE(ci.num_ack_pending, 2 * hwm);  // the reader's and the sink's, not the backlog
  EXPECT_LE(most, hwm);
  EXPECT_LT(got->size(), 120u);
  r->destroy();
}

TEST_F(JetStreamReader, MessagesNotAcknowledgedAreDeliveredAgainToTheNextReader) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  publish(*this, 100);
  const jetstream_reader_options o{.stream = stream_name(),
                                   .consumer = "worker",
                                   .ack_wait = 1s,
                                   .fetch_wait = 100ms,
                                   .high_water_mark = 32};

  // The first reader's sink acknowledges 40 messages, then takes one more and stops there.
  std::vector<delivery<std::string>> kept;
  auto stuck = make_writable<delivery<std::string>>(
      loop, {.high_water_mark = 1, .write = [&](auto&, delivery<std::string>&& d, auto cb) {
               if (kept.size() < 40) {
                 d.ack();
                 kept.push_back(std::move(d));
                 return cb();
               }
               kept.push_back(std::move(d));  // never completed, never acknowledged
             }});
  track(stuck);
  auto a = make_jetstream_reader<std::string>(loop, nats, o);
  track(a);
  a->pipe(stuck);
  ASSERT_TRUE(run_until([&] { return a->stats().acked == 40 && a->stats().asked == 0; }, 10s));
  run_for(200ms);  // nothing more comes: the reader is full
  const jetstream_reader_stats before = a->stats();
  const std::uint64_t unacked = before.fetched - before.acked;
  EXPECT_EQ(before.acked, 40u);
  EXPECT_GT(unacked, 10u);
  EXPECT_LE(before.fetched, 40u + 2 + 32);
  a->destroy();
  stuck->destroy();
  kept.clear();  // their handles go without acknowledging: the server sends them again
  run_for(50ms);

  std::vector<std::string> got;
  auto b = make_jetstream_reader<std::string>(loop, nats, o);
  track(b);
  b->pipe(track(make_acknowledging_writer(collector(loop, got, 64))));
  ASSERT_TRUE(run_until([&] { return got.size() == 60; }, 10s)) << got.size();
  run_for(200ms);
  std::set<std::string> want;
  for (std::size_t i = 40; i < 100; ++i) want.insert(item(i));
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want);
  EXPECT_EQ(got.size(), 60u);
  EXPECT_EQ(b->stats().redelivered, unacked);
  EXPECT_EQ(consumer_info(stream_name(), "worker").num_ack_pending, 0u);
  b->destroy();
}

// One message is not JSON (it fails to decode), one is handed back (nak) by the sink every
// time it comes: both end in the dead letter, terminated; the others are acknowledged.
TEST_F(JetStreamReader, PoisonMessagesGoToTheDeadLetter) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  {
    auto w = make_jetstream_writer<std::string>(loop, nats, {.subject = subject()});
    track(w);
    for (const char* v : {"1", "2", "oops", "13", "5"}) w->write(v);
    bool ended = false;
    w->end([&](std::error_code ec) {
      EXPECT_FALSE(ec) << w->error_message();
      ended = true;
    });
    ASSERT_TRUE(run_until([&] { return ended; }));
  }
  std::vector<jetstream_message> dead;
  auto dead_letter =
      make_writable<jetstream_message>(loop, {.write = [&](auto&, jetstream_message&& m, auto cb) {
                                         dead.push_back(std::move(m));
                                         cb();
                                       }});
  track(dead_letter);
  std::vector<int> good;
  auto sink = make_writable<delivery<int>>(loop, {.write = [&](auto&, delivery<int>&& d, auto cb) {
                                             if (d.value == 13) {
                                               d.nak();  // deliver it again, now
                                             } else {
                                               good.push_back(d.value);
                                               d.ack();
                                             }
                                             cb();
                                           }});
  track(sink);
  auto r = make_jetstream_reader<int>(loop, nats,
                                      {.stream = stream_name(),
                                       .consumer = "c",
                                       .max_deliver = 3,
                                       .fetch_wait = 100ms,
                                       .dead_letter = dead_letter},
                                      json_serializer<int>{});
  track(r);
  r->pipe(sink);
  ASSERT_TRUE(run_until([&] { return dead.size() == 2 && good.size() == 3; }, 10s))
      << dead.size() << " dead, " << good.size() << " good";
  EXPECT_EQ(good, (std::vector<int>{1, 2, 5}));
  EXPECT_EQ(dead[0].stream_sequence, 3u);
  EXPECT_EQ(dead[0].data.to_string(), "oops");
  EXPECT_EQ(dead[0].deliveries, 1u);
  EXPECT_NE(dead[0].reason.find("message 3 on '" + subject() + "' does not decode"),
            std::string::npos)
      << dead[0].reason;
  EXPECT_EQ(dead[1].stream_sequence, 4u);
  EXPECT_EQ(dead[1].deliveries, 4u);
  EXPECT_NE(dead[1].reason.find("delivered 4 times (max_deliver 3)"), std::string::npos)
      << dead[1].reason;
  run_for(200ms);
  const jetstream_reader_stats s = r->stats();
  EXPECT_EQ(s.dead_lettered, 2u);
  EXPECT_EQ(s.terminated, 2u);
  EXPECT_EQ(s.naked, 3u);
  EXPECT_EQ(s.acked, 3u);
  const jetstream_consumer_info ci = consumer_info(stream_name(), "c");
  EXPECT_EQ(ci.num_ack_pending, 0u);
  EXPECT_EQ(ci.num_pending, 0u);
  r->destroy();
}

TEST_F(JetStreamReader, WithoutADeadLetterAPoisonMessageFailsNamingIt) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  publish(*this, 1);  // "item-0": not JSON
  auto r = make_jetstream_reader<int>(loop, nats, {.stream = stream_name(), .consumer = "c"},
                                      json_serializer<int>{});
  track(r);
  std::optional<std::error_code> err;
  r->on_error([&](std::error_code ec) { err = ec; });
  r->resume();
  ASSERT_TRUE(run_until([&] { return err.has_value(); }));
  const std::string m = r->error_message();
  EXPECT_EQ(m.rfind("jetstream consumer '" + stream_name() + "'/'c' on ", 0), 0u) << m;
  EXPECT_NE(m.find(": message 1 on '" + subject() + "' does not decode"), std::string::npos) << m;
}

// The consumer is deleted (by an operator, another program) while a reader fetches from it:
// the reader fails naming the consumer, instead of asking again for ever.
TEST_F(JetStreamReader, AReaderWhoseConsumerIsDeletedFailsNamingIt) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  publish(*this, 20);
  auto got = std::make_shared<std::vector<std::string>>();
  auto r = make_jetstream_reader<std::string>(
      loop, nats, {.stream = stream_name(), .consumer = "doomed", .fetch_wait = 200ms});
  track(r);
  auto sink = track(make_acknowledging_writer(slow_sink(loop, got, 1ms), {.high_water_mark = 4}));
  std::optional<std::error_code> err;
  r->on_error([&](std::error_code ec) { err = ec; });
  int closes = 0;
  r->on_close([&] { ++closes; });
  r->pipe(sink);
  // Everything published arrives and is acknowledged; the reader then waits for more.
  ASSERT_TRUE(run_until([&] { return r->stats().acked == 20; }, 10s));
  std::optional<std::error_code> deleted;
  delete_consumer(loop, nats, stream_name(), "doomed",
                  [&](std::error_code ec, const std::string&) { deleted = ec; });
  ASSERT_TRUE(run_until([&] { return deleted.has_value(); }));
  ASSERT_FALSE(*deleted);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return err.has_value(); }, 10s)) << "the reader went on asking";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(*err, jetstream_errc::consumer_not_found) << err->message();
  const std::string m = r->error_message();
  EXPECT_EQ(m.rfind("jetstream consumer '" + stream_name() + "'/'doomed' on ", 0), 0u) << m;
  run_for(50ms);
  EXPECT_EQ(closes, 1);
  EXPECT_EQ(got->size(), 20u);
  // Deleting it again says there is none.
  std::optional<std::error_code> again;
  std::string again_message;
  delete_consumer(loop, nats, stream_name(), "doomed",
                  [&](std::error_code ec, const std::string& m2) {
                    again = ec;
                    again_message = m2;
                  });
  ASSERT_TRUE(run_until([&] { return again.has_value(); }));
  EXPECT_EQ(*again, jetstream_errc::consumer_not_found) << again_message;
  EXPECT_NE(again_message.find("'doomed'"), std::string::npos) << again_message;
}

// The same while the reader is held back by its sink, with no fetch waiting at the server: it
// finds out when it asks again (a fetch from a deleted consumer only times out, so the reader
// asks whether its consumer is still there every second while its fetches come back empty, and
// fails on the second "no").
TEST_F(JetStreamReader, AReaderHeldBackWhenItsConsumerIsDeletedFailsWhenItAsksAgain) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  publish(*this, 40);
  std::vector<writable<delivery<std::string>>::write_callback> held;
  std::size_t taken = 0;
  auto stuck = make_writable<delivery<std::string>>(
      loop, {.high_water_mark = 1, .write = [&](auto&, delivery<std::string>&& d, auto cb) {
               ++taken;
               d.ack();
               held.push_back(std::move(cb));  // completed when the test says
             }});
  track(stuck);
  auto r = make_jetstream_reader<std::string>(
      loop, nats,
      {.stream = stream_name(), .consumer = "doomed", .fetch_wait = 200ms, .high_water_mark = 4});
  track(r);
  std::optional<std::error_code> err;
  r->on_error([&](std::error_code ec) { err = ec; });
  r->pipe(stuck);
  ASSERT_TRUE(run_until([&] { return taken == 1 && r->stats().asked == 0; }, 10s));
  run_for(300ms);  // full: no fetch goes out
  std::optional<std::error_code> deleted;
  delete_consumer(loop, nats, stream_name(), "doomed",
                  [&](std::error_code ec, const std::string&) { deleted = ec; });
  ASSERT_TRUE(run_until([&] { return deleted.has_value(); }));
  ASSERT_FALSE(*deleted);
  run_for(300ms);
  EXPECT_FALSE(err.has_value());
  // Released: the sink takes what the reader holds, the reader asks for more.
  const auto start = std::chrono::steady_clock::now();
  while (!err && std::chrono::steady_clock::now() - start < 10s) {
    auto release = std::exchange(held, {});
    for (auto& cb : release) cb({});
    run_for(20ms);
  }
  ASSERT_TRUE(err.has_value()) << "the reader went on asking";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(*err, jetstream_errc::consumer_not_found) << err->message();
  EXPECT_EQ(r->error_message().rfind("jetstream consumer '" + stream_name() + "'/'doomed' on ", 0),
            0u)
      << r->error_message();
}

// Writes items [0, n), at most `lead` ahead of what the sink has (so that the writer is still
// writing when something happens to the reader's side), honouring write()'s backpressure,
// then ends.
struct led_producer {
  led_producer(loop& lp, std::shared_ptr<writable<std::string>> writer, std::size_t count,
               const std::vector<std::string>& sink, std::size_t ahead)
      : l(lp), w(std::move(writer)), n(count), got(sink), lead(ahead) {}
  loop& l;
  std::shared_ptr<writable<std::string>> w;
  std::size_t n;
  const std::vector<std::string>& got;
  std::size_t lead;
  std::size_t next = 0;
  std::optional<std::error_code> ended;
  timer t;

  void run() {
    while (next < n && next < got.size() + lead) {
      if (!w->write(item(next++))) {
        if (next < n) w->once_drain([this] { run(); });
        break;
      }
    }
    if (next == n) {
      if (!ended && !w->ended()) w->end([this](std::error_code ec) { ended = ec; });
      return;
    }
    if (!w->need_drain()) t = l.start_timer(2ms, [this] { run(); });
  }
};

// Restarts a killed server when the test ends, passed or not, so later tests have three. The
// test's streams go first: a server that comes back to a stream must catch up with it before
// it is healthy, one that comes back to none is healthy as soon as it rejoined.
struct restart_at_exit {
  jetstream_test::jetstream_fixture& f;
  int n = 0;
  ~restart_at_exit() {
    f.delete_streams();
    if (n != 0 && jetstream_test::cluster("restart", n) != 0)
      ADD_FAILURE() << "could not restart server s" << n;
  }
};

// writer → cluster → reader → sink, and the server both clients are connected to is killed
// in the middle: libnats reconnects to another, publishes lost with it are retried (the stream
// drops what it had by message ID), deliveries and acknowledgements lost with it come again,
// and the sink gets every item once, in order.
TEST_F(JetStreamCluster, APipelineGoesOnWhenAServerIsKilled) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  const std::string stream_leader = stream_info(stream_name()).leader;
  jetstream_reader_options ro{.stream = stream_name(),
                              .consumer = "c",
                              .ack_wait = 1s,
                              .fetch_wait = 100ms,
                              .ordered = true,
                              .high_water_mark = 64};
  // Make the consumer, and find its leader: the server to kill leads neither (an election
  // takes seconds); it is the one the clients talk to.
  std::string consumer_leader;
  {
    auto r0 = make_jetstream_reader<std::string>(loop, nats, ro);
    track(r0);
    ASSERT_TRUE(run_until(
        [&] {
          std::optional<bool> found;
          get_consumer_info(
              loop, nats, stream_name(), "c",
              [&](std::error_code ec, const std::string&, jetstream_consumer_info ci) {
                found = !ec;
                consumer_leader = ci.leader;
              });
          run_until([&] { return found.has_value(); });
          return found.value_or(false);
        },
        10s));
    r0->destroy();
  }
  // Best a server that leads nothing at all: one that leads the meta group takes its
  // followers an election, and itself longer to come back.
  const std::string meta = jetstream_test::meta_leader();
  int victim = 0;
  for (const bool spare_meta : {true, false}) {
    for (int n = 1; n <= 3 && victim == 0; ++n) {
      const std::string s = "s" + std::to_string(n);
      if (s != stream_leader && s != consumer_leader && !(spare_meta && s == meta)) victim = n;
    }
  }
  ASSERT_NE(victim, 0);
  jetstream_options via = nats;
  via.urls = jetstream_test::server_url(victim);
  for (int n = 1; n <= 3; ++n)
    if (n != victim) via.urls += "," + jetstream_test::server_url(n);
  via.randomize = false;
  via.reconnect_wait = 100ms;

  constexpr std::size_t n = 8000;
  auto w = make_jetstream_writer<std::string>(loop, via,
                                              {.subject = subject(),
                                               .max_pending = 64,
                                               .ack_timeout = 1s,
                                               .ordered = true,
                                               .max_attempts = 30,
                                               .backoff_base = 20ms,
                                               .backoff_max = 200ms});
  track(w);
  std::vector<std::string> got;
  auto r = make_jetstream_reader<std::string>(loop, via, ro);
  track(r);
  r->pipe(track(make_acknowledging_writer(collector(loop, got, 64))));
  led_producer p(loop, w, n, got, 1500);
  p.run();
  // Kill it while both are busy: publishes, fetches and acknowledgements in flight.
  ASSERT_TRUE(run_until([&] { return got.size() >= 1500; }, 10s));
  const std::size_t written_at_kill = p.next;
  restart_at_exit restart{*this, victim};
  // (From another thread, while the loop runs on: a kill from the loop thread would wait for
  // the script, and meanwhile libnats would deliver every acknowledgement in flight.)
  std::optional<int> killed;
  std::thread killer([&] { killed = jetstream_test::cluster("kill", victim); });
  run_until([&] { return got.size() >= 1800; }, 1s);
  killer.join();
  ASSERT_EQ(killed, 0);
  ASSERT_TRUE(run_until([&] { return got.size() >= n && p.ended.has_value(); }, 30s))
      << got.size() << " of " << n << " read; writer: " << w->error_message() << " "
      << w->stats().acked << " acknowledged; reader: " << r->error_message();
  ASSERT_FALSE(*p.ended) << w->error_message();
  run_for(200ms);
  const jetstream_writer_stats ws = w->stats();
  const jetstream_reader_stats rs = r->stats();
  EXPECT_EQ(got.size(), n);
  for (std::size_t i = 0; i < std::min(n, got.size()); ++i)
    ASSERT_EQ(got[i], item(i)) << "at " << i << "; reader: " << rs.redelivered << " redelivered, "
                               << rs.duplicates << " duplicates dropped, " << rs.held_back
                               << " held back; writer " << ws.retries << " retries, "
                               << ws.duplicates << " duplicates";
  EXPECT_LT(written_at_kill, n / 2);  // the writer went on writing through the failure
  std::cout << "[ INFO     ] killed s" << victim << " (meta leader " << meta << ") after "
            << written_at_kill << " items written: writer " << ws.retries << " retries in "
            << ws.retry_rounds << " rounds, " << ws.duplicates << " duplicates; reader "
            << rs.redelivered << " redelivered, " << rs.duplicates << " duplicates dropped, "
            << rs.held_back << " held back\n";
  EXPECT_EQ(stream_info(stream_name()).messages, n);  // once each
  r->destroy();
}

}  // namespace
