// What the Linux probe sockets (IcmpSocket, UdpSocket) share: sending one probe with its source
// and per-packet options chosen by control messages, and reading what the control messages of a
// received datagram or queued error say.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "../../transport.h"
#include "send_batch.h"
#include "sockaddr.h"

namespace reachmon::core::lnx {

// A probe socket of either kind: the engine's epoll loop reads it, and SocketTransport flushes
// the requests queued in its batch.
class ProbeSocket {
 public:
  // Reads every datagram queued and hands it to `sink`, then, when `error_queue` (epoll said
  // EPOLLERR), the error queue; `now` is the monotonic time of the read.
  virtual void drain(ReplySink& sink, TimePoint now, bool error_queue) = 0;
  // The requests queued on the socket, sent at SocketTransport::flush().
  virtual SendBatch& batch() = 0;

 protected:
  ProbeSocket() = default;
  ProbeSocket(const ProbeSocket&) = default;
  ProbeSocket& operator=(const ProbeSocket&) = default;
  ProbeSocket(ProbeSocket&&) = default;
  ProbeSocket& operator=(ProbeSocket&&) = default;
  ~ProbeSocket() = default;
};

// Sets an option the engine works without (it only loses precision or detail); a failure is
// logged, never fatal. `socket` names the socket in the log ("ICMP socket").
bool setOption(int fd, int level, int name, int value, const char* socket, const char* what);

// Asks for what a probe socket needs on every datagram: kernel receive timestamps, the
// destination address, the TTL / hop limit, and ICMP errors on the error queue (`recverr`).
// True when datagrams will carry kernel receive timestamps.
bool requestControl(int fd, Family family, bool recverr, const char* socket);

std::int64_t realtimeNs();

// recvmsg() arguments for one datagram: its address, data and control buffers.
struct RecvMsg {
  sockaddr_storage name{};
  iovec iov{};
  alignas(cmsghdr) std::uint8_t control[512];
  msghdr msg{};
  RecvMsg(void* data, std::size_t len);
  RecvMsg(const RecvMsg&) = delete;
  RecvMsg& operator=(const RecvMsg&) = delete;
  const sockaddr* address() const { return reinterpret_cast<const sockaddr*>(&name); }
};

// What the control messages of a received datagram or queued error say.
struct ReceivedControl {
  std::int64_t realtime_rx_ns = 0;  // SCM_TIMESTAMPNS, 0 if none
  std::optional<IpAddress> to;      // IP_PKTINFO / IPV6_PKTINFO: the datagram's destination
  int ttl = -1;                     // IP_TTL / IPV6_HOPLIMIT
};
ReceivedControl readControl(msghdr& msg);

// An ICMP error read from the error queue (IP_RECVERR / IPV6_RECVERR).
struct QueuedError {
  int type = 0, code = 0;
  std::optional<IpAddress> offender;  // the sender of the ICMP message
};
// The ICMP error among `msg`'s control messages; nullopt when there is none (or it is a local
// error, not an ICMP message).
std::optional<QueuedError> readQueuedError(msghdr& msg);

// Reads the error queue of `fd` until it is empty, into `buffer`. For each ICMP error whose
// original destination (the probe's target) parses, calls fn(rm, error, target, quote): `rm` is
// the recvmsg() arguments, whose control messages and name the caller may read further, `quote`
// the part of `buffer` the kernel filled (what the ICMP message quotes).
template <class Fn>
void drainErrorQueue(int fd, std::span<std::uint8_t> buffer, Fn&& fn) {
  for (;;) {
    RecvMsg rm(buffer.data(), buffer.size());
    const ssize_t n = ::recvmsg(fd, &rm.msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) return;
    const auto error = readQueuedError(rm.msg);
    IpAddress target;
    if (!error || !fromSockaddr(rm.address(), target)) continue;
    fn(rm, *error, target, buffer.first(static_cast<std::size_t>(n)));
  }
}

}  // namespace reachmon::core::lnx
