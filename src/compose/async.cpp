// sluice/compose/async.hpp: the non-template parts.
#include "sluice/compose/async.hpp"

#include <system_error>

namespace sluice::detail {

boost::asio::io_context& context_of(const stream& s) {
  auto* l = dynamic_cast<asio_loop*>(&s.get_loop());
  if (l == nullptr)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "sluice async operations need a stream on an asio_loop");
  return l->context();
}

}  // namespace sluice::detail
