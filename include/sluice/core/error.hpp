// sluice/core/error.hpp: the errors streams report.
//
// Stream-level failures (write after end, premature close, ...) are `sluice::errc` values in the
// "sluice.stream" category, with messages worded like Node's ERR_STREAM_* errors so that ported
// code and logs read the same. Failures that come from the operating system stay plain
// std::system_category codes. Everything in sluice reports errors as std::error_code; stream.hpp
// and its neighbours build on this header.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace sluice {

/// Stream error codes. Zero is deliberately unused: an error_code of value 0 means success.
enum class errc {
  write_after_end = 1,      // ERR_STREAM_WRITE_AFTER_END
  push_after_eof,           // ERR_STREAM_PUSH_AFTER_EOF
  multiple_callback,        // ERR_MULTIPLE_CALLBACK
  premature_close,          // ERR_STREAM_PREMATURE_CLOSE
  stream_destroyed,         // ERR_STREAM_DESTROYED
  null_values,              // ERR_STREAM_NULL_VALUES
  already_finished,         // ERR_STREAM_ALREADY_FINISHED
  cannot_pipe,              // ERR_STREAM_CANNOT_PIPE
  method_not_implemented,   // ERR_METHOD_NOT_IMPLEMENTED
  unshift_after_end_event,  // ERR_STREAM_UNSHIFT_AFTER_END_EVENT
  invalid_argument,         // ERR_INVALID_ARG_VALUE; equivalent to std::errc::invalid_argument
  out_of_range,             // ERR_OUT_OF_RANGE; equivalent to std::errc::result_out_of_range
  aborted,                  // AbortError; equivalent to std::errc::operation_canceled
  source_changed,           // a file changed size while it was read (gzip: "file size changed")
  buffer_overflow,          // a write beyond max_buffered under overflow_policy::error
  dropped,  // a write dropped by overflow_policy::drop_newest/drop_oldest (its callback's code)
};

/// The category of sluice::errc codes; its name() is "sluice.stream".
[[nodiscard]] const std::error_category& stream_category() noexcept;

/// Lets `std::error_code ec = errc::premature_close;` and comparisons with errc work.
[[nodiscard]] std::error_code make_error_code(errc e) noexcept;

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::errc> : std::true_type {};
