// src/codec/gzip_engines.hpp (private): the ISA-L engine's factories, which make_gzip and
// make_gunzip (compress_zlib.cpp) call when the options ask for gzip_engine::isal.
#pragma once

#include <memory>

#include "sluice/codec/gzip.hpp"

namespace sluice::detail {

/// make_gzip with gzip_engine::isal (compress_isal.cpp).
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_isal_gzip(loop& l,
                                                                        const gzip_options& o);
/// make_gunzip with gzip_engine::isal, options already checked (compress_isal.cpp).
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_isal_gunzip(loop& l,
                                                                          const zlib_options& o);

}  // namespace sluice::detail
