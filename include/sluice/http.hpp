// sluice/http.hpp: the HTTP layer in one include.
//
// http_server with streaming request and response bodies (server.hpp), the client request with
// a keep-alive agent (client.hpp), and the header list they share (headers.hpp). docs/http.md
// has the model, the limits and the errors.
#pragma once

#include "sluice/http/client.hpp"
#include "sluice/http/headers.hpp"
#include "sluice/http/server.hpp"
