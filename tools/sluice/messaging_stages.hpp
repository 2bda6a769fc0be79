// tools/sluice/messaging_stages.hpp: `sluice run` stages over NATS JetStream (docs/messaging.md).
//
//   nats-pub URL SUBJECT [--stream NAME] [--replicas N] [--max-pending N]
//       a sink: a message per line (without its newline; a last line without one is a message
//       too), published to SUBJECT; a write is done once the server acknowledged every line
//       in it. --stream NAME creates the stream for SUBJECT when it is missing.
//   nats-sub URL STREAM CONSUMER [--count N] [--idle S] [--ack-wait S] [--max-ack-pending N]
//       a source: a line per message, from a durable pull consumer (created when missing).
//
// nats-sub acknowledges a message only once the sink has its line where it stays: when the sink
// takes nats-sub's bytes as they are (no stage between) and completes its writes in place
// (stdout, `write --append`, tcp-connect, ...), as the sink completes them; otherwise (stages
// between, or an atomic `write FILE` that renames its file at the end) when the run has
// succeeded, which then needs --count or --idle to end. A run that fails acknowledges nothing
// more: the server delivers the rest again after the consumer's ack wait.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "net_stages.hpp"
#include "stage_kinds.hpp"

namespace sluice::cli {

/// nats-pub URL SUBJECT [--stream NAME] [--replicas N] [--max-pending N]
struct nats_pub_stage final : stage_config {
  std::string urls;
  std::string subject;
  std::string stream;             ///< --stream: created for the subject when missing ("": none)
  int replicas = 1;               ///< --replicas: of a stream --stream creates
  std::size_t max_pending = 256;  ///< --max-pending: publishes not yet acknowledged, at most
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};

/// nats-sub URL STREAM CONSUMER [--count N] [--idle S] [--ack-wait S] [--max-ack-pending N]
struct nats_sub_stage final : stage_config {
  std::string urls;
  std::string stream;
  std::string consumer;
  std::optional<std::uint64_t> count;             ///< --count: end after N messages
  std::optional<std::chrono::milliseconds> idle;  ///< --idle: end after S seconds without one
  std::chrono::milliseconds ack_wait{30'000};     ///< --ack-wait: of a consumer it creates
  std::int64_t max_ack_pending = 1000;            ///< --max-ack-pending: of a consumer it creates
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};

[[nodiscard]] stage_parse_result parse_nats_pub(stage_args& args);
[[nodiscard]] stage_parse_result parse_nats_sub(stage_args& args);

}  // namespace sluice::cli
