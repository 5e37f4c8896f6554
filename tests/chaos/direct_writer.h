// DirectWriter: critical writes sent straight to one node (no failover)
// while a fault holds. Clients fail over and stick to the node that worked,
// so only this makes sure the node under the fault is asked to write (R3's
// split node, R8's node with its clock ahead).
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "tests/chaos/scenario.h"

namespace coffer::chaos {

// Sends registers straight to node `i` every 50 ms from construction until
// destruction, each in the History (client -2) and, acknowledged, in the
// Ledger as acknowledged by `i`.
class DirectWriter {
 public:
  DirectWriter(Context& ctx, size_t i) : ctx_(ctx), i_(i), thread_([this] { Run(); }) {}
  ~DirectWriter() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Run() {
    ChaosCluster& c = ctx_.cluster;
    for (int n = 0; !stop_ && n < 10'000; ++n) {
      pb::Request request;
      request.set_request_id("chaos-direct-" + c.name(i_) + "-" +
                             std::to_string(c.history().Now()));
      auto* r = request.mutable_write()->mutable_register_object();
      r->set_type(pb::SECRET_DATA);
      r->set_name(request.request_id());
      r->set_material(request.request_id());
      double invoked = c.history().Now();
      c.history().Add(
          {invoked, -2, "register", EventType::kInvoke, "", "", request.request_id(), "", 0});
      auto response = c.node(i_).Call(request);
      double done = c.history().Now();
      std::string code = !response.ok() ? std::string(CodeName(response.status().code()))
                         : response->code().empty() ? "OK"
                                                    : response->code();
      EventType type = code == "OK"                ? EventType::kOk
                       : code == "OUTCOME_UNKNOWN" ? EventType::kUnknown
                                                   : EventType::kFail;
      std::string uuid = type == EventType::kOk ? response->op_result().uuid() : "";
      c.history().Add({done, -2, "register", type, c.name(i_), code, request.request_id(), uuid,
                       (done - invoked) * 1000});
      if (type == EventType::kOk) {
        ctx_.ledger.Ack({"register", request.request_id(), uuid, request.request_id(),
                         request.request_id(), c.name(i_), invoked, done});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the writer's pace
    }
  }

  Context& ctx_;
  size_t i_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace coffer::chaos
