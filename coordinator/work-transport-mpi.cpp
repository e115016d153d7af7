#include "coordinator/work-transport-mpi.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include <nlohmann/json.hpp>
#include <cstring>

#include "cluster/communicator.h"
#include "cluster/control-message.h"
#include "cluster/mpi-channel.h"
#include "cluster/mpi-runtime.h"
#include "coordinator/item-heartbeat.h"
#include "coordinator/work-transport-threads.h"
#include "core/check.h"
#include "core/error.h"

namespace t2 {

namespace {

constexpr uint64_t kShutdownSize = ~uint64_t{0};

Message item_message(const WorkItem& item) {
  Message m;
  m.type = MessageType::request;
  m.request_id = item.id;
  m.job_id = item.job;
  m.kind = item.kind;
  m.meta = nlohmann::json{{"model", item.model}, {"index", item.index}, {"attempt", item.attempt}, {"units", item.units},
                              {"heartbeat_s", item.heartbeat_seconds}}
               .dump();
  m.add_blob("payload", item.payload.data(), item.payload.size(), DType::u8);
  return m;
}

WorkItem item_from_message(const Message& m) {
  WorkItem item;
  item.id = m.request_id;
  item.job = m.job_id;
  item.kind = m.kind;
  auto meta = nlohmann::json::parse(m.meta);
  item.model = meta.at("model").get<std::string>();
  item.index = meta.at("index").get<uint64_t>();
  item.attempt = meta.at("attempt").get<int>();
  item.units = meta.at("units").get<uint64_t>();
  item.heartbeat_seconds = meta.value("heartbeat_s", 0.0);
  const Blob& b = m.blob("payload");
  item.payload.assign(b.bytes.begin(), b.bytes.end());
  return item;
}

// The group's first rank hands the item (or the shutdown) to the others of its TP group.
void group_broadcast(Communicator* group, std::string& bytes, bool& shutdown, Seconds timeout) {
  if (!group || group->size() == 1) return;
  CollectiveOptions opt{timeout};
  uint64_t size = shutdown ? kShutdownSize : bytes.size();
  group->broadcast(BufferView{&size, 1, DType::i64}, 0, opt);
  if (size == kShutdownSize) {
    shutdown = true;
    return;
  }
  bytes.resize(size);
  if (size) group->broadcast(BufferView{bytes.data(), size, DType::u8}, 0, opt);
}

}  // namespace

std::string encode_work_item(const WorkItem& item) {
  auto v = encode_message(item_message(item));
  return std::string(v.begin(), v.end());
}

WorkItem decode_work_item(const std::string& bytes, const std::string& origin) {
  return item_from_message(decode_message(bytes.data(), bytes.size(), origin));
}

MpiWorkTransport::MpiWorkTransport(MpiChannel& channel, const WorldLayout& layout, ItemExecutor local)
    : chan_(channel), layout_(layout) {
  if (layout_.coordinator_works()) {
    T2_CHECK(local != nullptr, "rank 0 leads worker group 0 but no local executor was given");
    local_ = std::make_unique<ThreadTransport>(
        1, [local](const WorkItem& item, ThreadTransport::Context&) { return local(item); });
  }
}

MpiWorkTransport::~MpiWorkTransport() {
  if (!shut_down_) {
    try {
      shutdown(Deadline::after(Seconds(10)));
    } catch (...) {
    }
  }
}

int MpiWorkTransport::group_rank(int group) const { return layout_.group_ranks(group).at(0); }

void MpiWorkTransport::send(int group, const WorkItem& item) {
  if (local_ && group == 0) {
    local_->send(0, item);
    return;
  }
  // bounded by the item's own deadline: a request to a stopped rank (too large to go out eagerly)
  // fails as the scheduler's deadline would, not after the 600 s default
  const Seconds bound = item.deadline_seconds > 0 ? Seconds(item.deadline_seconds) : timeouts::control_message;
  chan_.send(item_message(item), group_rank(group), Deadline::after(bound));
}

std::optional<WorkResult> MpiWorkTransport::poll(Deadline deadline) {
  for (;;) {
    if (local_) {
      if (auto r = local_->poll(Deadline::after(Seconds(0)))) return r;
    }
    // Short slices when a local group may answer, so neither side waits on the other.
    Deadline slice = local_ ? Deadline::after(Seconds(0.005)) : deadline;
    if (local_ && deadline.remaining() < Seconds(0.005)) slice = deadline;
    if (auto got = chan_.recv_any(slice)) {
      const Message& m = got->message;
      if (m.type == MessageType::heartbeat) {
        WorkResult r;
        r.item_id = m.request_id;
        r.group = layout_.group_of(got->source);
        r.heartbeat = true;
        return r;
      }
      if (m.type != MessageType::reply && m.type != MessageType::error) {
        spdlog::warn("coordinator: ignoring a {} message from rank {}", message_type_name(m.type), got->source);
        continue;
      }
      WorkResult r;
      r.item_id = m.request_id;
      r.group = layout_.group_of(got->source);
      auto meta = m.meta.empty() ? nlohmann::json::object() : nlohmann::json::parse(m.meta);
      r.seconds = meta.value("seconds", 0.0);
      if (m.type == MessageType::error) {
        r.ok = false;
        r.error = meta.value("error", std::string("(no message)"));
      } else {
        const Blob& b = m.blob("payload");
        r.payload.assign(b.bytes.begin(), b.bytes.end());
      }
      return r;
    }
    if (deadline.expired()) return std::nullopt;
  }
}

void MpiWorkTransport::shutdown(Deadline deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  Message bye;
  bye.type = MessageType::shutdown;
  std::string failures;
  for (int g = 0; g < layout_.num_groups(); ++g) {
    if (local_ && g == 0) continue;
    try {
      chan_.send(bye, group_rank(g), deadline);
    } catch (const std::exception& e) {
      failures += std::string(failures.empty() ? "" : "; ") + e.what();
    }
  }
  if (local_) local_->shutdown(deadline);
  if (!failures.empty()) spdlog::warn("coordinator: shutdown did not reach every group: {}", failures);
}

int run_worker_loop(MpiChannel& chan, const WorldLayout& layout, Communicator* group, const ItemExecutor& exec,
                    Seconds idle_timeout) {
  const bool leader = layout.tp_rank() == 0;
  for (;;) {
    std::string bytes;
    bool shutdown = false;
    WorkItem item;
    if (leader) {
      Message m = chan.recv_from(0, Deadline::after(idle_timeout));
      if (m.type == MessageType::shutdown) {
        shutdown = true;
      } else {
        T2_CHECK_AS(FormatError, m.type == MessageType::request, "rank {}: expected a request from the coordinator, got {}",
                    layout.world_rank(), m.describe());
        item = item_from_message(m);
        bytes = encode_work_item(item);
      }
    }
    group_broadcast(group, bytes, shutdown, idle_timeout);
    if (shutdown) return 0;
    if (!leader) item = decode_work_item(bytes, "the first rank of this group");
    const auto t0 = std::chrono::steady_clock::now();
    Message reply;
    reply.request_id = item.id;
    reply.job_id = item.job;
    reply.kind = item.kind;
    try {
      std::string out;
      {
        // The group's first rank signs of life while it works (a stopped or dead process does not),
        // from a thread of its own: needs MPI_THREAD_MULTIPLE (else the item's deadline alone applies).
        std::unique_ptr<ItemHeartbeat> beat;
        if (leader && item.heartbeat_seconds > 0 && mpi_thread_level() >= MPI_THREAD_MULTIPLE) {
          Message hb;
          hb.type = MessageType::heartbeat;
          hb.request_id = item.id;
          hb.job_id = item.job;
          hb.kind = item.kind;
          beat = std::make_unique<ItemHeartbeat>(Seconds(item.heartbeat_seconds), [&chan, hb] {
            chan.send(hb, 0, Deadline::after(timeouts::control_message));
          });
        }
        out = exec(item);
      }
      reply.type = MessageType::reply;
      reply.add_blob("payload", out.data(), out.size(), DType::u8);
      reply.meta = nlohmann::json{{"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}}
                       .dump();
    } catch (const std::exception& e) {
      reply.type = MessageType::error;
      reply.meta = nlohmann::json{{"error", "rank " + std::to_string(layout.world_rank()) + ": " + e.what()}}.dump();
      // A failed TP rank may leave its peers inside a collective: they time out on their own.
    }
    if (leader) chan.send(reply, 0, Deadline::after(timeouts::control_message));
  }
}

std::string run_group_item(Communicator* group, const ItemExecutor& exec, const WorkItem& item, Seconds timeout) {
  std::string bytes = encode_work_item(item);
  bool shutdown = false;
  group_broadcast(group, bytes, shutdown, timeout);
  return exec(item);
}

void group_shutdown(Communicator* group, Seconds timeout) {
  std::string bytes;
  bool shutdown = true;
  group_broadcast(group, bytes, shutdown, timeout);
}

}  // namespace t2
