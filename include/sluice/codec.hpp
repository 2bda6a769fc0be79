// sluice/codec.hpp: the codec layer in one include: byte transforms that change the encoding.
//
// gzip, deflate and raw deflate (gzip.hpp), Zstandard (zstd.hpp), Brotli (brotli.hpp), with
// what they share in compression.hpp, the text transforms (text.hpp: UTF-8 re-chunking,
// hex, base64), line splitting (lines.hpp) and frames for typed items over bytes (framing.hpp;
// its JSON serializer is in json_frames.hpp, included on its own since it brings Boost.JSON).
#pragma once

#include "sluice/codec/brotli.hpp"
#include "sluice/codec/compression.hpp"
#include "sluice/codec/framing.hpp"
#include "sluice/codec/gzip.hpp"
#include "sluice/codec/lines.hpp"
#include "sluice/codec/text.hpp"
#include "sluice/codec/zstd.hpp"
#include "sluice/core.hpp"
