// line_splitter and line_reader (sluice/codec/lines.hpp).
#include "sluice/codec/lines.hpp"

#include <string_view>
#include <utility>

#include "sluice/core/error.hpp"

namespace sluice {
namespace {

class lines_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice.lines"; }
  std::string message(int value) const override {
    switch (static_cast<lines_errc>(value)) {
      case lines_errc::line_too_long:
        return "line too long";
    }
    return "Unknown line splitting error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& lines_category() noexcept {
  static const lines_category_impl category;
  return category;
}

std::error_code make_error_code(lines_errc e) noexcept {
  return {static_cast<int>(e), lines_category()};
}

// ---- line_splitter ----

line_splitter::line_splitter(sluice::loop& l, line_options lo, const transform_options& o)
    : transform<buffer, std::string>(l, o), max_(lo.max_line_length) {
  if (max_ == 0)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "line_splitter: max_line_length must be at least 1");
}

std::error_code line_splitter::too_long() {
  const std::error_code ec = make_error_code(lines_errc::line_too_long);
  fail(ec, "line " + std::to_string(lines_ + 1) + " is longer than the limit of " +
               std::to_string(max_) + " bytes");
  return ec;
}

bool line_splitter::emit_line(bool newline, bool& more) {
  if (newline && !partial_.empty() && partial_.back() == '\r') partial_.pop_back();
  if (partial_.size() > max_) return false;
  ++lines_;
  more = push(std::exchange(partial_, std::string()));
  return true;
}

void line_splitter::do_transform(buffer&& chunk, transform_callback cb) {
  input_ = std::move(chunk);
  pos_ = 0;
  input_cb_.emplace(cb);
  split();
}

// Splits input_ from pos_, pushing lines until the chunk is used up (then completes the write)
// or the readable side is full (then goes on in do_output_wanted).
void line_splitter::split() {
  splitting_ = true;
  const std::string_view in = input_.view();
  while (pos_ < in.size()) {
    const std::size_t nl = in.find('\n', pos_);
    const std::size_t stop = nl == std::string_view::npos ? in.size() : nl;
    const bool unfinished = nl == std::string_view::npos;
    // An unfinished line is refused as soon as it cannot fit, before its bytes are held; one
    // byte over the limit is allowed while it is a "\r" that may start the "\r\n".
    const std::size_t held = partial_.size() + (stop - pos_);
    if (unfinished && (held > max_ + 1 || (held == max_ + 1 && in.back() != '\r'))) {
      fail_write();
      return;
    }
    partial_.append(in.substr(pos_, stop - pos_));
    pos_ = unfinished ? in.size() : nl + 1;
    if (unfinished) break;
    bool more = true;
    if (!emit_line(true, more)) {
      fail_write();
      return;
    }
    if ((!more || destroyed()) && pos_ < in.size()) {
      splitting_ = false;  // the rest when the consumer wants more
      return;
    }
  }
  splitting_ = false;
  input_ = {};
  const auto cb = *std::exchange(input_cb_, std::nullopt);
  cb();
}

void line_splitter::fail_write() {
  splitting_ = false;
  input_ = {};
  partial_.clear();
  const auto cb = *std::exchange(input_cb_, std::nullopt);
  cb(too_long());
}

void line_splitter::do_output_wanted() {
  if (input_cb_ && !splitting_ && !destroyed()) split();
}

void line_splitter::do_flush(callback cb) {
  if (!partial_.empty()) {
    bool more = true;
    if (!emit_line(false, more)) {
      cb(too_long());
      return;
    }
  }
  cb({});
}

// ---- line_reader ----

namespace {

std::shared_ptr<line_splitter> splitter_for(const std::shared_ptr<readable<buffer>>& source,
                                            line_options lo, const transform_options& o) {
  if (!source)
    throw std::system_error(make_error_code(errc::invalid_argument), "lines: null source");
  auto splitter = std::make_shared<line_splitter>(source->get_loop(), lo, o);
  // pipe() does not carry errors downstream (as in Node): the splitter is failed with the
  // source's error and context, so the reader reports what really went wrong.
  std::weak_ptr<line_splitter> weak = splitter;
  std::weak_ptr<readable<buffer>> src = source;
  source->on_error([weak, src](std::error_code ec) {
    auto s = weak.lock();
    auto r = src.lock();
    if (s && r) s->fail(ec, r->error_context());
  });
  source->on_close([weak, src] {
    auto s = weak.lock();
    auto r = src.lock();
    if (s && r && !r->errored() && !r->readable_ended())
      s->destroy(make_error_code(errc::premature_close));
  });
  source->pipe(splitter);
  return splitter;
}

}  // namespace

line_reader::line_reader(std::shared_ptr<readable<buffer>> source, line_options lo,
                         transform_options o)
    : source_(std::move(source)),
      splitter_(splitter_for(source_, lo, o)),
      reader_(std::static_pointer_cast<readable<std::string>>(splitter_)) {}

line_reader& line_reader::operator=(line_reader&& o) noexcept {
  if (this != &o) {
    reader_ = std::move(o.reader_);  // closes the current reader (destroying its splitter)
    leave();
    source_ = std::move(o.source_);
    splitter_ = std::move(o.splitter_);
  }
  return *this;
}

line_reader::~line_reader() {
  // The reader (destroyed after this body) destroys the splitter if it has not ended.
  leave();
}

void line_reader::leave() noexcept {
  if (!source_) return;  // moved from
  // Leaving early: nothing reads the source any more, so it goes too.
  if (!source_->readable_ended() && !source_->destroyed())
    source_->destroy(make_error_code(errc::aborted));
}

}  // namespace sluice
