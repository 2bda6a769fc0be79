// Frames over bytes (sluice/codec/framing.hpp): the error category, the encoder's sealing and
// the decoder's byte-level reader.
#include "sluice/codec/framing.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace sluice {
namespace {

class framing_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice.framing"; }
  std::string message(int value) const override {
    switch (static_cast<frame_errc>(value)) {
      case frame_errc::frame_too_large:
        return "frame too large";
      case frame_errc::truncated_frame:
        return "input ended inside a frame";
      case frame_errc::newline_in_frame:
        return "newline inside a lines frame";
    }
    return "Unknown framing error " + std::to_string(value);
  }
};

constexpr std::size_t max_prefixed = std::numeric_limits<std::uint32_t>::max();

std::string frame_name(std::uint64_t frame) { return "frame " + std::to_string(frame); }

}  // namespace

const std::error_category& framing_category() noexcept {
  static const framing_category_impl category;
  return category;
}

std::error_code make_error_code(frame_errc e) noexcept {
  return {static_cast<int>(e), framing_category()};
}

namespace detail {

void check_frame_options(const frame_options& o, const char* who) {
  if (o.max_frame_size == 0)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            std::string(who) + ": max_frame_size must be at least 1");
  if (o.format == frame_format::length_prefixed && o.max_frame_size > max_prefixed)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            std::string(who) +
                                ": max_frame_size must be at most 4294967295 with length_prefixed "
                                "frames (a 4-byte length)");
  if (o.format != frame_format::length_prefixed && o.format != frame_format::lines)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            std::string(who) + ": unknown frame_format");
}

std::error_code seal_frame(const frame_options& o, std::string& out, std::uint64_t frame,
                           std::string& context) {
  const bool prefixed = o.format == frame_format::length_prefixed;
  const std::size_t n = prefixed ? out.size() - 4 : out.size();
  if (n > o.max_frame_size) {
    context = frame_name(frame) + " is " + std::to_string(n) + " bytes, over the limit of " +
              std::to_string(o.max_frame_size);
    return make_error_code(frame_errc::frame_too_large);
  }
  if (prefixed) {
    const auto len = static_cast<std::uint32_t>(n);
    out[0] = static_cast<char>(len >> 24);
    out[1] = static_cast<char>(len >> 16);
    out[2] = static_cast<char>(len >> 8);
    out[3] = static_cast<char>(len);
    return {};
  }
  if (const auto nl = out.find('\n'); nl != std::string::npos) {
    context = frame_name(frame) + " has a newline at byte " + std::to_string(nl);
    return make_error_code(frame_errc::newline_in_frame);
  }
  out.push_back('\n');
  return {};
}

frame_reader::step frame_reader::refuse(frame_errc e, std::string context) {
  ec_ = make_error_code(e);
  context_ = std::move(context);
  return step::error;
}

frame_reader::step frame_reader::next(std::string_view& payload) {
  if (ec_) return step::error;
  release_partial();
  return o_.format == frame_format::length_prefixed ? next_prefixed(payload) : next_line(payload);
}

frame_reader::step frame_reader::next_prefixed(std::string_view& payload) {
  const std::string_view in = in_.view();
  if (!have_length_) {
    while (header_len_ < 4 && pos_ < in.size())
      header_[header_len_++] = static_cast<unsigned char>(in[pos_++]);
    if (header_len_ < 4) return step::more;
    length_ = (std::size_t{header_[0]} << 24) | (std::size_t{header_[1]} << 16) |
              (std::size_t{header_[2]} << 8) | std::size_t{header_[3]};
    header_len_ = 0;
    if (length_ > o_.max_frame_size)
      return refuse(frame_errc::frame_too_large,
                    frame_name(frames_ + 1) + " declares " + std::to_string(length_) +
                        " bytes, over the limit of " + std::to_string(o_.max_frame_size));
    have_length_ = true;
  }
  const std::size_t avail = in.size() - pos_;
  if (partial_.empty() && avail >= length_) {
    // The whole payload in this chunk: handed out where it lies.
    payload = in.substr(pos_, length_);
    pos_ += length_;
    have_length_ = false;
    ++frames_;
    return step::frame;
  }
  const std::size_t take = std::min(length_ - partial_.size(), avail);
  if (partial_.empty()) partial_.reserve(length_);
  partial_.append(in.substr(pos_, take));
  pos_ += take;
  if (partial_.size() < length_) return step::more;
  payload = partial_;
  drop_partial_ = true;
  have_length_ = false;
  ++frames_;
  return step::frame;
}

frame_reader::step frame_reader::next_line(std::string_view& payload) {
  const std::string_view in = in_.view();
  if (pos_ >= in.size()) return step::more;
  const std::size_t nl = in.find('\n', pos_);
  const std::size_t stop = nl == std::string_view::npos ? in.size() : nl;
  if (partial_.size() + (stop - pos_) > o_.max_frame_size)
    return refuse(frame_errc::frame_too_large, frame_name(frames_ + 1) +
                                                   " is longer than the limit of " +
                                                   std::to_string(o_.max_frame_size) + " bytes");
  if (nl == std::string_view::npos) {
    partial_.append(in.substr(pos_));
    pos_ = in.size();
    return step::more;
  }
  if (partial_.empty()) {
    payload = in.substr(pos_, nl - pos_);
  } else {
    partial_.append(in.substr(pos_, nl - pos_));
    payload = partial_;
    drop_partial_ = true;
  }
  pos_ = nl + 1;
  ++frames_;
  return step::frame;
}

frame_reader::step frame_reader::finish(std::string_view& payload) {
  if (ec_) return step::error;
  release_partial();
  if (o_.format == frame_format::lines) {
    if (partial_.empty()) return step::more;
    payload = partial_;
    drop_partial_ = true;
    ++frames_;
    return step::frame;
  }
  if (header_len_ != 0)
    return refuse(frame_errc::truncated_frame, "the input ended inside " + frame_name(frames_ + 1) +
                                                   "'s length, after " +
                                                   std::to_string(header_len_) + " of its 4 bytes");
  if (have_length_)
    return refuse(frame_errc::truncated_frame, "the input ended inside " + frame_name(frames_ + 1) +
                                                   ", after " + std::to_string(partial_.size()) +
                                                   " of its " + std::to_string(length_) + " bytes");
  return step::more;
}

}  // namespace detail
}  // namespace sluice
