#include "bench/etcd/etcd_load.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "bench/load/process_sampler.h"

namespace coffer::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Where the run is: puts completing in kMeasure are counted.
enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

// What the connections share with the driver.
struct Run {
  std::atomic<int> phase{kWarmup};
  uint64_t max_ops = 0;
  std::atomic<uint64_t> counted{0};
  std::mutex mu;
  std::condition_variable max_reached;  // notified when counted reaches max_ops
};

// Counts of one connection; touched only by its own handler chain (one at a
// time), read by the driver after the event loop has stopped.
struct ConnectionStats {
  uint64_t ok = 0;
  std::map<std::string, uint64_t> errors;
  std::vector<uint32_t> latencies_us;
};

// One keep-alive connection with one put outstanding at a time: connect,
// then write a put, read its answer, repeat until the run stops. A failed
// connection is made again after a short, bounded pause.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, Run& run, asio::ip::tcp::endpoint endpoint,
             std::string key_prefix, std::string value_b64, std::chrono::milliseconds timeout)
      : stream_(io),
        retry_timer_(io),
        run_(run),
        endpoint_(endpoint),
        key_prefix_(std::move(key_prefix)),
        value_b64_(std::move(value_b64)),
        timeout_(timeout) {}

  void Begin() { Connect(); }
  ConnectionStats& stats() { return stats_; }

 private:
  void Connect() {
    if (run_.phase.load() == kStop) return;
    stream_.expires_after(timeout_);
    stream_.async_connect(endpoint_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Fail(ec == beast::error::timeout ? "TIMEOUT" : "CONNECT");
      self->stream_.socket().set_option(asio::ip::tcp::no_delay(true));
      self->Put();
    });
  }

  void Put() {
    if (run_.phase.load() == kStop) return;
    request_ = {};
    request_.method(http::verb::post);
    request_.target("/v3/kv/put");
    request_.version(11);
    request_.set(http::field::host, endpoint_.address().to_string());
    request_.set(http::field::content_type, "application/json");
    request_.keep_alive(true);
    request_.body() = "{\"key\":\"" + Base64(key_prefix_ + std::to_string(seq_++)) +
                      "\",\"value\":\"" + value_b64_ + "\"}";
    request_.prepare_payload();
    response_ = {};
    started_ = Clock::now();
    stream_.expires_after(timeout_);  // covers the write and the read
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail(ec == beast::error::timeout ? "TIMEOUT" : "IO");
      http::async_read(self->stream_, self->buffer_, self->response_,
                       [self](beast::error_code ec, size_t) { self->Answered(ec); });
    });
  }

  void Answered(beast::error_code ec) {
    if (ec) return Fail(ec == beast::error::timeout ? "TIMEOUT" : "IO");
    auto latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    int status = static_cast<int>(response_.result_int());
    if (status == 200) {
      if (Counted()) {
        ++stats_.ok;
        stats_.latencies_us.push_back(static_cast<uint32_t>(
            std::min<int64_t>(latency.count(), std::numeric_limits<uint32_t>::max())));
      }
    } else if (Counted()) {
      ++stats_.errors["HTTP_" + std::to_string(status)];
    }
    if (!response_.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().close(ignored);
      return Connect();
    }
    Put();
  }

  void Fail(const std::string& code) {
    if (run_.phase.load() == kStop) return;
    if (Counted()) ++stats_.errors[code];
    beast::error_code ignored;
    stream_.socket().close(ignored);
    // A pause before connecting again, so a refused connection does not spin.
    retry_timer_.expires_after(std::chrono::milliseconds(10));
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Connect();
    });
  }

  // Whether an outcome arriving now belongs to the measured window; with
  // max_ops, the put that reaches it ends the window.
  bool Counted() {
    if (run_.phase.load() != kMeasure) return false;
    if (run_.max_ops == 0) return true;
    uint64_t n = run_.counted.fetch_add(1) + 1;
    if (n == run_.max_ops) {
      run_.phase.store(kStop);
      std::lock_guard<std::mutex> lock(run_.mu);
      run_.max_reached.notify_all();
    }
    return n <= run_.max_ops;
  }

  beast::tcp_stream stream_;
  asio::steady_timer retry_timer_;
  Run& run_;
  asio::ip::tcp::endpoint endpoint_;
  std::string key_prefix_;
  std::string value_b64_;
  std::chrono::milliseconds timeout_;
  uint64_t seq_ = 0;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  Clock::time_point started_;
  ConnectionStats stats_;
};

StatusOr<asio::ip::tcp::endpoint> ParseAddress(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("etcd: address without port: " + address);
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address.substr(0, colon), ec);
  int port = std::atoi(address.c_str() + colon + 1);
  if (ec || port <= 0 || port > 65535) return InvalidArgument("etcd: bad address: " + address);
  return asio::ip::tcp::endpoint(ip, static_cast<uint16_t>(port));
}

}  // namespace

EtcdLoadOptions EtcdLoadOptionsFor(const EtcdCluster& cluster, const LoadShape& shape) {
  EtcdLoadOptions options;
  options.shape = shape;
  options.addresses = cluster.ClientAddresses();
  for (const auto& m : cluster.members()) options.processes.push_back({"etcd " + m.name, m.pid});
  return options;
}

StatusOr<LoadResult> RunEtcdLoad(const EtcdLoadOptions& options) {
  const LoadShape& shape = options.shape;
  if (shape.clients < 1 || shape.in_flight < 1) {
    return InvalidArgument("etcd load: clients and in_flight must be at least 1");
  }
  if (options.addresses.empty()) return InvalidArgument("etcd load: no member address");
  if (options.io_threads < 1) return InvalidArgument("etcd load: io_threads must be at least 1");
  std::vector<asio::ip::tcp::endpoint> endpoints;
  for (const auto& a : options.addresses) {
    COFFER_ASSIGN_OR_RETURN(auto endpoint, ParseAddress(a));
    endpoints.push_back(endpoint);
  }

  // One value per run, of random bytes (nothing compresses it away).
  std::string value(shape.value_size, '\0');
  std::mt19937_64 rng(std::random_device{}());
  for (char& c : value) c = static_cast<char>(rng());
  std::string value_b64 = Base64(value);
  std::string run_prefix = options.key_prefix + std::to_string(rng() % 1000000000) + "/";

  Run run;
  run.max_ops = shape.max_ops;
  asio::io_context io;
  std::vector<std::shared_ptr<Connection>> connections;
  int total = shape.clients * shape.in_flight;
  for (int i = 0; i < total; ++i) {
    int client = i / shape.in_flight;  // client c owns connections c*K .. c*K+K-1
    connections.push_back(std::make_shared<Connection>(
        io, run, endpoints[client % endpoints.size()], run_prefix + std::to_string(i) + "/",
        value_b64, options.request_timeout));
  }
  for (auto& c : connections) c->Begin();
  std::vector<std::thread> threads;
  for (int i = 0; i < options.io_threads; ++i) threads.emplace_back([&io] { io.run(); });

  std::this_thread::sleep_for(shape.warmup);  // the warm-up is a span of time, not a wait on work
  ProcessSampler sampler(options.processes);
  sampler.Start();
  auto window_start = Clock::now();
  run.phase.store(kMeasure);
  {
    std::unique_lock<std::mutex> lock(run.mu);
    run.max_reached.wait_until(lock, window_start + shape.duration,
                               [&] { return run.phase.load() == kStop; });
  }
  run.phase.store(kStop);
  auto window_end = Clock::now();
  LoadResult result;
  result.processes = sampler.Stop();
  // Outstanding puts end by their answer or by request_timeout; each
  // connection then stops issuing, so the loop runs dry.
  for (auto& t : threads) t.join();

  result.system = "etcd";
  result.workload = "put";
  result.shape = shape;
  result.seconds = std::chrono::duration<double>(window_end - window_start).count();
  for (auto& c : connections) {
    ConnectionStats& s = c->stats();
    result.ok_ops += s.ok;
    for (const auto& [code, n] : s.errors) result.errors[code] += n;
    result.latencies_us.insert(result.latencies_us.end(), s.latencies_us.begin(),
                               s.latencies_us.end());
  }
  // Every put is applied by each member's store.
  result.records_applied_per_second =
      result.OpsPerSecond() * static_cast<double>(options.addresses.size());
  return result;
}

}  // namespace coffer::bench
