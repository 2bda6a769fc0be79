#include "support/trace.hpp"

namespace sluice::test {

std::string node_code(std::error_code ec) {
  if (ec.category() != stream_category()) return ec.message();
  switch (static_cast<errc>(ec.value())) {
    case errc::write_after_end:
      return "ERR_STREAM_WRITE_AFTER_END";
    case errc::push_after_eof:
      return "ERR_STREAM_PUSH_AFTER_EOF";
    case errc::multiple_callback:
      return "ERR_MULTIPLE_CALLBACK";
    case errc::premature_close:
      return "ERR_STREAM_PREMATURE_CLOSE";
    case errc::stream_destroyed:
      return "ERR_STREAM_DESTROYED";
    case errc::null_values:
      return "ERR_STREAM_NULL_VALUES";
    case errc::already_finished:
      return "ERR_STREAM_ALREADY_FINISHED";
    case errc::cannot_pipe:
      return "ERR_STREAM_CANNOT_PIPE";
    case errc::method_not_implemented:
      return "ERR_METHOD_NOT_IMPLEMENTED";
    case errc::unshift_after_end_event:
      return "ERR_STREAM_UNSHIFT_AFTER_END_EVENT";
    case errc::invalid_argument:
      return "ERR_INVALID_ARG_VALUE";
    case errc::out_of_range:
      return "ERR_OUT_OF_RANGE";
    case errc::aborted:
      return "ABORT_ERR";
    case errc::source_changed:  // these have no Node counterpart
    case errc::buffer_overflow:
    case errc::dropped:
      return ec.message();
  }
  return ec.message();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    const auto e = line.find_last_not_of(" \t");
    out.push_back(line.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace sluice::test
