// buffered_writer and validating_writer (sluice/sinks/): exact event order on a manual_loop
// against recording destinations that complete when the test says so, and real files.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/io/file.hpp"
#include "sluice/sinks/buffered_writer.hpp"
#include "sluice/sinks/validating_writer.hpp"
#include "support/temp_files.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::buffer;
using sluice::errc;
using sluice::manual_loop;
using sluice::writable;

// A cause no stream would make up: an error must reach the user unchanged.
std::error_code disk_full() { return std::make_error_code(std::errc::no_space_on_device); }

std::string code(std::error_code ec) { return ec ? ec.message() : std::string("ok"); }

// What happened, in order.
using log_t = std::vector<std::string>;

// A destination that records every hook call ("write x", "writev a|b|c", "final", "destroy")
// and holds write completions until the test releases them.
template <class T>
struct recorder {
  using wcb = typename writable<T>::write_callback;
  log_t calls;
  std::deque<wcb> held;
  bool hold = true;

  void complete(std::error_code ec = {}) {
    ASSERT_FALSE(held.empty());
    const wcb cb = held.front();
    held.pop_front();
    cb(ec);
  }
};

std::string text(const buffer& b) { return b.to_string(); }
std::string text(const std::string& s) { return s; }

template <class T>
std::shared_ptr<writable<T>> make_dest(manual_loop& loop, const std::shared_ptr<recorder<T>>& r,
                                       std::optional<std::size_t> hwm = {}) {
  using wcb = typename writable<T>::write_callback;
  sluice::writable_spec<T> spec;
  spec.high_water_mark = hwm;
  spec.write = [r](writable<T>&, T&& x, wcb cb) {
    r->calls.push_back("write " + text(x));
    if (r->hold)
      r->held.push_back(cb);
    else
      cb();
  };
  spec.writev = [r](writable<T>&, std::vector<T>& xs, wcb cb) {
    std::string s;
    for (const auto& x : xs) s += (s.empty() ? "" : "|") + text(x);
    r->calls.push_back("writev " + s);
    if (r->hold)
      r->held.push_back(cb);
    else
      cb();
  };
  spec.final = [r](writable<T>&, sluice::callback cb) {
    r->calls.emplace_back("final");
    cb({});
  };
  spec.destroy = [r](writable<T>&, std::error_code ec, sluice::callback cb) {
    r->calls.push_back("destroy " + code(ec));
    cb(ec);
  };
  (void)loop;
  return sluice::make_writable<T>(loop, std::move(spec));
}

// Logs 'drain', 'finish', 'error' and 'close'.
template <class T>
void track(writable<T>& s, log_t& log) {
  s.on_drain([&log] { log.emplace_back("drain"); });
  s.on_finish([&log] { log.emplace_back("finish"); });
  s.on_error([&log](std::error_code ec) { log.push_back("error " + code(ec)); });
  s.on_close([&log] { log.emplace_back("close"); });
}

template <class T>
sluice::callback logged(log_t& log, std::string label) {
  return [&log, label](std::error_code ec) { log.push_back("cb " + label + " " + code(ec)); };
}

// ---- buffered_writer ------------------------------------------------------------------------

struct buffered_fixture {
  manual_loop loop;
  std::shared_ptr<recorder<buffer>> rec = std::make_shared<recorder<buffer>>();
  std::shared_ptr<writable<buffer>> dest = make_dest<buffer>(loop, rec);
  log_t log;

  std::shared_ptr<sluice::buffered_writer> make(sluice::buffered_writer_options o) {
    auto w = sluice::make_buffered_writer(loop, dest, std::move(o));
    track(*w, log);
    loop.run_until_idle();  // constructed
    return w;
  }
  bool write(sluice::buffered_writer& w, const std::string& s) {
    return w.write(buffer::copy_of(s), logged<buffer>(log, s));
  }
};

TEST(BufferedWriter, OneGatherWritePerFlushAndCallbacksOnlyOnceAccepted) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 1h});
  EXPECT_TRUE(f.write(*w, "a"));
  EXPECT_TRUE(f.write(*w, "b"));
  EXPECT_TRUE(f.write(*w, "c"));
  f.loop.run_until_idle();
  EXPECT_TRUE(f.rec->calls.empty());  // gathered, nothing handed over yet
  EXPECT_EQ(w->pending_bytes(), 3U);
  EXPECT_EQ(w->writable_length(), 3U);  // accepted, still counted
  w->flush(logged<buffer>(f.log, "flush"));
  EXPECT_EQ(f.rec->calls, (log_t{"writev a|b|c"}));
  EXPECT_EQ(w->pending_bytes(), 0U);
  EXPECT_EQ(w->writable_length(), 3U);  // until the destination has them
  f.loop.run_until_idle();
  EXPECT_TRUE(f.log.empty());  // the destination has not accepted them: no callback yet
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb b ok", "cb c ok", "cb flush ok"}));
  EXPECT_EQ(w->flush_count(), 1U);
  EXPECT_EQ(w->bytes_flushed(), 3U);
  EXPECT_EQ(w->writable_length(), 0U);
  // A second round is a second single gather write.
  f.write(*w, "d");
  f.write(*w, "e");
  w->flush();
  EXPECT_EQ(f.rec->calls, (log_t{"writev a|b|c", "writev d|e"}));
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(w->flush_count(), 2U);
}

TEST(BufferedWriter, FlushWithNothingPendingCompletesOnALaterTick) {
  buffered_fixture f;
  auto w = f.make({.flush_interval = 1h});
  w->flush(logged<buffer>(f.log, "flush"));
  EXPECT_TRUE(f.log.empty());  // never from within flush()
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb flush ok"}));
  EXPECT_TRUE(f.rec->calls.empty());
}

TEST(BufferedWriter, FlushesOnSizeWithoutAnyTimer) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 4, .flush_interval = 0s});
  EXPECT_TRUE(f.write(*w, "ab"));
  EXPECT_TRUE(f.write(*w, "c"));
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.loop.advance(1h);
  EXPECT_TRUE(f.rec->calls.empty());  // no timer: below buffer_size it waits
  EXPECT_TRUE(f.write(*w, "d"));      // 4 bytes: goes at once, from within write()
  EXPECT_EQ(f.rec->calls, (log_t{"writev ab|c|d"}));
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb ab ok", "cb c ok", "cb d ok"}));
  // A single write of buffer_size or more goes alone, at once.
  f.write(*w, "efghij");
  EXPECT_EQ(f.rec->calls.back(), "write efghij");
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(w->flush_count(), 2U);
  EXPECT_EQ(w->bytes_flushed(), 10U);
}

TEST(BufferedWriter, SizeFlushCancelsTheBuffersTimer) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 4, .flush_interval = 100ms});
  f.write(*w, "ab");
  EXPECT_EQ(f.loop.timer_count(), 1U);
  f.loop.advance(10ms);
  f.write(*w, "cd");
  EXPECT_EQ(f.rec->calls, (log_t{"writev ab|cd"}));
  EXPECT_EQ(f.loop.timer_count(), 0U);  // that buffer is gone: its timer with it
  f.rec->complete();
  f.loop.advance(200ms);
  EXPECT_EQ(f.rec->calls.size(), 1U);
}

TEST(BufferedWriter, IntervalCountsFromTheFirstByteOfTheBuffer) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 100ms});
  EXPECT_EQ(f.loop.timer_count(), 0U);  // idle: no timer
  f.loop.advance(30ms);
  f.write(*w, "a");  // t = 30ms: the buffer's first byte
  EXPECT_EQ(f.loop.timer_count(), 1U);
  f.loop.advance(20ms);
  f.write(*w, "b");  // t = 50ms: same buffer, same timer
  EXPECT_EQ(f.loop.timer_count(), 1U);
  f.loop.advance(79ms);  // t = 129ms
  EXPECT_TRUE(f.rec->calls.empty());
  f.loop.advance(1ms);  // t = 130ms: 100ms after "a"
  EXPECT_EQ(f.rec->calls, (log_t{"writev a|b"}));
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb b ok"}));
  f.loop.advance(1s);  // idle again: nothing armed, nothing written
  EXPECT_EQ(f.loop.timer_count(), 0U);
  EXPECT_EQ(f.rec->calls.size(), 1U);
  f.write(*w, "c");  // t = 1130ms
  f.loop.advance(99ms);
  EXPECT_EQ(f.rec->calls.size(), 1U);
  f.loop.advance(1ms);  // t = 1230ms
  EXPECT_EQ(f.rec->calls.back(), "write c");
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.loop.timer_count(), 0U);
}

TEST(BufferedWriter, IntervalOfABufferFilledDuringAFlushCountsFromItsFirstByte) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 100ms});
  f.write(*w, "a");
  w->flush();  // t = 0: "a" in flight, the timer gone
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.loop.advance(40ms);
  f.write(*w, "b");  // t = 40ms: first byte of the next buffer
  EXPECT_EQ(f.loop.timer_count(), 1U);
  f.loop.advance(100ms);  // t = 140ms: due, but "a" is still in flight
  EXPECT_EQ(f.rec->calls, (log_t{"write a"}));
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.loop.advance(10ms);
  f.rec->complete();  // t = 150ms: "b" goes right after, no new wait
  EXPECT_EQ(f.rec->calls, (log_t{"write a", "write b"}));
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb b ok"}));
  EXPECT_EQ(f.loop.timer_count(), 0U);
}

TEST(BufferedWriter, IdleWriterLetsTheLoopRunOut) {
  buffered_fixture f;
  f.rec->hold = false;
  auto w = f.make({.buffer_size = 100, .flush_interval = 50ms});
  EXPECT_EQ(f.loop.run(), 0U);  // returns at once: nothing armed
  f.write(*w, "a");
  EXPECT_EQ(f.loop.run(), 1U);  // the buffer's timer, then nothing
  EXPECT_EQ(f.rec->calls, (log_t{"write a"}));
  EXPECT_EQ(f.log, (log_t{"cb a ok"}));
  EXPECT_EQ(f.loop.now().time_since_epoch(), 50ms);
  EXPECT_EQ(f.loop.timer_count(), 0U);
}

TEST(BufferedWriter, FullBufferWaitsForTheFlushInFlightThenGoesAtOnce) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 4, .flush_interval = 1h});
  EXPECT_EQ(w->writable_high_water_mark(), 8U);  // default: two buffers
  f.write(*w, "ab");
  w->flush();
  EXPECT_TRUE(f.write(*w, "cd"));
  EXPECT_TRUE(f.write(*w, "ef"));  // 4 bytes pending while "ab" is with the destination
  EXPECT_EQ(f.rec->calls, (log_t{"write ab"}));
  EXPECT_EQ(w->pending_bytes(), 4U);
  f.rec->complete();
  EXPECT_EQ(f.rec->calls, (log_t{"write ab", "writev cd|ef"}));  // no timer needed
  f.write(*w, "g");                                              // below buffer_size: stays
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.rec->calls.size(), 2U);
  EXPECT_EQ(w->pending_bytes(), 1U);
  EXPECT_EQ(f.log, (log_t{"cb ab ok", "cb cd ok", "cb ef ok"}));
  EXPECT_EQ(f.loop.timer_count(), 1U);  // "g"'s
}

TEST(BufferedWriter, BackpressureAndDrain) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 4, .flush_interval = 1h});
  EXPECT_TRUE(f.write(*w, "ab"));
  EXPECT_TRUE(f.write(*w, "cd"));   // size: flushed at once
  EXPECT_TRUE(f.write(*w, "ef"));   // 6 of 8
  EXPECT_FALSE(f.write(*w, "gh"));  // 8: wait for 'drain'
  EXPECT_TRUE(w->need_drain());
  EXPECT_EQ(f.rec->calls, (log_t{"writev ab|cd"}));
  f.rec->complete();
  EXPECT_EQ(f.rec->calls, (log_t{"writev ab|cd", "writev ef|gh"}));
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb ab ok", "cb cd ok"}));  // no drain: ef|gh not yet accepted
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb ab ok", "cb cd ok", "drain", "cb ef ok", "cb gh ok"}));
  EXPECT_EQ(w->counters().write_backpressure, 1U);
  EXPECT_EQ(w->counters().drains, 1U);
  EXPECT_FALSE(w->need_drain());
}

TEST(BufferedWriter, AProducerWaitingForDrainNeverWaitsForTheTimer) {
  buffered_fixture f;
  // highWaterMark below buffer_size, no timer: 'drain' would never come if a write returning
  // false did not start a flush.
  auto w = f.make({.buffer_size = 100, .flush_interval = 0s, .high_water_mark = 4});
  EXPECT_TRUE(f.write(*w, "ab"));
  EXPECT_TRUE(f.rec->calls.empty());
  EXPECT_FALSE(f.write(*w, "cd"));
  EXPECT_EQ(f.rec->calls, (log_t{"writev ab|cd"}));
  EXPECT_FALSE(f.write(*w, "e"));  // still waiting: goes right after the flush in flight
  f.rec->complete();
  EXPECT_EQ(f.rec->calls, (log_t{"writev ab|cd", "write e"}));
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb ab ok", "cb cd ok", "drain", "cb e ok"}));
}

TEST(BufferedWriter, FlushDuringAFlushCoversTheNextOne) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 1h});
  f.write(*w, "a");
  w->flush(logged<buffer>(f.log, "f1"));
  f.write(*w, "b");
  w->flush(logged<buffer>(f.log, "f2"));
  EXPECT_EQ(f.rec->calls, (log_t{"write a"}));  // one flush in flight at a time
  f.rec->complete();
  EXPECT_EQ(f.rec->calls, (log_t{"write a", "write b"}));
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb f1 ok"}));
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb f1 ok", "cb b ok", "cb f2 ok"}));
}

TEST(BufferedWriter, FlushOfCorkedWritesWaitsForUncork) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 1h});
  w->cork();
  f.write(*w, "a");
  f.write(*w, "b");
  w->flush(logged<buffer>(f.log, "flush"));
  EXPECT_TRUE(f.rec->calls.empty());
  w->uncork();
  EXPECT_EQ(f.rec->calls, (log_t{"writev a|b"}));
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb b ok", "cb flush ok"}));
}

TEST(BufferedWriter, DestinationErrorReachesEveryUnacknowledgedWriteAndTheStream) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 1h});
  f.write(*w, "a");
  f.write(*w, "b");
  w->flush(logged<buffer>(f.log, "flush"));
  f.write(*w, "c");  // pending behind the flush
  f.loop.run_until_idle();
  f.rec->complete(disk_full());
  f.loop.run_until_idle();
  const std::string e = code(disk_full());
  EXPECT_EQ(f.log,
            (log_t{"cb a " + e, "cb b " + e, "cb c " + e, "cb flush " + e, "error " + e, "close"}));
  EXPECT_EQ(w->errored(), disk_full());
  EXPECT_NE(w->error_message().find("flush to"), std::string::npos) << w->error_message();
  EXPECT_EQ(w->bytes_flushed(), 0U);
  EXPECT_TRUE(f.dest->destroyed());
  EXPECT_EQ(f.loop.timer_count(), 0U);  // "c"'s timer went with the writer
}

TEST(BufferedWriter, ErrorOfALaterFlushFailsOnlyWhatWasNotAcknowledged) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 1h});
  f.write(*w, "a");
  w->flush();
  f.write(*w, "b");
  w->flush();
  f.rec->complete();  // "a" acknowledged; "b" goes
  f.rec->complete(disk_full());
  f.loop.run_until_idle();
  const std::string e = code(disk_full());
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb b " + e, "error " + e, "close"}));
  EXPECT_EQ(w->bytes_flushed(), 1U);
}

TEST(BufferedWriter, EndFlushesTheRestThenEndsTheDestination) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 50ms});
  f.write(*w, "a");
  f.write(*w, "b");
  w->end(logged<buffer>(f.log, "end"));
  EXPECT_EQ(f.rec->calls, (log_t{"writev a|b"}));
  EXPECT_EQ(f.loop.timer_count(), 0U);
  EXPECT_FALSE(f.dest->ended());  // not before the last flush is accepted
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.rec->calls, (log_t{"writev a|b", "final", "destroy ok"}));  // its autoDestroy
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb b ok", "cb end ok", "finish", "close"}));
  EXPECT_TRUE(f.dest->finished());
  // After end(): write_after_end, through the callback and the stream.
  EXPECT_FALSE(f.write(*w, "late"));
  f.loop.run_until_idle();
  EXPECT_EQ(f.log.back(), "cb late " + code(errc::write_after_end));
  // flush() after 'finish': nothing is pending, it succeeds (on a later tick).
  std::error_code flushed = errc::aborted;
  w->flush([&flushed](std::error_code ec) { flushed = ec; });
  EXPECT_EQ(flushed, errc::aborted);
  f.loop.run_until_idle();
  EXPECT_FALSE(flushed);
}

TEST(BufferedWriter, EndWithFlushInFlightWaitsForIt) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 1h});
  f.write(*w, "a");
  w->flush();
  f.write(*w, "b");
  w->end(logged<buffer>(f.log, "end"));
  EXPECT_EQ(f.rec->calls, (log_t{"write a"}));
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.rec->complete();
  EXPECT_EQ(f.rec->calls, (log_t{"write a", "write b"}));
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb b ok", "cb end ok", "finish", "close"}));
}

TEST(BufferedWriter, EndWithNothingPendingEndsTheDestination) {
  buffered_fixture f;
  auto w = f.make({.flush_interval = 0s});
  w->end(logged<buffer>(f.log, "end"));
  f.loop.run_until_idle();
  EXPECT_EQ(f.rec->calls, (log_t{"final", "destroy ok"}));
  EXPECT_EQ(f.log, (log_t{"cb end ok", "finish", "close"}));
  EXPECT_EQ(w->flush_count(), 0U);
}

TEST(BufferedWriter, EndDestinationFalseLeavesItOpen) {
  buffered_fixture f;
  auto w = f.make({.flush_interval = 1h, .end_destination = false});
  f.write(*w, "a");
  w->end();
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_TRUE(w->finished());
  EXPECT_FALSE(f.dest->ended());
  w->destroy();
  f.loop.run_until_idle();
  EXPECT_FALSE(f.dest->destroyed());
}

TEST(BufferedWriter, ZeroIntervalFlushesOnFlushAndEndOnly) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 0s});
  f.write(*w, "a");
  f.write(*w, "b");
  f.loop.advance(1h);
  EXPECT_TRUE(f.rec->calls.empty());
  EXPECT_EQ(f.loop.timer_count(), 0U);
  w->flush();
  EXPECT_EQ(f.rec->calls, (log_t{"writev a|b"}));
  f.write(*w, "c");
  w->end();
  f.rec->complete();
  EXPECT_EQ(f.rec->calls, (log_t{"writev a|b", "write c"}));
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb b ok", "cb c ok", "finish", "close"}));
  EXPECT_EQ(w->flush_count(), 2U);
}

TEST(BufferedWriter, FlushBeforeConstructionRunsOnceConstructed) {
  manual_loop loop;
  auto rec = std::make_shared<recorder<buffer>>();
  rec->hold = false;
  auto w = sluice::make_buffered_writer(loop, make_dest<buffer>(loop, rec), {.flush_interval = 1h});
  w->write(buffer::copy_of("a"));
  bool flushed = false;
  w->flush([&flushed](std::error_code ec) { flushed = !ec; });
  loop.run_until_idle();
  EXPECT_TRUE(flushed);
  EXPECT_EQ(rec->calls, (log_t{"write a"}));
  EXPECT_EQ(loop.timer_count(), 0U);
}

TEST(BufferedWriter, DestroyIdle) {
  buffered_fixture f;
  auto w = f.make({.flush_interval = 10ms});
  w->destroy();
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.loop.advance(10ms);
  EXPECT_EQ(f.log, (log_t{"close"}));
  EXPECT_TRUE(f.dest->destroyed());
}

TEST(BufferedWriter, DestroyWithBufferedWritesFailsThemAndWritesNothing) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 10ms});
  f.write(*w, "a");
  f.write(*w, "b");
  w->flush(logged<buffer>(f.log, "flush"));  // goes at once: a|b in flight
  f.write(*w, "c");
  EXPECT_EQ(f.loop.timer_count(), 1U);  // "c"'s
  w->destroy();
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.loop.advance(20ms);
  const std::string d = code(errc::stream_destroyed);
  EXPECT_EQ(f.log, (log_t{"cb a " + d, "cb b " + d, "cb c " + d, "cb flush " + d, "close"}));
  // The destination's late completion changes nothing (no second callback, no error).
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log.size(), 5U);
  EXPECT_EQ(f.rec->calls, (log_t{"writev a|b", "destroy ok"}));
}

TEST(BufferedWriter, DestroyWithOnlyBufferedWrites) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 10ms});
  f.write(*w, "a");
  w->destroy(disk_full());
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.loop.advance(20ms);
  const std::string e = code(disk_full());
  EXPECT_EQ(f.log, (log_t{"cb a " + e, "error " + e, "close"}));
  EXPECT_EQ(f.rec->calls, (log_t{"destroy " + e}));  // nothing was written
}

TEST(BufferedWriter, DestroyWhileEnding) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 10ms, .end_destination = false});
  f.write(*w, "a");
  w->end(logged<buffer>(f.log, "end"));  // "a" in flight
  w->destroy();
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.loop.run_until_idle();
  const std::string d = code(errc::stream_destroyed);
  EXPECT_EQ(f.log, (log_t{"cb a " + d, "cb end " + d, "close"}));
  f.rec->complete();  // late: ignored, and the destination is left alone
  f.loop.run_until_idle();
  EXPECT_EQ(f.log.size(), 3U);
  EXPECT_FALSE(f.dest->ended());
}

TEST(BufferedWriter, DestroyFromAWriteCallback) {
  buffered_fixture f;
  auto w = f.make({.buffer_size = 100, .flush_interval = 10ms});
  w->write(buffer::copy_of("a"), [&](std::error_code) { w->destroy(); });
  w->flush(logged<buffer>(f.log, "flush"));
  f.write(*w, "b");
  f.rec->complete();
  EXPECT_EQ(f.loop.timer_count(), 0U);
  f.loop.run_until_idle();
  const std::string d = code(errc::stream_destroyed);
  EXPECT_EQ(f.log, (log_t{"cb b " + d, "cb flush " + d, "close"}));
  EXPECT_EQ(f.rec->calls, (log_t{"write a", "destroy ok"}));
}

TEST(BufferedWriter, DestinationFailingOnItsOwnFailsTheWriterWithItsCause) {
  manual_loop loop;
  sluice::test::temp_dir dir;
  auto file = sluice::make_file_writer(loop, dir / "no-such-dir" / "out.txt");
  auto w = sluice::make_buffered_writer(loop, file, {.flush_interval = 1h});
  log_t log;
  track(*w, log);
  w->write(buffer::copy_of("x"), logged<buffer>(log, "x"));
  loop.run();
  const std::string e = code(std::make_error_code(std::errc::no_such_file_or_directory));
  EXPECT_EQ(log, (log_t{"cb x " + e, "error " + e, "close"}));
  EXPECT_EQ(loop.timer_count(), 0U);
}

TEST(BufferedWriter, InFrontOfAFileWriter) {
  manual_loop loop;
  sluice::test::temp_dir dir;
  auto file = sluice::make_file_writer(loop, dir / "out.txt");
  auto w = sluice::make_buffered_writer(loop, file, {.buffer_size = 1024, .flush_interval = 1h});
  std::string expected;
  int acked = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    expected += line;
    w->write(buffer::copy_of(line), [&acked](std::error_code ec) { acked += ec ? 0 : 1; });
  }
  bool finished = false;
  w->end([&finished](std::error_code ec) { finished = !ec; });
  loop.run();
  EXPECT_TRUE(finished);
  EXPECT_EQ(acked, 100);
  EXPECT_EQ(w->flush_count(), 1U);  // 100 writes, one gather write
  EXPECT_EQ(sluice::test::read_file(dir / "out.txt"), expected);
  EXPECT_EQ(file->counters().chunks_in, 100U);
}

// ---- validating_writer ----------------------------------------------------------------------

using str = std::string;

// Valid: a non-empty string not starting with "bad".
std::optional<std::string> check_item(const str& s) {
  if (s.empty()) return "empty";
  if (s.rfind("bad", 0) == 0) return "bad prefix";
  return std::nullopt;
}

struct validating_fixture {
  manual_loop loop;
  std::shared_ptr<recorder<str>> rec = std::make_shared<recorder<str>>();
  std::shared_ptr<writable<str>> dest = make_dest<str>(loop, rec);
  std::shared_ptr<recorder<str>> rej_rec = std::make_shared<recorder<str>>();
  log_t log;

  std::shared_ptr<sluice::validating_writer<str>> make(sluice::validating_writer_options<str> o) {
    if (!o.validator) o.validator = check_item;
    auto w = sluice::make_validating_writer<str>(loop, dest, std::move(o));
    track(*w, log);
    loop.run_until_idle();
    return w;
  }
  bool write(sluice::validating_writer<str>& w, const str& s) {
    return w.write(s, logged<str>(log, s.empty() ? "<empty>" : s));
  }
};

TEST(ValidatingWriter, ValidItemsGoInOrderAndCompleteWithTheDestination) {
  validating_fixture f;
  auto w = f.make({});
  f.write(*w, "a");
  f.write(*w, "b");
  f.loop.run_until_idle();
  EXPECT_EQ(f.rec->calls, (log_t{"write a"}));  // one at a time
  EXPECT_TRUE(f.log.empty());                   // not before the destination completed
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok"}));
  EXPECT_EQ(f.rec->calls, (log_t{"write a", "write b"}));
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb b ok"}));
  EXPECT_EQ(w->counts().valid, 2U);
  EXPECT_EQ(w->counts().invalid, 0U);
}

TEST(ValidatingWriter, FailNamesTheItemIndexAndReason) {
  validating_fixture f;
  f.rec->hold = false;
  auto w = f.make({.on_invalid = sluice::invalid_policy::fail});
  f.write(*w, "a");
  f.write(*w, "");
  f.write(*w, "c");
  f.loop.run_until_idle();
  const std::string e = code(errc::invalid_argument);
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb <empty> " + e, "cb c " + e, "error " + e, "close"}));
  EXPECT_EQ(w->errored(), errc::invalid_argument);
  EXPECT_EQ(w->error_message().rfind("invalid item 1: empty", 0), 0U) << w->error_message();
  EXPECT_EQ(f.rec->calls, (log_t{"write a", "destroy " + e}));  // "c" never reached it
  EXPECT_EQ(w->counts().invalid, 1U);
  EXPECT_EQ(w->recent_rejections(), (std::vector<sluice::rejection>{{1, "empty"}}));
}

TEST(ValidatingWriter, SkipDropsAndCounts) {
  validating_fixture f;
  f.rec->hold = false;
  auto w = f.make({.on_invalid = sluice::invalid_policy::skip});
  for (const char* s : {"a", "", "bad1", "d"}) f.write(*w, s);
  f.loop.run_until_idle();
  EXPECT_EQ(f.rec->calls, (log_t{"write a", "write d"}));
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb <empty> ok", "cb bad1 ok", "cb d ok"}));
  EXPECT_EQ(w->counts().valid, 2U);
  EXPECT_EQ(w->counts().invalid, 2U);
  EXPECT_EQ(w->counts().skipped, 2U);
  EXPECT_EQ(w->recent_rejections(),
            (std::vector<sluice::rejection>{{1, "empty"}, {2, "bad prefix"}}));
}

TEST(ValidatingWriter, DivertWaitsForTheRejectsCallbackAndItsDrain) {
  validating_fixture f;
  auto rejects = make_dest<str>(f.loop, f.rej_rec, 1);
  auto w = f.make({.on_invalid = sluice::invalid_policy::divert, .rejects = rejects});
  f.write(*w, "bad1");                    // rejects' write() returns false: it is full
  EXPECT_FALSE(rejects->write("other"));  // someone else's write, queued behind ours
  EXPECT_EQ(f.rej_rec->calls, (log_t{"write bad1"}));
  f.rej_rec->complete();  // bad1 done, but rejects still holds "other": no drain yet
  f.loop.run_until_idle();
  EXPECT_TRUE(f.log.empty());
  f.rej_rec->complete();  // "other" done: drain
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb bad1 ok"}));
  EXPECT_EQ(rejects->drain_listener_count(), 0U);
  EXPECT_EQ(w->counts().diverted, 1U);
  EXPECT_TRUE(f.rec->calls.empty());
}

TEST(ValidatingWriter, DestroyWhileWaitingForRejectsDrain) {
  validating_fixture f;
  auto rejects = make_dest<str>(f.loop, f.rej_rec, 1);
  auto w = f.make({.on_invalid = sluice::invalid_policy::divert, .rejects = rejects});
  f.write(*w, "bad1");
  f.write(*w, "b");  // waits behind it
  EXPECT_EQ(rejects->drain_listener_count(), 1U);
  w->destroy();
  f.loop.run_until_idle();
  const std::string d = code(errc::stream_destroyed);
  EXPECT_EQ(f.log, (log_t{"cb bad1 " + d, "cb b " + d, "close"}));
  EXPECT_EQ(rejects->drain_listener_count(), 0U);
  EXPECT_TRUE(rejects->destroyed());
  EXPECT_TRUE(f.dest->destroyed());
  f.rej_rec->complete();  // a late completion is ignored
  f.loop.run_until_idle();
  EXPECT_EQ(f.log.size(), 3U);
}

TEST(ValidatingWriter, LogHandsIndexItemAndReason) {
  validating_fixture f;
  f.rec->hold = false;
  log_t logged_items;
  auto w = f.make({.on_invalid = sluice::invalid_policy::log,
                   .log = [&logged_items](std::size_t i, const str& item, std::string_view why) {
                     logged_items.push_back(std::to_string(i) + " " + item + " " + str(why));
                   }});
  for (const char* s : {"a", "bad1", "c", "bad2"}) f.write(*w, s);
  f.loop.run_until_idle();
  EXPECT_EQ(logged_items, (log_t{"1 bad1 bad prefix", "3 bad2 bad prefix"}));
  EXPECT_EQ(f.rec->calls, (log_t{"write a", "write c"}));
  EXPECT_EQ(w->counts().logged, 2U);
  EXPECT_EQ(f.log.size(), 4U);
}

TEST(ValidatingWriter, ThrowingValidatorMakesTheItemInvalid) {
  validating_fixture f;
  f.rec->hold = false;
  auto w = f.make({.validator = [](const str& s) -> std::optional<std::string> {
                     if (s == "x") throw std::runtime_error("nope");
                     return std::nullopt;
                   },
                   .on_invalid = sluice::invalid_policy::skip});
  f.write(*w, "x");
  f.loop.run_until_idle();
  EXPECT_EQ(w->recent_rejections(), (std::vector<sluice::rejection>{{0, "validator threw: nope"}}));
}

TEST(ValidatingWriter, KeepsTheLastNReasons) {
  validating_fixture f;
  auto w = f.make({.on_invalid = sluice::invalid_policy::skip, .reasons_kept = 2});
  for (const char* s : {"", "bad1", "", "bad2"}) f.write(*w, s);
  f.loop.run_until_idle();
  EXPECT_EQ(w->recent_rejections(),
            (std::vector<sluice::rejection>{{2, "empty"}, {3, "bad prefix"}}));
  EXPECT_EQ(w->counts().invalid, 4U);
}

TEST(ValidatingWriter, OwnBackpressureAndDrain) {
  validating_fixture f;
  auto w = f.make({.high_water_mark = 2});
  EXPECT_TRUE(f.write(*w, "a"));
  EXPECT_FALSE(f.write(*w, "b"));
  f.rec->complete();
  f.loop.run_until_idle();
  f.rec->complete();
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "drain", "cb b ok"}));
  EXPECT_EQ(w->counters().write_backpressure, 1U);
  EXPECT_EQ(w->counters().drains, 1U);
}

TEST(ValidatingWriter, EndEndsDestinationAndRejects) {
  validating_fixture f;
  f.rec->hold = false;
  f.rej_rec->hold = false;
  auto rejects = make_dest<str>(f.loop, f.rej_rec);
  auto w = f.make({.on_invalid = sluice::invalid_policy::divert, .rejects = rejects});
  f.write(*w, "a");
  f.write(*w, "bad1");
  w->end(logged<str>(f.log, "end"));
  f.loop.run_until_idle();
  EXPECT_EQ(f.log, (log_t{"cb a ok", "cb bad1 ok", "cb end ok", "finish", "close"}));
  EXPECT_EQ(f.rec->calls, (log_t{"write a", "final", "destroy ok"}));
  EXPECT_EQ(f.rej_rec->calls, (log_t{"write bad1", "final", "destroy ok"}));
}

TEST(ValidatingWriter, DestroyIdleAndWithAnItemInFlight) {
  {
    validating_fixture f;
    auto w = f.make({});
    w->destroy();
    f.loop.run_until_idle();
    EXPECT_EQ(f.log, (log_t{"close"}));
    EXPECT_TRUE(f.dest->destroyed());
  }
  validating_fixture f;
  auto w = f.make({.end_destination = false});
  f.write(*w, "a");
  w->destroy(disk_full());
  f.loop.run_until_idle();
  const std::string e = code(disk_full());
  EXPECT_EQ(f.log, (log_t{"cb a " + e, "error " + e, "close"}));
  EXPECT_FALSE(f.dest->destroyed());
  f.rec->complete();  // the destination finishes it later: ignored
  f.loop.run_until_idle();
  EXPECT_EQ(f.log.size(), 3U);
}

TEST(ValidatingWriter, DestinationErrorKeepsItsCause) {
  validating_fixture f;
  auto w = f.make({});
  f.write(*w, "a");
  f.write(*w, "b");
  f.rec->complete(disk_full());
  f.loop.run_until_idle();
  const std::string e = code(disk_full());
  EXPECT_EQ(f.log, (log_t{"cb a " + e, "cb b " + e, "error " + e, "close"}));
  EXPECT_EQ(w->error_message(), "write to destination: " + e);
}

TEST(ValidatingWriter, RejectsMissingPolicyTargets) {
  manual_loop loop;
  auto rec = std::make_shared<recorder<str>>();
  auto dest = make_dest<str>(loop, rec);
  EXPECT_THROW(
      (void)sluice::make_validating_writer<str>(
          loop, dest, {.validator = check_item, .on_invalid = sluice::invalid_policy::divert}),
      std::system_error);
  EXPECT_THROW((void)sluice::make_validating_writer<str>(loop, dest, {}), std::system_error);
}

TEST(ValidatingWriter, DivertsBadLinesToARejectsFile) {
  manual_loop loop;
  sluice::test::temp_dir dir;
  auto good = sluice::make_file_writer(loop, dir / "good.txt");
  auto bad = sluice::make_file_writer(loop, dir / "bad.txt");
  auto w = sluice::make_validating_writer<buffer>(
      loop, good,
      {.validator = [](const buffer& b) -> std::optional<std::string> {
         if (b.view().find('=') == std::string_view::npos) return "no '='";
         return std::nullopt;
       },
       .on_invalid = sluice::invalid_policy::divert,
       .rejects = bad});
  for (const char* line : {"a=1\n", "oops\n", "b=2\n", "??\n"}) w->write(buffer::copy_of(line));
  bool finished = false;
  w->end([&finished](std::error_code ec) { finished = !ec; });
  loop.run();
  EXPECT_TRUE(finished);
  EXPECT_EQ(sluice::test::read_file(dir / "good.txt"), "a=1\nb=2\n");
  EXPECT_EQ(sluice::test::read_file(dir / "bad.txt"), "oops\n??\n");
  EXPECT_EQ(w->counts().diverted, 2U);
}

}  // namespace
