// sluice/codec/lines.hpp: bytes split into lines (what Node's readline does for a stream).
//
// line_splitter  transform<buffer, std::string>: one std::string per line, without its "\n" or
//                "\r\n"; the last line is delivered even without a newline
// line_reader    the coroutine form: iterates the lines of a readable<buffer> with async_next,
//                as reader<T> (compose/async.hpp) iterates items; made by lines(source)
// lines_errc     the errors of line splitting (a line longer than line_options::max_line_length)
//
// A line may span any number of input chunks, and "\r\n" may be cut between two of them. A line
// is held in memory until its newline arrives, so its length is bounded (max_line_length): a
// longer one fails the stream as soon as it is seen, with a message naming the limit and the
// line's number. The splitter pushes lines until its readable side is full and goes on when the
// consumer wants more, so one large chunk of short lines never buffers more than the
// highWaterMark (in lines) plus one. docs/text.md has examples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>

#include "sluice/compose/async.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/transform.hpp"

namespace sluice {

/// What went wrong while splitting lines. Zero is unused (it means success).
enum class lines_errc {
  line_too_long = 1,  ///< "line too long": a line exceeds line_options::max_line_length
};

/// The "sluice.lines" error category.
[[nodiscard]] const std::error_category& lines_category() noexcept;
[[nodiscard]] std::error_code make_error_code(lines_errc e) noexcept;

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::lines_errc> : std::true_type {};

namespace sluice {

/// How lines are split.
struct line_options {
  /// The longest line accepted, in bytes, not counting its "\n" or "\r\n". A longer line fails
  /// the stream with lines_errc::line_too_long. At least 1.
  std::size_t max_line_length = std::size_t{1} << 20;
};

/// Splits bytes into lines on "\n" and "\r\n" (a "\r" elsewhere is part of the line). Emits each
/// line as a std::string without its line ending, in object mode (its readable highWaterMark
/// counts lines). An empty line is an empty string; a final newline does not start another
/// line, and bytes after the last newline come out as the last line at end(). A line longer than
/// max_line_length fails the stream (stream::fail) with lines_errc::line_too_long and a context
/// naming the line number (1-based) and the limit: error_message() reads
/// "line 3 is longer than the limit of 80 bytes: line too long".
class line_splitter final : public transform<buffer, std::string> {
 public:
  /// Throws std::system_error(errc::invalid_argument) if max_line_length is 0.
  explicit line_splitter(sluice::loop& l, line_options lo = {}, const transform_options& o = {});

  /// The number of lines emitted so far.
  [[nodiscard]] std::uint64_t line_count() const noexcept { return lines_; }

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;
  void do_output_wanted() override;

 private:
  void split();
  // Emits the line in partial_ (after dropping a "\r" before its "\n" when `newline`); false,
  // having failed the stream, when it is too long.
  bool emit_line(bool newline, bool& more);
  // Fails the stream with line_too_long (naming the line and the limit) and returns the code.
  [[nodiscard]] std::error_code too_long();
  // Fails the write being split with too_long().
  void fail_write();

  std::size_t max_;
  std::string partial_;  // the line being assembled
  buffer input_;         // the chunk being split, from pos_
  std::size_t pos_ = 0;
  std::optional<transform_callback> input_cb_;  // set while a chunk is being split
  bool splitting_ = false;                      // split() is on the stack
  std::uint64_t lines_ = 0;
};

/// The lines of a readable<buffer>, for coroutines. Pipes the source into a line_splitter and
/// iterates it with a reader<std::string>, so async_next() behaves as reader::async_next: the
/// next line, nullopt at the end, or the error. An error of the source (a file that does not
/// open) fails the splitter with the same code and context, so its message names the cause
/// ("open 'x.log': No such file or directory"). Leaving early (destroying the line_reader)
/// destroys the splitter and the source with errc::aborted, as leaving a reader does. The
/// source must live on an asio_loop. Create, use and destroy it on the loop's thread.
class line_reader {
 public:
  explicit line_reader(std::shared_ptr<readable<buffer>> source, line_options lo = {},
                       transform_options o = {});
  line_reader(line_reader&&) noexcept = default;
  /// Leaves the current iteration (as the destructor does), then takes `o`'s.
  line_reader& operator=(line_reader&& o) noexcept;
  line_reader(const line_reader&) = delete;
  line_reader& operator=(const line_reader&) = delete;
  ~line_reader();

  /// The next line; nullopt at the end. With the default token (use_awaitable) a failure throws
  /// stream_failure, whose what() is the stream's error_message().
  template <boost::asio::completion_token_for<void(async_error, std::optional<std::string>)> Token =
                default_token>
  auto async_next(Token&& token = {}) {
    return reader_.async_next(std::forward<Token>(token));
  }

  /// The splitter the lines come from (its counters, error_message()).
  [[nodiscard]] line_splitter& splitter() const noexcept { return *splitter_; }

 private:
  // Destroys the source with errc::aborted unless it has ended.
  void leave() noexcept;

  std::shared_ptr<readable<buffer>> source_;
  std::shared_ptr<line_splitter> splitter_;
  reader<std::string> reader_;
};

/// Iterates the lines of `source`: `auto in = sluice::lines(file);
/// while (auto line = co_await sluice::async_next(in)) use(*line);`
[[nodiscard]] inline line_reader lines(std::shared_ptr<readable<buffer>> source,
                                       line_options lo = {}) {
  return line_reader(std::move(source), lo);
}

/// The next line of `in`: see line_reader::async_next.
template <boost::asio::completion_token_for<void(async_error, std::optional<std::string>)> Token =
              default_token>
auto async_next(line_reader& in, Token&& token = {}) {
  return in.async_next(std::forward<Token>(token));
}

}  // namespace sluice
