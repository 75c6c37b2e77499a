// A fake of the Winsock calls of UDP probes (core/src/platform/win/winsock_api.h) for engine
// tests. It records every call and completes operations the way Windows does: by queueing the
// caller's completion routine to the thread that issued the operation, which runs it during an
// alertable wait. What a datagram draws (an echo, a port unreachable, a TTL expiry, nothing) is
// scripted per destination and arrives at a time on the test's clock, completing the socket's
// pending receive when the test calls completeDue(); no thread of its own, no sleeping. It models
// the documented contract: a send completed at once (0, and the routine still runs), a pending
// one (WSA_IO_PENDING), a synchronous failure (no routine), a stale WSAECONNRESET failing a send
// at once, a receive posted while a datagram waits (0 at once), truncation (WSAEMSGSIZE),
// cancellation by CancelIoEx or closesocket (WSA_OPERATION_ABORTED; Wine's closesocket says
// WSAEINVAL), a socket that refuses CancelIoEx, and operations that never complete.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "platform/win/win.h"
#include "platform/win/winsock_api.h"
#include "reachmon/core/clock.h"

namespace reachmon::test {

class FakeWinsockApi final : public core::win::WinsockApi {
 public:
  // kEcho: the target echoes the datagram from its port; kCorruptEcho: with byte corrupt_at
  // flipped (and/or size_delta bytes more or fewer); kPortUnreachable / kTtlExpired: the
  // socket's pending receive fails with WSAECONNRESET / WSAENETRESET; kSilent: nothing comes
  // back; kFailSend: WSASendMsg fails at once with `error`, no routine.
  enum class Mode { kEcho, kCorruptEcho, kPortUnreachable, kTtlExpired, kSilent, kFailSend };
  struct Script {
    Mode mode = Mode::kEcho;
    core::Duration delay{2'000'000};  // from the send to the answer
    bool send_at_once = true;         // WSASendMsg returns 0 (the routine still runs), or
    core::Duration send_delay{0};     // WSA_IO_PENDING and completes this long after
    int error = 0;                    // kFailSend
    int corrupt_at = -1;              // kCorruptEcho
    int size_delta = 0;               // kCorruptEcho
    int stale_resets = 0;  // this many WSASendMsg calls fail at once with WSAECONNRESET first
    bool report_destination = true;  // IN_PKTINFO / IN6_PKTINFO with the echo
  };
  // One WSASendMsg call, as the fake saw it.
  struct Send {
    SOCKET socket = INVALID_SOCKET;
    int family = 0;
    std::string target;  // address text
    std::uint16_t port = 0;
    std::vector<std::uint8_t> data;
    std::optional<std::string> source;  // from IN_PKTINFO / IN6_PKTINFO, if the call had one
    ULONG source_ifindex = 0;
    int ttl = -1;  // the socket's IP_TTL / IPV6_UNICAST_HOPS and DF at the call (-1: never set)
    int dont_fragment = -1;
    int result = 0;  // what the call returned
    DWORD thread = 0;
  };
  struct Option {
    SOCKET socket;
    int level, name;
    DWORD value;
  };

  explicit FakeWinsockApi(const core::Clock& clock) : clock_(clock) {}

  std::map<std::string, Script> scripts;  // key: "v4:<dotted>" or "v6:<addr>"
  Script fallback;

  SOCKET openUdp(int family, int& error) override {
    std::lock_guard lock(mutex_);
    ++opens;
    if (open_error) {
      error = open_error;
      return INVALID_SOCKET;
    }
    const SOCKET s = next_socket_;
    next_socket_ += 4;
    sockets_[s].family = family;
    return s;
  }
  int bind(SOCKET s, const sockaddr* address, int) override {
    std::lock_guard lock(mutex_);
    if (bind_error) return bind_error;
    sockets_[s].bound = address->sa_family == sockets_[s].family;
    return 0;
  }
  int setOption(SOCKET s, int level, int name, DWORD value) override {
    std::lock_guard lock(mutex_);
    options_.push_back({s, level, name, value});
    auto& sock = sockets_[s];
    const bool v4 = level == IPPROTO_IP;
    if (name == (v4 ? IP_TTL : IPV6_UNICAST_HOPS)) sock.ttl = static_cast<int>(value);
    if (name == (v4 ? IP_DONTFRAGMENT : IPV6_DONTFRAG))
      sock.dont_fragment = static_cast<int>(value);
    if (name == (v4 ? IP_PKTINFO : IPV6_PKTINFO)) sock.pktinfo = value != 0;
    return 0;
  }
  int ioctl(SOCKET s, DWORD code, BOOL value) override {
    std::lock_guard lock(mutex_);
    if (code == SIO_UDP_NETRESET && netreset_refused) return WSAEOPNOTSUPP;  // as Wine 8.0
    if (code == SIO_UDP_CONNRESET) sockets_[s].connreset = value;
    if (code == SIO_UDP_NETRESET) sockets_[s].netreset = value;
    return 0;
  }
  int sendMsg(SOCKET s, int family, WSAMSG* message, WSAOVERLAPPED* overlapped,
              LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) override {
    Send call;
    call.socket = s;
    call.family = family;
    call.thread = GetCurrentThreadId();
    std::uint16_t port = 0;
    call.target = text(*reinterpret_cast<const sockaddr_storage*>(message->name), port);
    call.port = port;
    const WSABUF& buffer = message->lpBuffers[0];
    call.data.assign(buffer.buf, buffer.buf + buffer.len);
    readSource(*message, call);
    const std::string key = std::string(family == AF_INET ? "v4:" : "v6:") + call.target;
    std::lock_guard lock(mutex_);
    auto script_it = scripts.find(key);
    Script& script = script_it == scripts.end() ? fallback : script_it->second;
    const auto& sock = sockets_[s];
    call.ttl = sock.ttl;
    call.dont_fragment = sock.dont_fragment;
    if (!sock.bound) {
      call.result = WSAEINVAL;  // "the socket has not been bound" (the WSASendMsg page)
    } else if (script.stale_resets > 0) {
      --script.stale_resets;
      call.result = WSAECONNRESET;
    } else if (script.mode == Mode::kFailSend) {
      call.result = script.error;
    }
    if (call.result != 0) {
      sends_.push_back(call);
      return call.result;
    }
    auto op = newOp(s, false, message, overlapped, routine);
    op->buffer = reinterpret_cast<const std::uint8_t*>(buffer.buf);
    op->sent = call.data;
    op->due = clock_.now() + script.send_delay;
    call.result = script.send_at_once ? 0 : WSA_IO_PENDING;
    sends_.push_back(call);
    answer(s, script, call);
    if (script.send_at_once) queue(*op);
    return call.result;
  }
  int recvMsg(SOCKET s, int, WSAMSG* message, WSAOVERLAPPED* overlapped,
              LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) override {
    std::lock_guard lock(mutex_);
    ++receives_posted;
    auto op = newOp(s, true, message, overlapped, routine);
    // A datagram (or an error) already waiting completes the receive at once: 0, and the routine
    // still runs.
    const auto it = std::find_if(arrivals_.begin(), arrivals_.end(), [&](const Arrival& a) {
      return a.socket == s && a.due <= clock_.now();
    });
    if (it == arrivals_.end()) return WSA_IO_PENDING;
    Arrival arrival = *it;
    arrivals_.erase(it);
    fill(*op, arrival);
    queue(*op);
    return 0;
  }
  DWORD cancelIo(SOCKET s) override {
    std::lock_guard lock(mutex_);
    ++cancels;
    if (cancel_refused) return ERROR_INVALID_HANDLE;
    return abortOn(s, WSA_OPERATION_ABORTED) == 0 ? ERROR_NOT_FOUND : 0;
  }
  void close(SOCKET s) override {
    std::lock_guard lock(mutex_);
    ++closes;
    auto& sock = sockets_[s];
    if (sock.closed) ++double_closes;
    sock.closed = true;
    if (abortOn(s, close_error) > 0) ++closes_with_pending;
    std::erase_if(arrivals_, [&](const Arrival& a) { return a.socket == s; });
  }

  // Completes, as Windows would, every operation due by the clock: pending sends, and the
  // pending receive of each socket an answer has reached.
  void completeDue() {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    for (auto& op : ops_)
      if (!op->receive && !op->queued && op->due <= now) queue(*op);
    std::stable_sort(arrivals_.begin(), arrivals_.end(),
                     [](const Arrival& a, const Arrival& b) { return a.due < b.due; });
    for (auto it = arrivals_.begin(); it != arrivals_.end();) {
      Op* receive = it->due <= now ? pendingReceive(it->socket) : nullptr;
      if (!receive) {
        ++it;
        continue;
      }
      fill(*receive, *it);
      queue(*receive);
      it = arrivals_.erase(it);
    }
  }
  // A datagram from `from`:`port` reaching socket s now (tests of strays).
  void arrive(SOCKET s, const char* from, std::uint16_t port, std::vector<std::uint8_t> data) {
    std::lock_guard lock(mutex_);
    Arrival a{s, clock_.now(), 0, std::move(data), {}, std::nullopt};
    a.from = address(from, port);
    arrivals_.push_back(std::move(a));
  }

  std::vector<Send> sends() const {
    std::lock_guard lock(mutex_);
    return sends_;
  }
  std::vector<Option> options() const {
    std::lock_guard lock(mutex_);
    return options_;
  }
  // Operations issued whose routine has not been queued yet.
  std::size_t pendingOps() const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(
        std::count_if(ops_.begin(), ops_.end(), [](const auto& op) { return !op->queued; }));
  }
  std::size_t openSockets() const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(sockets_.begin(), sockets_.end(),
                                                  [](const auto& s) { return !s.second.closed; }));
  }
  bool socketConfigured(SOCKET s) const {  // bound, PKTINFO and SIO_UDP_CONNRESET on
    std::lock_guard lock(mutex_);
    const auto& sock = sockets_.at(s);
    return sock.bound && sock.pktinfo && sock.connreset;
  }

  // Configuration.
  std::atomic<int> open_error{0};
  std::atomic<int> bind_error{0};
  std::atomic<bool> netreset_refused{false};  // SIO_UDP_NETRESET fails (Wine 8.0)
  std::atomic<bool> cancel_refused{false};    // CancelIoEx fails with ERROR_INVALID_HANDLE
  std::atomic<bool> ignore_cancel{false};     // nothing pending ever completes, even on close
  std::atomic<int> close_error{WSA_OPERATION_ABORTED};  // what closesocket completes with

  // What happened. Checked while completing: a routine runs on the issuing thread, and a send's
  // datagram is still the caller's, unpoisoned, when its routine runs.
  std::atomic<int> opens{0};
  std::atomic<int> closes{0};
  std::atomic<int> double_closes{0};
  std::atomic<int> closes_with_pending{0};
  std::atomic<int> cancels{0};
  std::atomic<int> receives_posted{0};
  std::atomic<int> completions{0};
  std::atomic<int> aborted_completions{0};
  std::atomic<int> wrong_thread_completions{0};
  std::atomic<int> poisoned_at_completion{0};
  std::atomic<int> routines_running{0};
  std::atomic<int> nested_routines{0};

 private:
  struct SocketState {
    int family = 0;
    bool bound = false;
    bool closed = false;
    bool pktinfo = false;
    bool connreset = false;
    bool netreset = false;
    int ttl = -1;
    int dont_fragment = -1;
  };
  struct Arrival {
    SOCKET socket;
    core::TimePoint due;
    DWORD error;
    std::vector<std::uint8_t> data;
    sockaddr_storage from;
    std::optional<sockaddr_storage> to;
  };
  struct Op {
    FakeWinsockApi* api = nullptr;
    SOCKET socket = INVALID_SOCKET;
    bool receive = false;
    WSAMSG* message = nullptr;
    WSAOVERLAPPED* overlapped = nullptr;
    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine = nullptr;
    HANDLE thread = nullptr;
    DWORD thread_id = 0;
    const std::uint8_t* buffer = nullptr;  // a send's datagram, where the caller keeps it
    std::vector<std::uint8_t> sent;
    core::TimePoint due{};
    bool queued = false;
    DWORD error = 0;
    DWORD bytes = 0;
  };

  static std::string text(const sockaddr_storage& a, std::uint16_t& port) {
    char out[INET6_ADDRSTRLEN] = "?";
    if (a.ss_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(&a);
      inet_ntop(AF_INET, &sin->sin_addr, out, sizeof out);
      port = ntohs(sin->sin_port);
    } else if (a.ss_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&a);
      inet_ntop(AF_INET6, &sin6->sin6_addr, out, sizeof out);
      port = ntohs(sin6->sin6_port);
    }
    return out;
  }
  static sockaddr_storage address(const std::string& text, std::uint16_t port) {
    sockaddr_storage a{};
    if (text.find(':') == std::string::npos) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&a);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(port);
      inet_pton(AF_INET, text.c_str(), &sin->sin_addr);
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(port);
      inet_pton(AF_INET6, text.c_str(), &sin6->sin6_addr);
    }
    return a;
  }

  // The source the caller chose: the bytes of its IN_PKTINFO / IN6_PKTINFO control object.
  static void readSource(WSAMSG& message, Send& call) {
    if (!message.Control.buf || message.Control.len == 0) return;
    for (WSACMSGHDR* c = WSA_CMSG_FIRSTHDR(&message); c; c = WSA_CMSG_NXTHDR(&message, c)) {
      char out[INET6_ADDRSTRLEN] = "?";
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        IN_PKTINFO info;
        std::memcpy(&info, WSA_CMSG_DATA(c), sizeof info);
        inet_ntop(AF_INET, &info.ipi_addr, out, sizeof out);
        call.source = out;
        call.source_ifindex = info.ipi_ifindex;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        IN6_PKTINFO info;
        std::memcpy(&info, WSA_CMSG_DATA(c), sizeof info);
        inet_ntop(AF_INET6, &info.ipi6_addr, out, sizeof out);
        call.source = out;
        call.source_ifindex = info.ipi6_ifindex;
      }
    }
  }

  // What the datagram draws, due on the clock.
  void answer(SOCKET s, const Script& script, const Send& call) {
    if (script.mode == Mode::kSilent) return;
    Arrival a{s, clock_.now() + script.delay, 0, {}, address(call.target, call.port), std::nullopt};
    if (script.mode == Mode::kPortUnreachable) {
      a.error = WSAECONNRESET;
    } else if (script.mode == Mode::kTtlExpired) {
      a.error = WSAENETRESET;
    } else {
      a.data = call.data;
      if (script.mode == Mode::kCorruptEcho) {
        const auto at = static_cast<std::size_t>(script.corrupt_at);
        if (script.corrupt_at >= 0 && at < a.data.size()) a.data[at] ^= 0x5a;
        const auto size = static_cast<int>(a.data.size()) + script.size_delta;
        a.data.resize(static_cast<std::size_t>(std::max(size, 0)), 0xab);
      }
      if (script.report_destination && call.source) a.to = address(*call.source, 0);
    }
    arrivals_.push_back(std::move(a));
  }

  Op* newOp(SOCKET s, bool receive, WSAMSG* message, WSAOVERLAPPED* overlapped,
            LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) {
    auto op = std::make_unique<Op>();
    op->api = this;
    op->socket = s;
    op->receive = receive;
    op->message = message;
    op->overlapped = overlapped;
    op->routine = routine;
    op->thread_id = GetCurrentThreadId();
    DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &op->thread, 0,
                    FALSE, DUPLICATE_SAME_ACCESS);
    ops_.push_back(std::move(op));
    return ops_.back().get();
  }
  Op* pendingReceive(SOCKET s) {
    for (auto& op : ops_)
      if (op->receive && !op->queued && op->socket == s) return op.get();
    return nullptr;
  }

  // Writes what arrived into the receive's buffers, as Windows does before the routine runs.
  void fill(Op& op, const Arrival& a) {
    op.error = a.error;
    WSAMSG& m = *op.message;
    m.dwFlags = 0;
    if (a.error != 0) {
      m.Control.len = 0;
      return;
    }
    const WSABUF& buffer = m.lpBuffers[0];
    const std::size_t n = std::min<std::size_t>(a.data.size(), buffer.len);
    std::memcpy(buffer.buf, a.data.data(), n);
    op.bytes = static_cast<DWORD>(n);
    if (n < a.data.size()) {
      op.error = WSAEMSGSIZE;
      m.dwFlags = MSG_TRUNC;
    }
    const int length = a.from.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    std::memcpy(m.name, &a.from, static_cast<std::size_t>(length));
    m.namelen = length;
    const bool v4 = a.from.ss_family == AF_INET;
    if (!a.to || !sockets_[op.socket].pktinfo) {
      m.Control.len = 0;
      return;
    }
    auto* c = reinterpret_cast<WSACMSGHDR*>(m.Control.buf);
    if (v4) {
      IN_PKTINFO info{};
      info.ipi_addr = reinterpret_cast<const sockaddr_in*>(&*a.to)->sin_addr;
      info.ipi_ifindex = 12;
      c->cmsg_len = WSA_CMSG_LEN(sizeof info);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      std::memcpy(WSA_CMSG_DATA(c), &info, sizeof info);
      m.Control.len = static_cast<ULONG>(WSA_CMSG_SPACE(sizeof info));
    } else {
      IN6_PKTINFO info{};
      info.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(&*a.to)->sin6_addr;
      info.ipi6_ifindex = 12;
      c->cmsg_len = WSA_CMSG_LEN(sizeof info);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      std::memcpy(WSA_CMSG_DATA(c), &info, sizeof info);
      m.Control.len = static_cast<ULONG>(WSA_CMSG_SPACE(sizeof info));
    }
  }

  // Completes the operations pending on s with `error`; how many.
  int abortOn(SOCKET s, int error) {
    if (ignore_cancel) return 0;
    int n = 0;
    for (auto& op : ops_) {
      if (op->queued || op->socket != s) continue;
      op->error = static_cast<DWORD>(error);
      op->bytes = 0;
      queue(*op);
      ++n;
    }
    return n;
  }

  void queue(Op& op) {
    op.queued = true;
    QueueUserAPC(&FakeWinsockApi::apcTrampoline, op.thread, reinterpret_cast<ULONG_PTR>(&op));
  }

  // Runs on the thread that issued the operation, like a real completion routine.
  static void CALLBACK apcTrampoline(ULONG_PTR arg) {
    auto& op = *reinterpret_cast<Op*>(arg);
    FakeWinsockApi& api = *op.api;
    if (GetCurrentThreadId() != op.thread_id) ++api.wrong_thread_completions;
    if (!op.receive && std::memcmp(op.buffer, op.sent.data(), op.sent.size()) != 0)
      ++api.poisoned_at_completion;  // the engine reused or poisoned the datagram too early
    if (op.error == WSA_OPERATION_ABORTED || op.error == WSAEINVAL) ++api.aborted_completions;
    ++api.completions;
    if (api.routines_running++ > 0) ++api.nested_routines;
    op.routine(op.error, op.bytes, op.overlapped, 0);
    --api.routines_running;
    CloseHandle(op.thread);
    op.thread = nullptr;
  }

  const core::Clock& clock_;
  mutable std::recursive_mutex mutex_;  // routines issue new calls while completeDue() runs
  SOCKET next_socket_ = 0x1000;
  std::map<SOCKET, SocketState> sockets_;
  std::vector<Option> options_;
  std::vector<Send> sends_;
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<Arrival> arrivals_;
};

}  // namespace reachmon::test
