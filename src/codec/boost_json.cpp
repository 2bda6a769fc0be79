// Boost.JSON, header-only: its compiled part, once for the whole library (there is no
// libboost_json to link). The codec (json_frames.hpp), sinks (log_writer) and db (JSON lines)
// layers use it, and so does a program that includes sluice/codec/json_frames.hpp.
#include <boost/json/src.hpp>
