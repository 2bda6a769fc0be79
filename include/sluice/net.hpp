// sluice/net.hpp: the net layer in one include: sockets (TCP, Unix-domain, TLS) and servers.
//
// socket (socket.hpp) is a duplex<buffer, buffer> over a connection; server (server.hpp)
// accepts them; tls.hpp holds the TLS options both use. docs/net.md describes the model.
#pragma once

#include "sluice/core.hpp"
#include "sluice/net/server.hpp"
#include "sluice/net/socket.hpp"
#include "sluice/net/tls.hpp"
