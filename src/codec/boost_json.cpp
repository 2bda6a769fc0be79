// Boost.JSON, header-only: its compiled part, once for the whole library (there is no
// libboost_json to link). Every sinks source that uses Boost.JSON links against this.
#include <boost/json/src.hpp>
