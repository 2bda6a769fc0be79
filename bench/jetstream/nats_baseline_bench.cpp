// nats-baseline-bench: the JetStream benchmark's work written straight against libnats, the C
// client sluice's messaging layer uses, as a program that gets the most out of it would:
//
//   nats-baseline-bench pub URLS STREAM SUBJECT N SIZE
//       js_PublishAsync of N messages of SIZE bytes, each with a message ID (as sluice's writer
//       sends, for de-duplication), with libnats' own bound of 256 publishes
//       awaiting acknowledgement (PublishAsync.MaxPending: a publish beyond it blocks), into
//       STREAM (created with three replicas when missing); then js_PublishAsyncComplete.
//   nats-baseline-bench sub URLS STREAM CONSUMER N FILE
//       a pull subscription on the durable CONSUMER (created when missing, explicit
//       acknowledgement, 4096 pending at most): fetches of up to 256, each batch written to FILE
//       (a line per message) and flushed to the kernel, then every message of it acknowledged;
//       done after N messages.
//
// Prints one line: "<mode> <N> messages in <seconds> s: <messages/s> msg/s".
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

int fail(const char* what, natsStatus s) {
  std::fprintf(stderr, "%s: %s (%s)\n", what, natsStatus_GetText(s), nats_GetLastError(nullptr));
  return 1;
}

int report(const char* mode, std::uint64_t n, std::chrono::steady_clock::time_point t0) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s %llu messages in %.3f s: %.0f msg/s\n", mode, static_cast<unsigned long long>(n),
              s, static_cast<double>(n) / s);
  return 0;
}

std::atomic<std::uint64_t> refused{0};

void on_ack(jsCtx*, natsMsg* m, jsPubAck*, jsPubAckErr* pae, void*) {
  if (pae != nullptr) ++refused;
  natsMsg_Destroy(m);
}

int publish(jsCtx* js, const char* stream, const char* subject, std::uint64_t n, std::size_t size) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = stream;
  const char* subjects[] = {subject};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Replicas = 3;
  jsErrCode code{};
  natsStatus s = js_AddStream(nullptr, js, &cfg, nullptr, &code);
  if (s != NATS_OK && code != JSStreamNameExistErr) return fail("add stream", s);
  const auto t0 = std::chrono::steady_clock::now();
  std::string m;
  std::string id;
  jsPubOptions each;
  jsPubOptions_Init(&each);
  for (std::uint64_t i = 0; i < n; ++i) {
    m = std::to_string(i);
    m.resize(size, '.');
    // A message ID, as sluice's writer sends (the stream de-duplicates retries by it).
    id = "b-" + std::to_string(i);
    each.MsgId = id.c_str();
    s = js_PublishAsync(js, subject, m.data(), static_cast<int>(m.size()), &each);
    if (s != NATS_OK) return fail("publish", s);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 60'000;
  s = js_PublishAsyncComplete(js, &po);
  if (s != NATS_OK) return fail("publish complete", s);
  if (refused != 0) {
    std::fprintf(stderr, "publish: %llu refused\n",
                 static_cast<unsigned long long>(refused.load()));
    return 1;
  }
  return report("pub", n, t0);
}

int subscribe(jsCtx* js, const char* stream, const char* consumer, std::uint64_t n,
              const char* file) {
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = consumer;
  cc.AckPolicy = js_AckExplicit;
  cc.MaxAckPending = 4096;
  jsErrCode code{};
  natsStatus s = js_AddConsumer(nullptr, js, stream, &cc, nullptr, &code);
  if (s != NATS_OK && code != JSConsumerNameExistErr && code != JSConsumerExistingActiveErr)
    return fail("add consumer", s);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream;
  so.Consumer = consumer;
  natsSubscription* sub = nullptr;
  s = js_PullSubscribe(&sub, js, "", consumer, nullptr, &so, &code);
  if (s != NATS_OK) return fail("pull subscribe", s);
  std::FILE* out = std::fopen(file, "w");
  if (out == nullptr) return fail("open the file", NATS_ERR);
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t seen = 0;
  while (seen < n) {
    natsMsgList list{};
    const int want = static_cast<int>(std::min<std::uint64_t>(256, n - seen));
    s = natsSubscription_Fetch(&list, sub, want, 5000, &code);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) return fail("fetch", s);
    for (int i = 0; i < list.Count; ++i) {
      std::fwrite(natsMsg_GetData(list.Msgs[i]), 1,
                  static_cast<std::size_t>(natsMsg_GetDataLength(list.Msgs[i])), out);
      std::fputc('\n', out);
    }
    std::fflush(out);  // in the kernel before the server forgets them
    for (int i = 0; i < list.Count; ++i) natsMsg_Ack(list.Msgs[i], nullptr);
    seen += static_cast<std::uint64_t>(list.Count);
    natsMsgList_Destroy(&list);
  }
  std::fclose(out);
  natsSubscription_Destroy(sub);
  return report("sub", seen, t0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr,
                 "usage: %s pub URLS STREAM SUBJECT N SIZE\n"
                 "       %s sub URLS STREAM CONSUMER N FILE\n",
                 argv[0], argv[0]);
    return 2;
  }
  natsConnection* nc = nullptr;
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  // URLS: the cluster's servers, comma-separated.
  std::vector<std::string> urls;
  for (std::string_view rest = argv[2]; !rest.empty();) {
    const auto comma = rest.find(',');
    urls.emplace_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  std::vector<const char*> servers;
  for (const std::string& u : urls) servers.push_back(u.c_str());
  natsStatus s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
  if (s != NATS_OK) return fail("connect", s);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 256;
  // A publish beyond the window waits for room (as the sluice writer waits for 'drain') up to
  // 60 s, not libnats' default 200 ms: a cluster busy storing millions of messages pauses longer.
  jo.PublishAsync.StallWait = 60000;
  jo.PublishAsync.AckHandler = on_ack;
  jsCtx* js = nullptr;
  s = natsConnection_JetStream(&js, nc, &jo);
  if (s != NATS_OK) return fail("jetstream", s);
  const std::string mode = argv[1];
  const std::uint64_t n = std::strtoull(argv[5], nullptr, 10);
  int status = 2;
  if (mode == "pub")
    status = publish(js, argv[3], argv[4], n, std::strtoull(argv[6], nullptr, 10));
  else if (mode == "sub")
    status = subscribe(js, argv[3], argv[4], n, argv[6]);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
  nats_Close();
  return status;
}
