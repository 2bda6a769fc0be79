// End-to-end tests of `sluice fetch` and the network stages of `sluice run` (tcp-listen,
// tcp-connect, unix-connect, http-get, http-post) against real peers: Python's http.server and
// plain sockets (tests/cli/net_peer.py), on loopback.
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <thread>

#include "cli/cli_fixture.hpp"

namespace sluice::cli::testing {
namespace {

class NetCli : public CliTest {
 protected:
  // One HTTP peer for the whole suite (a Python start costs a few hundred milliseconds), serving
  // a directory of its own: tests put what it serves there with served_text().
  static void SetUpTestSuite() {
    served_ = fs::temp_directory_path() / ("sluice-net-peer-" + std::to_string(::getpid()));
    fs::remove_all(served_);
    fs::create_directories(served_);
    const std::string cmd = "python3 '" + std::string(SLUICE_SOURCE_DIR) +
                            "/tests/cli/net_peer.py' http '" + (served_ / "port.txt").string() +
                            "' '" + served_.string() + "' >/dev/null 2>&1 & echo $! > '" +
                            (served_ / "pid").string() + "'";
    ASSERT_EQ(std::system(("bash -c " + quote(cmd)).c_str()), 0);
    for (int i = 0; i < 500 && !fs::exists(served_ / "port.txt"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    base_ = "http://127.0.0.1:" + slurp(served_ / "port.txt");
  }
  static void TearDownTestSuite() {
    if (const std::string pid = slurp(served_ / "pid"); !pid.empty())
      ::kill(std::stoi(pid), SIGKILL);
    fs::remove_all(served_);
  }

  void TearDown() override {
    for (const int pid : peers_) ::kill(pid, SIGKILL);
    CliTest::TearDown();
  }

  // Starts net_peer.py with `args` in the background; returns at once.
  void start_peer(const std::string& args) {
    const result r = sh("python3 '" + std::string(SLUICE_SOURCE_DIR) + "/tests/cli/net_peer.py' " +
                        args + " >/dev/null 2>peer.err & echo $!");
    ASSERT_EQ(r.status, 0) << r.err;
    peers_.push_back(std::stoi(r.out));
  }

  // Waits (up to 5 s) for `name` to appear in the test directory; returns its contents.
  // (A file a shell writes with `>` exists before it has its content: status files are written
  // under another name and renamed.)
  std::string wait_for(const std::string& name) {
    for (int i = 0; i < 500; ++i) {
      if (fs::exists(path(name))) return slurp(path(name));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "no " << name << "; peer.err: " << slurp(path("peer.err"));
    return {};
  }

  // The HTTP peer's base URL, "http://127.0.0.1:PORT".
  static std::string http_peer() { return base_; }

  // Writes `size` bytes of text as `name` both here and in the served directory.
  std::string served_text(const std::string& name, std::uint64_t size, std::uint64_t seed) {
    const std::string data = make_text(name, size, seed);
    spit(served_ / name, data);
    return data;
  }

  static inline fs::path served_;
  static inline std::string base_;
  std::vector<int> peers_;
};

TEST_F(NetCli, FetchWritesTheBodyByteExactToStdoutAndToAFile) {
  const std::string data = served_text("data.bin", 1 << 20, 7);
  const std::string base = http_peer();
  const result out = sh("\"$SLUICE\" fetch " + base + "/files/data.bin");
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_TRUE(same_bytes(out.out, data));
  EXPECT_EQ(out.err, "");
  const result file = sh("\"$SLUICE\" fetch -q " + base + "/files/data.bin -o got.bin");
  ASSERT_EQ(file.status, 0) << file.err;
  EXPECT_TRUE(same_bytes(slurp(path("got.bin")), data));
}

TEST_F(NetCli, FetchFailsOnAnErrorStatusNamingTheUrlAndLeavesNoFile) {
  const std::string base = http_peer();
  const result r = sh("\"$SLUICE\" fetch " + base + "/missing -o got.bin");
  expect_one_line_error(r, "sluice: fetch: GET " + base + "/missing: HTTP 404 Not Found");
  EXPECT_EQ(r.status, 1);
  EXPECT_FALSE(fs::exists(path("got.bin")));
}

TEST_F(NetCli, FetchFailsOnATruncatedBodyAndLeavesNothingBehind) {
  const std::string base = http_peer();
  const auto before = files();
  const result r = sh("\"$SLUICE\" fetch " + base + "/cut -o got.bin");
  expect_one_line_error(r, "sluice: fetch: GET " + base + "/cut: ");
  EXPECT_NE(r.err.find("truncated: 1000 of 100000 bytes"), std::string::npos) << r.err;
  EXPECT_EQ(files(), before);  // no got.bin, no temporary
}

TEST_F(NetCli, FetchTimesOutWhenTheServerStalls) {
  const std::string base = http_peer();
  const auto t0 = std::chrono::steady_clock::now();
  const result r = sh("\"$SLUICE\" fetch --timeout 0.3 " + base + "/stall -o got.bin");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  expect_one_line_error(r, "sluice: fetch: GET " + base + "/stall: ");
  EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
  EXPECT_LT(took, 3.0);
  EXPECT_FALSE(fs::exists(path("got.bin")));
}

TEST_F(NetCli, FetchConnectionRefusedNamesTheUrl) {
  // A port that was just free: nothing listens there.
  start_peer("tcp-recv free.txt /dev/null");
  const std::string port = wait_for("free.txt");
  ::kill(peers_.back(), SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const result r = sh("\"$SLUICE\" fetch http://127.0.0.1:" + port + "/x");
  expect_one_line_error(r, "sluice: fetch: GET http://127.0.0.1:" + port + "/x: ");
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
}

TEST_F(NetCli, FetchFollowsRedirectsOnlyWithLocationAndBoundsThem) {
  const std::string data = served_text("data.bin", 5000, 3);
  const std::string base = http_peer();
  const result no_l = sh("\"$SLUICE\" fetch " + base + "/redirect/2");
  expect_one_line_error(no_l, "sluice: fetch: GET " + base + "/redirect/2 (redirected to " + base +
                                  "/redirect/1; -L follows): HTTP 302 Found");
  const result l = sh("\"$SLUICE\" fetch -L " + base + "/redirect/3");
  ASSERT_EQ(l.status, 0) << l.err;
  EXPECT_TRUE(same_bytes(l.out, data));
  const result loop = sh("\"$SLUICE\" fetch --location " + base + "/loop");
  expect_one_line_error(loop, "sluice: fetch: GET " + base + "/loop: too many redirects");
}

TEST_F(NetCli, FetchCompressedAsksForGzipAndDecodesIt) {
  const std::string data = served_text("data.txt", 200000, 5);
  const std::string base = http_peer();
  const result r = sh("\"$SLUICE\" fetch --compressed --stats " + base + "/gzip/data.txt");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_bytes(r.out, data));
  // Without --compressed the server sends it as it is.
  const result plain = sh("\"$SLUICE\" fetch " + base + "/gzip/data.txt");
  EXPECT_TRUE(same_bytes(plain.out, data));
}

TEST_F(NetCli, FetchOverHttpsVerifiesTheServerUnlessToldNotTo) {
  const std::string data = served_text("tls.bin", 300000, 11);
  // A self-signed certificate for 127.0.0.1 only, served by Python's ssl.
  ASSERT_EQ(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
               "-days 2 -subj /CN=sluice-test -addext subjectAltName=IP:127.0.0.1 "
               "-keyout key.pem -out cert.pem 2>/dev/null")
                .status,
            0);
  start_peer("https port.txt '" + served_.string() + "' cert.pem key.pem");
  const std::string port = wait_for("port.txt");
  const std::string url = "https://127.0.0.1:" + port + "/files/tls.bin";

  const result ok = sh("\"$SLUICE\" fetch -q --cacert cert.pem " + url + " -o got.bin");
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_TRUE(same_bytes(slurp(path("got.bin")), data));

  // Not trusted (the system's store does not know it): fails naming the URL, writes nothing.
  const result untrusted = sh("\"$SLUICE\" fetch " + url + " -o bad.bin");
  expect_one_line_error(untrusted, "sluice: fetch: GET " + url + ": certificate verify failed");
  EXPECT_FALSE(fs::exists(path("bad.bin")));
  // Trusted, but not for this name.
  const std::string by_name = "https://localhost:" + port + "/files/tls.bin";
  const result wrong_name = sh("\"$SLUICE\" fetch --cacert cert.pem " + by_name);
  expect_one_line_error(wrong_name,
                        "sluice: fetch: GET " + by_name + ": certificate verify failed");
  EXPECT_NE(wrong_name.err.find("hostname mismatch"), std::string::npos) << wrong_name.err;
  // -k accepts it.
  const result insecure = sh("\"$SLUICE\" fetch -k " + by_name);
  ASSERT_EQ(insecure.status, 0) << insecure.err;
  EXPECT_TRUE(same_bytes(insecure.out, data));

  const result missing = sh("\"$SLUICE\" fetch --cacert nope.pem " + url);
  expect_one_line_error(missing, "sluice: fetch: cannot read --cacert 'nope.pem': No such file");
  EXPECT_EQ(missing.status, 2);
}

TEST_F(NetCli, HttpGetFeedsAPipelineAndHttpPostUploadsOne) {
  const std::string data = served_text("data.bin", 1 << 20, 9);
  const std::string base = http_peer();
  const result get = sh("\"$SLUICE\" run 'http-get " + base +
                        "/files/data.bin | gzip | write got.gz' && gzip -dc got.gz > got.bin");
  ASSERT_EQ(get.status, 0) << get.err;
  EXPECT_TRUE(same_bytes(slurp(path("got.bin")), data));
  const result post = sh("\"$SLUICE\" run 'read data.bin | http-post " + base + "/upload/up.bin'");
  ASSERT_EQ(post.status, 0) << post.err;
  EXPECT_TRUE(same_bytes(slurp(served_ / "up.bin"), data));
  const result rejected = sh("\"$SLUICE\" run 'read data.bin | http-post " + base + "/reject'");
  expect_one_line_error(
      rejected, "sluice: run: stage 2 (http-post): POST " + base + "/reject: HTTP 403 Forbidden");
}

TEST_F(NetCli, AnErrorInTheMiddleOfABodyNamesTheStageAndTheUrl) {
  const std::string base = http_peer();
  const result r = sh("\"$SLUICE\" run 'http-get " + base + "/cut | count -c'");
  expect_one_line_error(r, "sluice: run: stage 1 (http-get): GET " + base + "/cut: ");
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
}

TEST_F(NetCli, TcpConnectSinkDeliversByteExactAndARefusalNamesThePeer) {
  const std::string data = make_text("data.bin", 1 << 20, 11);
  start_peer("tcp-recv recv-port.txt received.bin");
  const std::string port = wait_for("recv-port.txt");
  const result sink = sh("\"$SLUICE\" run 'read data.bin | tcp-connect 127.0.0.1:" + port + "'");
  ASSERT_EQ(sink.status, 0) << sink.err;
  EXPECT_TRUE(same_bytes(wait_for("received.bin"), data));

  // The receiver has gone: nothing listens on its port any more.
  const result bad = sh("\"$SLUICE\" run 'read data.bin | tcp-connect 127.0.0.1:" + port + "'");
  expect_one_line_error(bad, "sluice: run: stage 2 (tcp-connect): connect 127.0.0.1:" + port);
  EXPECT_NE(bad.err.find("refused"), std::string::npos) << bad.err;
}

TEST_F(NetCli, TcpListenReadsOneConnectionAndPrintsThePortItPicked) {
  const std::string data = make_text("data.bin", 1 << 20, 13);
  const result bg =
      sh("(\"$SLUICE\" run 'tcp-listen 0 | write got.bin' 2>listen.err; "
         "echo $? > listen.status.part && mv listen.status.part listen.status) & echo started");
  ASSERT_EQ(bg.status, 0);
  std::string port;
  for (int i = 0; i < 500 && port.empty(); ++i) {
    const std::string err = slurp(path("listen.err"));
    if (const auto at = err.find("listening on 127.0.0.1:");
        at != std::string::npos && err.find('\n', at) != std::string::npos)
      port = err.substr(at + 23, err.find('\n', at) - at - 23);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(port.empty()) << slurp(path("listen.err"));
  start_peer("tcp-send " + port + " data.bin");
  EXPECT_EQ(wait_for("listen.status"), "0\n") << slurp(path("listen.err"));
  EXPECT_TRUE(same_bytes(slurp(path("got.bin")), data));
}

TEST_F(NetCli, TcpConnectAsASourceAndUnixConnectBothWays) {
  const std::string data = make_text("data.bin", 1 << 20, 17);
  // unix-connect as a sink: a Python receiver.
  start_peer("unix-recv sock1 received.bin");
  wait_for("sock1");
  const result sink = sh("\"$SLUICE\" run 'read data.bin | unix-connect sock1'");
  ASSERT_EQ(sink.status, 0) << sink.err;
  EXPECT_TRUE(same_bytes(wait_for("received.bin"), data));
  // tcp-connect as a source: sluice reads from a sluice tcp-listen fed by a file.
  const result bg =
      sh("(\"$SLUICE\" run 'tcp-listen 0 | write got.bin' 2>listen.err; "
         "echo $? > listen.status.part && mv listen.status.part listen.status) & echo started");
  ASSERT_EQ(bg.status, 0);
  std::string err;
  for (int i = 0; i < 500 && err.find('\n') == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    err = slurp(path("listen.err"));
  }
  const auto at = err.find("127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << err;
  const std::string port = err.substr(at + 10, err.find('\n', at) - at - 10);
  const result send = sh("\"$SLUICE\" run 'read data.bin | tcp-connect 127.0.0.1:" + port + "'");
  ASSERT_EQ(send.status, 0) << send.err;
  EXPECT_EQ(wait_for("listen.status"), "0\n");
  EXPECT_TRUE(same_bytes(slurp(path("got.bin")), data));
  // unix-connect as a source: a Python server that sends a file to whoever connects.
  start_peer("unix-serve sock2 data.bin");
  wait_for("sock2");
  const result source = sh("\"$SLUICE\" run 'unix-connect sock2 | write got2.bin'");
  ASSERT_EQ(source.status, 0) << source.err;
  EXPECT_TRUE(same_bytes(slurp(path("got2.bin")), data));
  // A missing socket is an error naming it.
  const result missing = sh("\"$SLUICE\" run 'unix-connect nope.sock | count'");
  expect_one_line_error(missing, "sluice: run: stage 1 (unix-connect): ");
  EXPECT_NE(missing.err.find("nope.sock"), std::string::npos) << missing.err;
}

TEST_F(NetCli, NetworkStageMistakesAreSyntaxErrors) {
  const result middle = sh("\"$SLUICE\" run 'stdin | tcp-connect 127.0.0.1:9 | stdout'");
  EXPECT_EQ(middle.status, 2);
  EXPECT_NE(middle.err.find("can only be the first or the last stage"), std::string::npos)
      << middle.err;
  const result port = sh("\"$SLUICE\" run 'tcp-connect localhost | stdout'");
  EXPECT_EQ(port.status, 2);
  EXPECT_NE(port.err.find("expected HOST:PORT"), std::string::npos) << port.err;
  const result url = sh("\"$SLUICE\" run 'http-get ftp://x/'");
  EXPECT_EQ(url.status, 2);
  EXPECT_NE(url.err.find("not an http:// URL"), std::string::npos) << url.err;
}

}  // namespace
}  // namespace sluice::cli::testing
