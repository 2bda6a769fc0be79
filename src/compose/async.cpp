// sluice/compose/async.hpp: the non-template parts.
#include "sluice/compose/async.hpp"

#include <system_error>
#include <utility>

namespace sluice {

stream_failure::stream_failure(async_error ec, std::string message)
    : boost::system::system_error(ec), message_(std::move(message)) {}

namespace detail {

void throw_failure(const async_error& ec, const stream& s) {
  // The stream's message only for its own error: an abort or a refused write is not about it.
  const std::error_code code(ec);
  if (s.errored() && code == s.errored()) throw stream_failure(ec, s.error_message());
  throw stream_failure(ec, ec.message());
}

boost::asio::io_context& context_of(const stream& s) {
  auto* l = dynamic_cast<asio_loop*>(&s.get_loop());
  if (l == nullptr)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "sluice async operations need a stream on an asio_loop");
  return l->context();
}

}  // namespace detail
}  // namespace sluice
