// UDP probes on real Linux sockets, on loopback (no privilege needed): what the error queue
// reports for a closed port, the retry of a send that a pending ICMP error would fail, and the
// whole engine measuring a closed port and an echo service over IPv4 and IPv6.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <thread>
#include <vector>

#include "fakes.h"
#include "platform/linux/linux_engine.h"
#include "platform/linux/sockaddr.h"
#include "platform/linux/udp_socket.h"
#include "probe_loop.h"
#include "udp_probe.h"

using namespace reachmon;
using namespace std::chrono_literals;
using core::lnx::UniqueFd;

namespace {

UniqueFd boundUdp(const char* address, std::uint16_t& port) {
  const auto ip = *core::parseIpAddress(address);
  UniqueFd fd(::socket(ip.family == core::Family::kIpv4 ? AF_INET : AF_INET6,
                       SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_storage sa;
  socklen_t len = core::lnx::toSockaddr(ip, sa);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0);
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  port = ntohs(sa.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(sa).sin_port
                                       : reinterpret_cast<sockaddr_in6&>(sa).sin6_port);
  return fd;
}

// A port on `address` where nobody listens: bound, then closed again.
std::uint16_t closedPort(const char* address) {
  std::uint16_t port = 0;
  boundUdp(address, port);
  return port;
}

// Echoes every datagram to 127.0.0.1 / ::1 on its port until destroyed.
class EchoService {
 public:
  EchoService() : v4_(boundUdp("127.0.0.1", port4)), v6_(boundUdp("::1", port6)) {
    thread_ = std::thread([this] { run(); });
  }
  ~EchoService() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port4 = 0, port6 = 0;

 private:
  void run() {
    pollfd fds[] = {{v4_.get(), POLLIN, 0}, {v6_.get(), POLLIN, 0}};
    std::vector<std::uint8_t> buf(65536);
    while (!stop_) {
      if (::poll(fds, 2, 20) <= 0) continue;
      for (const auto& p : fds) {
        if (!(p.revents & POLLIN)) continue;
        sockaddr_storage from;
        socklen_t len = sizeof from;
        const ssize_t n = ::recvfrom(p.fd, buf.data(), buf.size(), MSG_DONTWAIT,
                                     reinterpret_cast<sockaddr*>(&from), &len);
        if (n >= 0)
          ::sendto(p.fd, buf.data(), static_cast<std::size_t>(n), 0,
                   reinterpret_cast<sockaddr*>(&from), len);
      }
    }
  }
  UniqueFd v4_, v6_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct RecordingSink final : core::ReplySink {
  void onReply(const core::EchoReply& r) override { replies.push_back(r.sequence); }
  void onError(core::Family, const core::IcmpErrorReport& r) override {
    errors.push_back(r);
    quotes.emplace_back(r.quoted->begin(), r.quoted->end());
  }
  std::vector<std::uint16_t> replies;
  std::vector<core::IcmpErrorReport> errors;
  std::vector<std::vector<std::uint8_t>> quotes;
};

core::PathSpec udpPath(const char* source, const char* name, const char* target,
                       std::uint16_t port) {
  core::PathSpec p{source, name, target, {}, core::parseIpAddress(target), {}};
  p.options.interval = 100ms;
  p.options.timeout = 1s;
  p.options.probe = core::ProbeKind::kUdp;
  p.options.port = port;
  return p;
}

}  // namespace

TEST_CASE("UdpSocket: a closed port's error comes with the quote, offender, source and time",
          "[linux_udp]") {
  for (const char* address : {"127.0.0.1", "::1"}) {
    INFO(address);
    const auto ip = *core::parseIpAddress(address);
    std::string error;
    int os_error = 0;
    auto socket = core::lnx::UdpSocket::open(ip.family, error, os_error);
    REQUIRE(socket);
    const std::uint16_t port = closedPort(address);
    core::ProbeOptions options;
    options.probe = core::ProbeKind::kUdp;
    options.port = port;
    std::vector<std::uint8_t> datagram(100, 0x33);
    test::FakeClock clock;
    RecordingSink sink;
    // Two probes, the second sent while the first one's error is pending on the socket: the
    // kernel fails that send with ECONNREFUSED unless it is sent again.
    for (const std::uint16_t seq : {std::uint16_t{7}, std::uint16_t{8}}) {
      core::udp::writeHeader(datagram, 0x1122334455667788ULL, seq);
      REQUIRE(socket->queue({ip, ip, seq, datagram, options}).status == core::SendStatus::kQueued);
      socket->batch().send();
      const auto sent = socket->batch().result(0);
      socket->batch().clear();
      CHECK(sent.status == core::SendStatus::kOk);
      CHECK(sent.os_error == 0);
      std::this_thread::sleep_for(50ms);
    }
    socket->drain(sink, clock.now(), true);
    REQUIRE(sink.errors.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      const auto& e = sink.errors[i];
      CHECK(e.probe == core::ProbeKind::kUdp);
      CHECK(e.port_unreachable);
      CHECK(e.reason == core::ErrorReason::kDestUnreachable);
      CHECK(e.original_target == ip);
      CHECK(e.original_port == port);
      CHECK(e.original_source == ip);
      CHECK(e.offender == ip);
      CHECK(e.sequence == static_cast<std::uint16_t>(7 + i));
      CHECK(sink.quotes[i].size() == datagram.size());
      CHECK(e.realtime_rx_ns > 0);
      CHECK(e.ttl > 0);
    }
  }
}

TEST_CASE("LinuxEngine: UDP probes reach a closed port and an echo service over IPv4 and IPv6",
          "[linux_udp]") {
  auto clock = std::make_shared<core::SteadyClock>();
  std::unique_ptr<core::lnx::LinuxEngine> engine;
  try {
    engine = std::make_unique<core::lnx::LinuxEngine>(core::MonitorOptions{}, clock);
  } catch (const std::exception& e) {
    WARN("no ICMP socket here, Linux engine not tested: " << e.what());
    return;
  }
  EchoService echo;
  core::ProbeLoop loop(clock, std::move(engine), 3);
  loop.apply({{{"lo4", core::Family::kIpv4, core::parseIpAddress("127.0.0.1"), std::nullopt},
               {"lo6", core::Family::kIpv6, core::parseIpAddress("::1"), std::nullopt}},
              {udpPath("lo4", "closed4", "127.0.0.1", closedPort("127.0.0.1")),
               udpPath("lo4", "echo4", "127.0.0.1", echo.port4),
               udpPath("lo6", "closed6", "::1", closedPort("::1")),
               udpPath("lo6", "echo6", "::1", echo.port6)}},
             core::Duration{0});
  const auto paths = loop.snapshot()->paths;
  const auto started = std::chrono::steady_clock::now();
  const auto all_replied = [&] {
    return std::all_of(paths.begin(), paths.end(),
                       [](const auto& p) { return p.stats->replied.load() >= 10; });
  };
  while (!all_replied() && std::chrono::steady_clock::now() < started + 30s)
    loop.turn(core::ProbeLoop::kMaxSleep);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  loop.finish();
  for (const auto& p : paths) {
    INFO(p.spec->target);
    const auto& s = *p.stats;
    CHECK(s.replied.load() >= 10);
    CHECK(s.timed_out.load() == 0);
    for (const auto& e : s.errors) CHECK(e.load() == 0);  // send_failed included
    CHECK(s.last_rtt_ns.load() > 0);
    CHECK(s.last_rtt_ns.load() < std::chrono::nanoseconds(elapsed).count());
    CHECK(s.reply_ttl.load() > 0);
  }
  CHECK(loop.stats().unmatched_errors.load() == 0);
  CHECK(loop.stats().invalid_replies.load() == 0);
}
