// sluice/codec.hpp: the codec layer in one include: byte transforms that change the encoding.
//
// gzip, deflate and raw deflate (gzip.hpp), Zstandard (zstd.hpp), Brotli (brotli.hpp), with
// what they share in compression.hpp, the text transforms (text.hpp: UTF-8 re-chunking,
// hex, base64) and line splitting (lines.hpp).
#pragma once

#include "sluice/codec/brotli.hpp"
#include "sluice/codec/compression.hpp"
#include "sluice/codec/gzip.hpp"
#include "sluice/codec/lines.hpp"
#include "sluice/codec/text.hpp"
#include "sluice/codec/zstd.hpp"
#include "sluice/core.hpp"
