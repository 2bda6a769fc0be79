// gzip with its blocks compressed on several threads (make_gzip with threads > 1), for any engine
// (gzip_parallel.hpp).
//
// The input is cut into blocks of block_size bytes. Each block is copied into a slot together
// with the window of input before it (the preset dictionary), compressed on a pool thread into
// raw deflate data ending in a sync flush (the last block: in the final block), and its CRC-32
// computed there too. Back on the loop, blocks are written out in input order after one gzip
// header, and the member ends with the CRC-32 combined from the blocks' and the size. The output
// is one standard gzip member that any gunzip reads; it does not depend on the thread count.
//
// Memory: a stream has at most threads + 1 slots (the block being filled and up to `threads`
// being compressed), each holding a block, its dictionary, its output and an engine. When every
// slot is taken, the write that needs a new one waits (its callback is held) until the oldest
// block has been written out, so a fast writer cannot queue more than that.
//
// Lifetime: a job owns its slot (shared_ptr), never the stream. It hands the slot back with
// loop::post (run_blocking), and the completion goes through a weak_ptr: a stream destroyed, or
// gone, while blocks are in flight just drops them when they come back.
#include <zlib.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>
#include <optional>
#include <thread>
#include <vector>

#include "gzip_parallel.hpp"
#include "sluice/codec/detail/codec_transform.hpp"
#include "sluice/core/detail/io_pool.hpp"
#include "sluice/offload/cpu_pool.hpp"

namespace sluice::detail {

void block_output::reserve_more(std::size_t n) {
  if (capacity - size >= n) return;
  const std::size_t want = std::max(size + n, capacity * 2);
  auto grown = std::make_unique_for_overwrite<std::byte[]>(want);
  if (size != 0) std::memcpy(grown.get(), data.get(), size);
  data = std::move(grown);
  capacity = want;
}

namespace {

// pigz's default block size: large enough that the per-block cost (a sync flush marker, a
// dictionary, a reset) is noise, small enough that threads + 1 slots stay around a MiB or two.
constexpr std::size_t block_size = 128 * 1024;

// The threads that compress blocks: the process-wide CPU pool (sluice/offload/cpu_pool.hpp),
// shared with offload(): one thread per core unless set_cpu_pool_threads() said otherwise (a
// stream asking for more threads gets a deeper queue, not more parallelism). Separate from
// io_pool::shared(), so file reads and writes never wait behind compression.
io_pool& compress_pool() { return sluice::detail::shared_cpu_pool(); }

// One block on its way through: filled on the loop, compressed on a pool thread, written out on
// the loop. Written by one thread at a time; the hand-overs go through the pool's queue and
// loop::post, which order the memory accesses.
struct block_slot {
  enum class state {
    idle,         // free for the next block
    filling,      // taking input on the loop
    compressing,  // on a pool thread
    done,         // compressed, waiting for the blocks before it to be written out
  };

  block_slot(std::size_t dict_capacity, std::unique_ptr<block_compressor> e)
      : dict_cap(dict_capacity),
        in(std::make_unique_for_overwrite<std::byte[]>(dict_capacity + block_size)),
        engine(std::move(e)) {}

  [[nodiscard]] std::span<const std::byte> dictionary() const {
    return {in.get() + dict_cap - dict, dict};
  }
  [[nodiscard]] std::span<const std::byte> block() const { return {in.get() + dict_cap, len}; }
  [[nodiscard]] std::byte* block_data() { return in.get() + dict_cap; }

  // Runs on a pool thread.
  void compress() {
    out.size = 0;
    ok = engine->compress(dictionary(), block(), last, out);
    crc = engine->crc32(0, block());
  }

  const std::size_t dict_cap;
  std::unique_ptr<std::byte[]> in;  // dict_cap bytes for the dictionary (right-aligned), then
                                    // up to block_size bytes of block
  std::unique_ptr<block_compressor> engine;
  block_output out;
  std::size_t dict = 0;      // dictionary bytes
  std::size_t len = 0;       // block bytes
  std::uint64_t offset = 0;  // input offset of the block's first byte
  std::uint32_t crc = 0;
  bool last = false;
  bool ok = false;
  state st = state::idle;
};

class parallel_gzip final : public codec_transform {
 public:
  parallel_gzip(loop& l, const gzip_options& o, unsigned threads, gzip_block_engine engine)
      : codec_transform(l,
                        {o.readable_high_water_mark, o.writable_high_water_mark, true, true, true,
                         o.name.empty() ? std::string("gzip") : o.name},
                        o.chunk_size, o.flush, "gzip"),
        engine_(std::move(engine)),
        dict_cap_(engine_.window),
        slots_(threads + 1) {}

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override {
    in_ = std::move(chunk);
    in_pos_ = 0;
    write_cb_.emplace(cb);
    feed();
  }

  void do_flush(callback cb) override {
    // Every write has completed, so feed() left a block being filled, unless nothing was ever
    // written: then the (empty) first block is taken here, and its slot is free.
    flush_cb_.emplace(std::move(cb));
    if (filling_ == nullptr && !take_slot()) return;
    assert(filling_ != nullptr);
    submit(std::exchange(filling_, nullptr), true);
  }

 private:
  // Copies the current write into blocks, sending each full block off once more input follows
  // it (so only the last block of the stream is ever short, and it is known to be last). Returns
  // with the write's callback held when every slot is taken; on_block_done() calls it again.
  void feed() {
    while (in_pos_ < in_.size()) {
      if (filling_ != nullptr && filling_->len == block_size)
        submit(std::exchange(filling_, nullptr), false);
      // No slot free: the write waits until a block is written out (or making one failed).
      if (filling_ == nullptr && !take_slot()) return;
      const std::size_t n = std::min(in_.size() - in_pos_, block_size - filling_->len);
      std::memcpy(filling_->block_data() + filling_->len, in_.data() + in_pos_, n);
      filling_->len += n;
      in_pos_ += n;
    }
    consumed_ += in_.size();
    in_ = {};
    auto cb = *std::exchange(write_cb_, std::nullopt);
    cb();
  }

  // Makes the next block's slot the one being filled, with its dictionary. Returns false if every
  // slot is taken, or if making one failed (and the stream with it).
  bool take_slot() {
    if (next_block_ - next_emit_ >= slots_.size()) return false;
    auto& s = slots_[next_block_ % slots_.size()];
    if (s == nullptr) {
      try {
        s = std::make_shared<block_slot>(dict_cap_, engine_.make());
      } catch (const std::bad_alloc&) {
        fail_now(std::make_error_code(std::errc::not_enough_memory), placed_);
        return false;
      }
    }
    assert(s->st == block_slot::state::idle);
    s->dict = 0;
    if (next_block_ > 0) {
      // The previous block is full (only the last block is short) and still in its slot: a slot
      // is reused only slots_.size() blocks later.
      const block_slot& prev = *slots_[(next_block_ - 1) % slots_.size()];
      s->dict = std::min(dict_cap_, prev.len);
      std::memcpy(s->in.get() + dict_cap_ - s->dict, prev.block().data() + prev.len - s->dict,
                  s->dict);
    }
    s->len = 0;
    s->offset = placed_;
    s->st = block_slot::state::filling;
    ++next_block_;
    filling_ = s;
    return true;
  }

  void submit(std::shared_ptr<block_slot> s, bool last) {
    s->last = last;
    s->st = block_slot::state::compressing;
    placed_ = s->offset + s->len;
    run_blocking(
        compress_pool(), get_loop(),
        [s] {
          s->compress();
          return true;
        },
        [this, weak = weak_from_this(), s](bool) {
          // The stream may be gone (weak) or destroyed: the block is then dropped with `s`.
          if (const auto alive = weak.lock(); alive != nullptr && !destroyed()) on_block_done(*s);
        });
  }

  // A block came back: writes out every block that is ready, in order, then lets a held write
  // go on or completes the flush.
  void on_block_done(block_slot& done) {
    done.st = block_slot::state::done;
    while (next_emit_ < next_block_) {
      block_slot& s = *slots_[next_emit_ % slots_.size()];
      if (s.st != block_slot::state::done) break;
      if (!s.ok) {
        fail_now(make_error_code(compress_errc::library_error), s.offset);
        return;
      }
      emit(s);
      s.st = block_slot::state::idle;
      ++next_emit_;
      if (destroyed()) return;  // a 'data' listener destroyed the stream
      if (s.last) {
        finish();
        return;
      }
    }
    if (write_cb_) feed();
  }

  void emit(const block_slot& s) {
    if (next_emit_ == 0) {
      // RFC 1952: magic, deflate, no flags, no time, XFL, OS 3 (Unix), as zlib writes it.
      const std::uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, engine_.xfl, 3};
      put(header, sizeof header);
    }
    put(s.out.data.get(), s.out.size);
    crc_ = static_cast<std::uint32_t>(
        crc32_combine(crc_, s.crc, static_cast<z_off_t>(s.len)));  // len <= block_size
    total_ += s.len;
  }

  void finish() {
    std::uint8_t trailer[8];
    for (int i = 0; i < 4; ++i) {
      trailer[i] = static_cast<std::uint8_t>(crc_ >> (8 * i));
      trailer[4 + i] = static_cast<std::uint8_t>(total_ >> (8 * i));  // ISIZE: mod 2^32
    }
    put(trailer, sizeof trailer);
    push_partial();
    auto cb = *std::exchange(flush_cb_, std::nullopt);
    cb({});
  }

  // Appends `n` bytes to the output, in chunk_size buffers.
  void put(const void* p, std::size_t n) {
    const auto* from = static_cast<const std::byte*>(p);
    while (n > 0) {
      const auto space = out_space();
      const std::size_t k = std::min(n, space.size());
      std::memcpy(space.data(), from, k);
      commit_out(k);
      from += k;
      n -= k;
    }
  }

  // Fails the stream, completing the write or flush waiting on this, if any.
  void fail_now(std::error_code ec, std::uint64_t at) {
    if (write_cb_) {
      fail_at(ec, at, *std::exchange(write_cb_, std::nullopt));
    } else if (flush_cb_) {
      fail_at(ec, at, *std::exchange(flush_cb_, std::nullopt));
    } else {
      fail_at(ec, at, [](std::error_code) {});
    }
  }

  gzip_block_engine engine_;
  std::size_t dict_cap_;                            // the window: the most history a block gets
  std::vector<std::shared_ptr<block_slot>> slots_;  // block n uses slots_[n % size], made lazily
  std::shared_ptr<block_slot> filling_;             // the block taking input, if any
  std::uint64_t next_block_ = 0;                    // blocks taken so far
  std::uint64_t next_emit_ = 0;                     // blocks written out so far
  std::uint64_t placed_ = 0;                        // input bytes in blocks sent off
  std::uint32_t crc_ = 0;                           // CRC-32 of the blocks written out
  std::uint64_t total_ = 0;                         // their size
  buffer in_;                                       // the write being fed into blocks
  std::size_t in_pos_ = 0;                          // how much of it is in blocks
  std::optional<transform_callback> write_cb_;      // its callback, until it is all in
  std::optional<callback> flush_cb_;                // do_flush's, until the trailer is out
};

}  // namespace

std::shared_ptr<transform<buffer, buffer>> make_parallel_gzip(loop& l, const gzip_options& o,
                                                              unsigned threads,
                                                              gzip_block_engine engine) {
  assert(threads >= 2);
  return std::make_shared<parallel_gzip>(l, o, threads, std::move(engine));
}

}  // namespace sluice::detail
