// jetstream_writer and jetstream_reader on a real three-node NATS cluster (streams with three
// replicas): a round trip through a durable consumer, the writer's bound on publishes in
// flight, a stream at its limit, and the errors that name what failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "messaging/jetstream_support.hpp"
#include "sluice/compose/operators.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/make.hpp"
#include "sluice/messaging.hpp"

namespace {

using namespace sluice;
using namespace sluice::messaging;
using namespace std::chrono_literals;
using JetStream = jetstream_test::jetstream_fixture;

using jetstream_test::collector;
using jetstream_test::item;
using jetstream_test::producer;

TEST_F(JetStream, RoundTripThroughADurableConsumer) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  constexpr std::size_t n = 10'000;

  auto w =
      make_jetstream_writer<std::string>(loop, nats, {.subject = subject(), .max_pending = 256});
  producer p(w, n);
  p.run();
  ASSERT_TRUE(run_until([&] { return p.ended.has_value(); }, 30s))
      << p.log.results.size() << " acknowledged";
  ASSERT_FALSE(*p.ended) << w->error_message();
  ASSERT_EQ(p.log.results.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_FALSE(p.log.results[i]) << "item " << i;
    ASSERT_EQ(p.log.order[i], i);  // callbacks in write order
  }
  EXPECT_EQ(w->stats().acked, n);
  EXPECT_EQ(w->stats().duplicates, 0u);
  EXPECT_LE(w->stats().peak_in_flight, 256u);
  EXPECT_EQ(stream_info(stream_name()).messages, n);

  // Read it back: reader → map_values (upper case) → acknowledging writer → collector.
  std::vector<std::string> got;
  auto r = make_jetstream_reader<std::string>(
      loop, nats, {.stream = stream_name(), .consumer = "reader", .high_water_mark = 256});
  track(r);
  auto upper = sluice::map(r, map_values([](std::string s) {
                             std::transform(s.begin(), s.end(), s.begin(), ::toupper);
                             return s;
                           }));
  auto sink = track(make_acknowledging_writer(collector(loop, got, 64)));
  std::optional<pipeline_error> done;
  pipeline(upper, sink, [&](const pipeline_error& e) { done = e; });
  ASSERT_TRUE(run_until([&] { return got.size() == n; }, 30s))
      << got.size() << " of " << n << "; reader fetched " << r->stats().fetched << ", handed on "
      << r->stats().handed_on << ", acked " << r->stats().acked << ", asked " << r->stats().asked
      << ", buffered " << r->readable_length() << ", map buffered " << upper->readable_length()
      << ", sink length " << sink->writable_length() << ", errors: " << r->error_message() << " / "
      << sink->error_message();
  r->stop();
  ASSERT_TRUE(run_until([&] { return done.has_value(); }, 10s));
  EXPECT_FALSE(*done) << done->message();
  for (std::size_t i = 0; i < n; ++i) {
    std::string want = item(i);
    std::transform(want.begin(), want.end(), want.begin(), ::toupper);
    ASSERT_EQ(got[i], want);
  }
  EXPECT_EQ(r->stats().acked, n);
  EXPECT_EQ(r->stats().redelivered, 0u);

  const jetstream_consumer_info ci = consumer_info(stream_name(), "reader");
  EXPECT_EQ(ci.num_ack_pending, 0u);
  EXPECT_EQ(ci.num_pending, 0u);
  EXPECT_EQ(ci.ack_floor_stream_sequence, n);
}

// At most max_pending publishes unacknowledged: write() returns false at the bound, the
// writer's in-flight count never passes it, and 'drain' follows the acknowledgements.
TEST_F(JetStream, WriterKeepsAtMostMaxPendingInFlight) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  constexpr std::size_t n = 500;
  auto w = make_jetstream_writer<std::string>(loop, nats, {.subject = subject(), .max_pending = 8});
  track(w);
  // The first 7 writes return true, the 8th false: the bound counts unacknowledged items.
  std::vector<bool> first;
  std::size_t peak = 0;
  producer p(w, n);
  for (std::size_t i = 0; i < 8; ++i) {
    first.push_back(w->write(item(i), [&, i](std::error_code ec) {
      p.log.results.push_back(ec);
      p.log.order.push_back(i);
      peak = std::max(peak, w->stats().in_flight);
    }));
  }
  EXPECT_EQ(first, (std::vector<bool>{true, true, true, true, true, true, true, false}));
  p.next = 8;
  w->once_drain([&] { p.run(); });
  ASSERT_TRUE(run_until(
      [&] {
        peak = std::max(peak, w->stats().in_flight);
        return p.ended.has_value();
      },
      30s))
      << p.log.results.size() << " acknowledged";
  ASSERT_FALSE(*p.ended) << w->error_message();
  ASSERT_EQ(p.log.results.size(), n);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(p.log.order[i], i);
  EXPECT_LE(w->stats().peak_in_flight, 8u);
  EXPECT_LE(peak, 8u);
  EXPECT_GT(p.falses, 0u);
  EXPECT_GT(w->counters().drains, 0u);
  EXPECT_EQ(w->stats().acked, n);
}

// A stream at max_msgs with discard-new refuses the next publish: the writer fails naming the
// subject and the item, every item acknowledged before is in the stream, none after it is.
TEST_F(JetStream, AFullStreamFailsThePublishNamingSubjectAndItem) {
  SLUICE_NEED_NATS();
  auto c = stream_config();
  c.max_msgs = 50;
  c.discard = jetstream_discard::discard_new;
  make_stream(c);
  auto w =
      make_jetstream_writer<std::string>(loop, nats, {.subject = subject(), .max_pending = 16});
  track(w);
  producer p(w, 80);
  p.run();
  // (The producer stops at write()'s false and waits for a 'drain' that does not come.)
  ASSERT_TRUE(run_until([&] { return w->destroyed() && p.log.results.size() == p.next; }, 20s))
      << p.log.results.size() << " callbacks; " << w->stats().acked << " acknowledged; "
      << w->error_message();
  std::size_t ok = 0;
  while (ok < p.next && !p.log.results[ok]) ++ok;
  EXPECT_EQ(ok, 50u);  // items 0..49 acknowledged, in order
  for (std::size_t i = 0; i < p.next; ++i) EXPECT_EQ(p.log.order[i], i);
  for (std::size_t i = ok; i < p.next; ++i)
    EXPECT_EQ(p.log.results[i], jetstream_errc::maximum_messages_exceeded) << i;
  EXPECT_GT(p.next, 50u);
  EXPECT_EQ(w->errored(), jetstream_errc::maximum_messages_exceeded);
  EXPECT_EQ(w->error_message(),
            "jetstream publish to '" + subject() + "' (item 50): maximum messages exceeded");
  // Nothing acknowledged is lost: the stream holds exactly the acknowledged items.
  EXPECT_EQ(stream_info(stream_name()).messages, 50u);
  std::vector<std::string> got;
  auto r = make_jetstream_reader<std::string>(
      loop, nats, {.stream = stream_name(), .consumer = "check", .high_water_mark = 64});
  track(r);
  auto sink = track(make_acknowledging_writer(collector(loop, got)));
  r->pipe(sink);
  ASSERT_TRUE(run_until([&] { return got.size() == 50; }, 10s)) << got.size();
  for (std::size_t i = 0; i < 50; ++i) EXPECT_EQ(got[i], item(i));
  r->destroy();
}

// With a work-queue stream (a message goes once the consumer acknowledged it) and the full
// stream's error made retryable, the writer waits for the consumer instead of failing.
TEST_F(JetStream, AFullStreamWithRetriesWaitsForTheConsumer) {
  SLUICE_NEED_NATS();
  auto c = stream_config();
  c.max_msgs = 20;
  c.discard = jetstream_discard::discard_new;
  c.retention = jetstream_retention::work_queue;
  make_stream(c);
  auto w = make_jetstream_writer<std::string>(
      loop, nats,
      {.subject = subject(),
       .max_pending = 8,
       .ordered = true,
       .max_attempts = 100,
       .backoff_base = 20ms,
       .backoff_max = 100ms,
       .retryable = [](std::error_code ec) {
         return is_transient(ec) || ec == jetstream_errc::maximum_messages_exceeded;
       }});
  track(w);
  producer p(w, 60);
  p.run();
  run_for(300ms);  // no consumer yet: the first 20 are stored, the rest wait
  EXPECT_EQ(stream_info(stream_name()).messages, 20u);
  EXPECT_FALSE(p.ended.has_value());
  EXPECT_GT(w->stats().retries, 0u);
  std::vector<std::string> got;
  auto r = make_jetstream_reader<std::string>(
      loop, nats, {.stream = stream_name(), .consumer = "worker", .high_water_mark = 16});
  track(r);
  r->pipe(track(make_acknowledging_writer(collector(loop, got))));
  ASSERT_TRUE(run_until([&] { return p.ended.has_value() && got.size() == 60; }, 20s))
      << got.size() << " read, " << p.log.results.size() << " acknowledged";
  EXPECT_FALSE(*p.ended) << w->error_message();
  for (std::size_t i = 0; i < 60; ++i) EXPECT_EQ(got[i], item(i));  // ordered: none overtook
  r->destroy();
}

TEST_F(JetStream, APublishWithNoStreamNamesTheSubject) {
  SLUICE_NEED_NATS();
  auto w = make_jetstream_writer<std::string>(
      loop, nats,
      {.subject = "nowhere." + name, .max_attempts = 2, .backoff_base = 10ms, .backoff_max = 10ms});
  track(w);
  std::optional<std::error_code> result;
  w->write("x", [&](std::error_code ec) { result = ec; });
  ASSERT_TRUE(run_until([&] { return result.has_value() && w->destroyed(); }, 10s));
  EXPECT_EQ(*result, jetstream_errc::no_responders);
  EXPECT_EQ(w->error_message(), "jetstream publish to 'nowhere." + name +
                                    "' (item 0) after 2 attempts: no stream takes the subject "
                                    "(no responders)");
}

TEST_F(JetStream, ConnectingToAClosedPortNamesTheURL) {
  SLUICE_NEED_NATS();
  jetstream_options closed = nats;
  closed.urls = "nats://127.0.0.1:1";
  auto w = make_jetstream_writer<std::string>(loop, closed, {.subject = subject()});
  track(w);
  std::optional<std::error_code> result;
  w->write("x", [&](std::error_code ec) { result = ec; });
  ASSERT_TRUE(run_until([&] { return result.has_value() && w->destroyed(); }, 10s));
  EXPECT_EQ(*result, jetstream_errc::connect_failed);
  const std::string m = w->error_message();
  EXPECT_EQ(m.rfind("jetstream connect to nats://127.0.0.1:1: ", 0), 0u) << m;
  EXPECT_NE(m.find("could not connect to a NATS server"), std::string::npos) << m;

  auto r = make_jetstream_reader<std::string>(loop, closed, {.stream = "S", .consumer = "c"});
  track(r);
  std::optional<std::error_code> err;
  r->on_error([&](std::error_code ec) { err = ec; });
  r->resume();
  ASSERT_TRUE(run_until([&] { return err.has_value(); }, 10s));
  EXPECT_EQ(*err, jetstream_errc::connect_failed);
  EXPECT_NE(r->error_message().find("nats://127.0.0.1:1"), std::string::npos) << r->error_message();
}

// The servers stop answering (frozen) with publishes in flight: once the oldest has waited
// ack_timeout, every unanswered publish counts as timed out and goes again in one round with
// the same message ID. When the servers come back, every item is stored exactly once and every
// write succeeds, in order.
TEST_F(JetStream, UnansweredPublishesTimeOutAndGoAgainOnce) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  constexpr std::size_t n = 2000;
  auto w = make_jetstream_writer<std::string>(loop, nats,
                                              {.subject = subject(),
                                               .max_pending = 64,
                                               .ack_timeout = 300ms,
                                               .max_attempts = 100,
                                               .backoff_base = 50ms,
                                               .backoff_max = 200ms});
  track(w);
  producer p(w, n);
  p.run();
  ASSERT_TRUE(run_until([&] { return !p.log.results.empty(); }, 10s));  // connected, flowing
  std::optional<jetstream_writer_stats> while_frozen;
  {
    jetstream_test::frozen_cluster frozen;
    ASSERT_EQ(frozen.frozen(), 3u);
    run_for(1200ms);
    while_frozen = w->stats();
  }
  ASSERT_TRUE(run_until([&] { return p.ended.has_value(); }, 30s))
      << p.log.results.size() << " acknowledged; " << w->error_message();
  ASSERT_FALSE(*p.ended) << w->error_message();
  EXPECT_LT(while_frozen->acked, n);
  EXPECT_GE(while_frozen->retry_rounds, 1u);  // timed out and went again while frozen
  EXPECT_GT(while_frozen->retries, 0u);
  EXPECT_GT(while_frozen->in_flight, 0u);
  EXPECT_LE(while_frozen->in_flight, 64u);  // and no more than max_pending at once
  ASSERT_EQ(p.log.results.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_FALSE(p.log.results[i]) << "item " << i;
    ASSERT_EQ(p.log.order[i], i);
  }
  EXPECT_EQ(stream_info(stream_name()).messages, n);  // once each, retries included
}

// Without retries, an unanswered publish fails the writer with a timeout naming the subject
// and the item, about ack_timeout after it was sent.
TEST_F(JetStream, AnUnansweredPublishFailsAfterAckTimeoutNamingTheItem) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  auto w = make_jetstream_writer<std::string>(
      loop, nats, {.subject = subject(), .ack_timeout = 400ms, .max_attempts = 1});
  track(w);
  std::optional<std::error_code> first, second, err;
  w->on_error([&](std::error_code ec) { err = ec; });
  w->write(item(0), [&](std::error_code ec) { first = ec; });
  ASSERT_TRUE(run_until([&] { return first.has_value(); }, 10s));  // connected, item 0 stored
  ASSERT_FALSE(*first) << w->error_message();
  {
    jetstream_test::frozen_cluster frozen;
    ASSERT_EQ(frozen.frozen(), 3u);
    const auto t0 = std::chrono::steady_clock::now();
    w->write(item(1), [&](std::error_code ec) { second = ec; });
    ASSERT_TRUE(run_until([&] { return err.has_value(); }, 5s));
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(waited, 400ms);
    EXPECT_LT(waited, 3s);
  }
  EXPECT_EQ(*err, jetstream_errc::timeout);
  EXPECT_EQ(second, jetstream_errc::timeout);
  const std::string m = w->error_message();
  EXPECT_NE(m.find("jetstream publish to '" + subject() + "' (item 1)"), std::string::npos) << m;
}

// destroy() with publishes in flight and writes waiting: every write's callback runs exactly
// once (acknowledged ones with success, the others with stream_destroyed), none later.
TEST_F(JetStream, DestroyMidFlightCompletesEachWriteOnce) {
  SLUICE_NEED_NATS();
  make_stream(stream_config());
  auto w = make_jetstream_writer<std::string>(loop, nats, {.subject = subject(), .max_pending = 4});
  track(w);
  std::vector<int> calls(40, 0);
  std::vector<std::error_code> results(40);
  for (std::size_t i = 0; i < 40; ++i) {
    w->write(item(i), [&, i](std::error_code ec) {
      ++calls[i];
      results[i] = ec;
    });
  }
  ASSERT_TRUE(run_until([&] { return w->stats().published > 0; }, 10s));
  w->destroy();
  run_for(300ms);
  std::size_t ok = 0, destroyed = 0;
  for (std::size_t i = 0; i < 40; ++i) {
    EXPECT_EQ(calls[i], 1) << "item " << i;
    if (!results[i])
      ++ok;
    else if (results[i] == sluice::errc::stream_destroyed)
      ++destroyed;
  }
  EXPECT_EQ(ok + destroyed, 40u);
  EXPECT_GT(destroyed, 0u);
  for (std::size_t i = 0; i < 40; ++i) {  // in write order: the successes first
    if (i < ok)
      EXPECT_FALSE(results[i]) << i;
    else
      EXPECT_EQ(results[i], sluice::errc::stream_destroyed) << i;
  }
}

}  // namespace
