// `sluice serve` end to end, with curl as the client: GET, HEAD, Range, If-Modified-Since,
// errors, the request log, and a clean stop on SIGTERM.
#include <gtest/gtest.h>

#include <string>

#include "cli_fixture.hpp"

namespace {

using namespace sluice::cli::testing;

class ServeCli : public CliTest {
 protected:
  // Starts `sluice serve site --port 0 ARGS` in the background, waits for its "serving ... at
  // http://127.0.0.1:PORT/" line, runs `script` with $URL set, then stops the server with
  // SIGTERM and prints "exit=<status>". The server's stderr ends up in serve.log.
  result with_server(const std::string& args, const std::string& script) {
    return sh("\"$SLUICE\" serve site --port 0 " + args +
              " 2>serve.log & pid=$!\n"
              "for i in $(seq 200); do grep -q 'at http://' serve.log 2>/dev/null && break; "
              "sleep 0.05; done\n"
              "URL=$(grep -o 'http://[^ ]*' serve.log | head -1 | sed 's,/$,,')\n" +
              script + "\nkill -TERM $pid; wait $pid; echo exit=$?");
  }
};

TEST_F(ServeCli, GetHeadRangeAndConditional) {
  if (!have("curl")) GTEST_SKIP() << "curl is not installed";
  std::filesystem::create_directories(path("site/sub"));
  const std::string text = make_text("site/big.txt", 3 << 20);
  spit(path("site/sub/index.html"), "<h1>sub</h1>\n");
  const result r = with_server("", R"(
curl -sS -o got.txt -w 'get=%{http_code} type=%{content_type}\n' "$URL/big.txt"
curl -sS -I "$URL/big.txt" | tr -d '\r' | grep -i -E '^(content-length|accept-ranges|last-modified):' | sed 's/^/head: /'
curl -sS -o part.txt -w 'range=%{http_code}\n' -r 100-199 "$URL/big.txt"
curl -sS -o /dev/null -w 'unsat=%{http_code}\n' -r 99999999- "$URL/big.txt"
lm=$(curl -sS -I "$URL/big.txt" | tr -d '\r' | sed -n 's/^[Ll]ast-[Mm]odified: //p')
curl -sS -o /dev/null -w 'cond=%{http_code}\n' -H "If-Modified-Since: $lm" "$URL/big.txt"
curl -sS -o index.txt -w 'dir=%{http_code}\n' "$URL/sub/"
curl -sS -o /dev/null -w 'missing=%{http_code}\n' "$URL/nope"
curl -sS -o /dev/null -w 'escape=%{http_code}\n' --path-as-is "$URL/sub/../../etc/passwd"
curl -sS -o /dev/null -w 'post=%{http_code}\n' -d x "$URL/big.txt"
)");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("get=200 type=text/plain; charset=utf-8"), std::string::npos) << r.out;
  EXPECT_TRUE(same_bytes(slurp(path("got.txt")), text));
  EXPECT_NE(r.out.find("head: Content-Length: " + std::to_string(text.size())), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("head: Accept-Ranges: bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("range=206"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(path("part.txt")), text.substr(100, 100));
  EXPECT_NE(r.out.find("unsat=416"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cond=304"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dir=200"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(path("index.txt")), "<h1>sub</h1>\n");
  EXPECT_NE(r.out.find("missing=404"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("escape=400"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("post=405"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exit=0"), std::string::npos) << r.out;
  // One Common Log Format line per request, with the status and the bytes sent.
  const std::string log = slurp(path("serve.log"));
  EXPECT_NE(log.find("\"GET /big.txt HTTP/1.1\" 200 " + std::to_string(text.size())),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("\"GET /big.txt HTTP/1.1\" 206 100"), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /nope HTTP/1.1\" 404"), std::string::npos) << log;
}

TEST_F(ServeCli, GzipForClientsThatAskForIt) {
  if (!have("curl")) GTEST_SKIP() << "curl is not installed";
  std::filesystem::create_directories(path("site"));
  const std::string text = make_text("site/app.log.txt", 1 << 20);
  const result r = with_server("--gzip -q", R"(
curl -sS --compressed -o got.txt -w 'wire=%{size_download}\n' "$URL/app.log.txt"
curl -sS -o plain.txt -w 'plain=%{size_download}\n' "$URL/app.log.txt"
)");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_bytes(slurp(path("got.txt")), text));
  EXPECT_TRUE(same_bytes(slurp(path("plain.txt")), text));
  const auto wire = std::stoull(r.out.substr(r.out.find("wire=") + 5));
  EXPECT_LT(wire, text.size() / 2) << r.out;                           // log text compresses well
  EXPECT_EQ(slurp(path("serve.log")).find("GET"), std::string::npos);  // -q: no request log
}

// A client that asks for a large file and stops reading after the head: with --idle-timeout 1
// the server cuts the connection (the client, reading again later, finds it reset) and goes on
// serving others.
TEST_F(ServeCli, AClientThatStopsReadingIsCutAfterTheIdleTimeout) {
  if (!have("curl")) GTEST_SKIP() << "curl is not installed";
  std::filesystem::create_directories(path("site"));
  make_text("site/big.txt", 32 << 20);
  spit(path("site/small.txt"), "small\n");
  const result r = with_server("--idle-timeout 1", R"(
python3 -c '
import socket, sys, time
host, port = sys.argv[1].rsplit("/", 1)[1].split(":")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, int(port)))
s.sendall(b"GET /big.txt HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(1024)
time.sleep(3)
got = 0
try:
    while True:
        n = len(s.recv(65536))
        if n == 0:
            print("client: end of stream after", got, "more bytes")
            break
        got += n
except ConnectionResetError:
    print("client: reset after", got, "more bytes")
' "$URL"
curl -sS -w ' %{http_code}\n' "$URL/small.txt"
)");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("client: reset after"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("small\n 200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exit=0"), std::string::npos) << r.out;
  // The request is in the log, with what was sent before the cut: not the whole file.
  const std::string log = slurp(path("serve.log"));
  EXPECT_NE(log.find("\"GET /big.txt HTTP/1.1\" 200 "), std::string::npos) << log;
  EXPECT_EQ(log.find("\"GET /big.txt HTTP/1.1\" 200 33554432"), std::string::npos) << log;
}

TEST_F(ServeCli, BadDirectoryAndBusyPort) {
  result r = sh("\"$SLUICE\" serve no-such-dir --port 0");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("sluice: serve: 'no-such-dir'"), std::string::npos) << r.err;
  std::filesystem::create_directories(path("site"));
  r =
      sh("python3 -c 'import socket,sys,subprocess,os\n"
         "s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen()\n"
         "p=subprocess.run([os.environ[\"SLUICE\"],\"serve\",\"site\",\"--port\","
         "str(s.getsockname()[1])]); sys.exit(p.returncode)'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("Address already in use"), std::string::npos) << r.err;
}

}  // namespace

namespace {

using namespace sluice::cli::testing;

class HttpDemoCli : public CliTest {};

TEST_F(HttpDemoCli, RespectingWriteKeepsTheServersQueueAtAHighWaterMark) {
  const result r = sh("\"$SLUICE\" demo http-backpressure --size 8M --rate 64M");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto row = r.out.substr(r.out.find("server peak queued bytes"));
  const std::string line = row.substr(0, row.find('\n'));
  // Respecting write(): about one highWaterMark (64 KiB); ignoring it: the whole 8 MiB file.
  EXPECT_NE(line.find("64.0 KiB"), std::string::npos) << line;
  EXPECT_NE(line.find("8.00 MiB"), std::string::npos) << line;
  const auto got = r.out.substr(r.out.find("body bytes received"));
  EXPECT_EQ(got.substr(0, got.find('\n')).find("KiB"), std::string::npos) << got;  // all 8 MiB
}

}  // namespace

namespace {

using namespace sluice::cli::testing;

class ServeStatsCli : public CliTest {};

// Plain GETs go by sendfile(2) (small files from memory, with the head), --gzip by read/write;
// --stats says so at exit. A small file changed between two requests is served as it is now.
TEST_F(ServeStatsCli, StatsSayWhichPathWasTaken) {
  if (!have("curl")) GTEST_SKIP() << "curl is not installed";
  std::filesystem::create_directories(path("site"));
  const std::string text = make_text("site/big.txt", 2 << 20);
  spit(path("site/small.txt"), "Hello, world\n");
  const std::string script = R"(
"$SLUICE" serve site --port 0 --stats -q ARGS 2>serve.log & pid=$!
for i in $(seq 200); do grep -q 'at http://' serve.log 2>/dev/null && break; sleep 0.05; done
URL=$(grep -o 'http://[^ ]*' serve.log | head -1 | sed 's,/$,,')
curl -sS -o got.txt "$URL/big.txt"
curl -sS -o small.txt "$URL/small.txt"
printf 'Changed!\n' > site/small.txt
curl -sS -o small2.txt "$URL/small.txt"
kill -TERM $pid; wait $pid; echo exit=$?
grep 'responses by sendfile' serve.log
)";
  auto with = [&](const std::string& args) {
    std::string s = script;
    s.replace(s.find("ARGS"), 4, args);
    return sh(s);
  };
  result r = with("");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_bytes(slurp(path("got.txt")), text));
  EXPECT_EQ(slurp(path("small.txt")), "Hello, world\n");
  EXPECT_EQ(slurp(path("small2.txt")), "Changed!\n");
  EXPECT_NE(r.out.find("1 responses by sendfile (" + std::to_string(text.size()) +
                       " bytes), 0 by read/write (0 bytes), 2 from memory (22 bytes)"),
            std::string::npos)
      << r.out;
  spit(path("site/small.txt"), "Hello, world\n");
  r = with("--gzip");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_bytes(slurp(path("got.txt")), text));
  EXPECT_NE(r.out.find("0 responses by sendfile (0 bytes), 3 by read/write"), std::string::npos)
      << r.out;
}

}  // namespace
