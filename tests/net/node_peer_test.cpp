// sluice sockets against Node's `net` module: a sluice client talks to a Node echo server, and
// a Node client talks to a sluice server. Node runs as a child process (`node -e`).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "net/net_support.hpp"
#include "sluice/net/server.hpp"
#include "sluice/net/socket.hpp"

namespace {

using namespace std::chrono_literals;
using net_test::loop_fixture;
using sluice::buffer;

bool have_node() { return std::system("node --version >/dev/null 2>&1") == 0; }

TEST(NetNodePeer, SluiceClientToNodeEchoServer) {
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  loop_fixture f;
  // Node echoes one connection, prints its port first, and exits once that connection closes.
  FILE* child = ::popen(
      "node -e \"const net=require('net');"
      "const s=net.createServer(c=>{c.pipe(c);c.on('close',()=>s.close());});"
      "s.listen(0,'127.0.0.1',()=>console.log(s.address().port));\"",
      "r");
  ASSERT_NE(child, nullptr);
  char line[32] = {};
  ASSERT_NE(std::fgets(line, sizeof line, child), nullptr);
  const auto port = static_cast<std::uint16_t>(std::stoi(line));
  auto c = sluice::make_tcp_connection(f.loop, "127.0.0.1", port);
  std::string got;
  c->on_data([&](buffer&& b) { got += b.view(); });
  std::string sent;
  for (int i = 0; i < 1000; ++i) sent += "line " + std::to_string(i) + " from sluice\n";
  c->write(buffer::copy_of(sent.substr(0, 100)));
  c->end(buffer::copy_of(sent.substr(100)));
  ASSERT_TRUE(f.run_until([&] { return c->closed(); }));
  EXPECT_FALSE(c->errored()) << c->error_message();
  EXPECT_EQ(got, sent);
  EXPECT_EQ(::pclose(child), 0);
}

TEST(NetNodePeer, NodeClientToSluiceServer) {
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  loop_fixture f;
  auto srv = sluice::make_tcp_server(f.loop);
  f.track(srv);
  std::string received;
  srv->on_connection([&](std::shared_ptr<sluice::socket> s) {
    // Answers with what it received, upper-cased, once the client has ended.
    s->on_data([&](buffer&& b) { received += b.view(); });
    s->on_end(
        [&received, s = s.get()] {  // (not the shared_ptr: a listener owning its stream is a cycle)
          std::string up = received;
          for (char& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
          s->end(buffer(std::move(up)));
        });
  });
  ASSERT_FALSE(srv->listen());
  // allowHalfOpen: the Node client ends its side and still reads the reply.
  const std::string cmd =
      "node -e \"const net=require('net');"
      "const c=net.connect({port:" +
      std::to_string(srv->port()) +
      ",host:'127.0.0.1',allowHalfOpen:true},()=>{c.end('hello from node');});"
      "let d='';c.on('data',x=>d+=x);c.on('end',()=>{process.stdout.write(d);c.end();});"
      "c.on('error',e=>{console.error(e);process.exit(1);});\"";
  FILE* child = ::popen(cmd.c_str(), "r");
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(f.run_until([&] { return srv->accepted_connections() == 1; }));
  ASSERT_TRUE(f.run_until([&] { return srv->connections() == 0; }));
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, child) != nullptr) out += buf;
  EXPECT_EQ(::pclose(child), 0);
  EXPECT_EQ(received, "hello from node");
  EXPECT_EQ(out, "HELLO FROM NODE");
}

}  // namespace
