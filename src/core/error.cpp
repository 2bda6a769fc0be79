#include "sluice/core/error.hpp"

namespace sluice {
namespace {

class stream_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice.stream"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::write_after_end:
        return "write after end";
      case errc::push_after_eof:
        return "stream.push() after EOF";
      case errc::multiple_callback:
        return "Callback called multiple times";
      case errc::premature_close:
        return "Premature close";
      case errc::stream_destroyed:
        return "Cannot call write after a stream was destroyed";
      case errc::null_values:
        return "May not write null values to stream";
      case errc::already_finished:
        return "Cannot call end after a stream was finished";
      case errc::cannot_pipe:
        return "Cannot pipe, not readable";
      case errc::method_not_implemented:
        return "The method is not implemented";
      case errc::unshift_after_end_event:
        return "stream.unshift() after end event";
      case errc::invalid_argument:
        return "Invalid argument";
      case errc::out_of_range:
        return "Value out of range";
      case errc::aborted:
        return "The operation was aborted";
      case errc::source_changed:
        return "The file changed while it was read";
      case errc::buffer_overflow:
        return "Write beyond the stream's max_buffered";
      case errc::dropped:
        return "Write dropped by the stream's overflow policy";
    }
    // Codes built by hand from an int may hold anything; message() must still answer.
    return "Unknown stream error " + std::to_string(value);
  }

  // The generic mappings let callers test `ec == std::errc::operation_canceled` without knowing
  // whether the cancellation came from sluice or from the OS.
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<errc>(value)) {
      case errc::invalid_argument:
        return std::errc::invalid_argument;
      case errc::out_of_range:
        return std::errc::result_out_of_range;
      case errc::aborted:
        return std::errc::operation_canceled;
      default:
        return {value, *this};
    }
  }
};

}  // namespace

const std::error_category& stream_category() noexcept {
  // A function-local static gives one category object per process, which error_code
  // comparisons rely on (they compare category addresses).
  static const stream_category_impl category;
  return category;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), stream_category()};
}

}  // namespace sluice
