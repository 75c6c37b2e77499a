#include "icmp_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string_view>

#include "reachmon/core/os_text.h"

namespace reachmon::core::win {

// One echo request and the buffers Windows writes into until its APC has run. Owned by the
// transport's pool; handed to the API as the APC context and released exactly once, by complete().
struct IcmpTransport::Request {
  static constexpr std::uint32_t kAlive = 0x52514c56;      // poisoned when released
  static constexpr std::uint32_t kAbandoned = 0x41424e44;  // leaked by abandon(): owner gone
  std::uint32_t magic = 0;
  IcmpTransport* owner = nullptr;
  Family family = Family::kIpv4;
  std::uint16_t sequence = 0;
  IpAddress target;
  TimePoint sent{};
  IP_OPTION_INFORMATION options{};
  sockaddr_in6 source6{};
  sockaddr_in6 target6{};
  std::vector<std::uint8_t> data;   // the payload; must outlive the call
  std::vector<std::uint8_t> reply;  // reply structure + data + 8 + IO_STATUS_BLOCK (per the docs)
};

std::optional<ErrorReason> statusReason(ULONG status) {
  switch (status) {
    case IP_SUCCESS:
    case IP_REQ_TIMED_OUT:
      return std::nullopt;
    case IP_DEST_NET_UNREACHABLE:   // also IP_DEST_NO_ROUTE (IPv6)
    case IP_DEST_HOST_UNREACHABLE:  // also IP_DEST_ADDR_UNREACHABLE
    case IP_DEST_PROT_UNREACHABLE:  // also IP_DEST_PROHIBITED
    case IP_DEST_PORT_UNREACHABLE:
    case IP_DEST_UNREACHABLE:
    case IP_SOURCE_QUENCH:
    case IP_ICMP_ERROR:
      return ErrorReason::kDestUnreachable;
    case IP_TTL_EXPIRED_TRANSIT:  // also IP_HOP_LIMIT_EXCEEDED
    case IP_TTL_EXPIRED_REASSEM:
    case IP_TIME_EXCEEDED:
      return ErrorReason::kTtlExpired;
    case IP_PACKET_TOO_BIG:
      return ErrorReason::kPacketTooBig;
    case IP_PARAM_PROBLEM:
    case IP_BAD_HEADER:
    case IP_UNRECOGNIZED_NEXT_HEADER:
    case IP_BAD_OPTION:
      return ErrorReason::kParameterProblem;
    default:  // IP_BAD_ROUTE, IP_BAD_DESTINATION, IP_DEST_SCOPE_MISMATCH, IP_NO_RESOURCES,
              // IP_GENERAL_FAILURE, IP_HW_ERROR, IP_BAD_REQ, IP_BUF_TOO_SMALL, ...: this host
              // could not send or finish the request
      return ErrorReason::kSendFailed;
  }
}

IcmpTransport::IcmpTransport(IcmpApi& api, const Clock& clock) : api_(api), clock_(clock) {
  v4_ = api_.createFile();
  const DWORD err4 = v4_ == INVALID_HANDLE_VALUE ? GetLastError() : 0;
  v6_ = api_.create6File();
  const DWORD err6 = v6_ == INVALID_HANDLE_VALUE ? GetLastError() : 0;
  if (v4_ == INVALID_HANDLE_VALUE && v6_ == INVALID_HANDLE_VALUE)
    throw std::runtime_error("cannot open the ICMP helper (IcmpCreateFile): " +
                             osErrorText(static_cast<int>(err4)));
  if (v4_ == INVALID_HANDLE_VALUE)
    spdlog::error("IPv4 probing disabled: {}", osErrorText(static_cast<int>(err4)));
  if (v6_ == INVALID_HANDLE_VALUE)
    spdlog::warn("IPv6 probing disabled: {}", osErrorText(static_cast<int>(err6)));
}

IcmpTransport::~IcmpTransport() { closeHandles(); }

void IcmpTransport::closeHandles() {
  for (HANDLE* h : {&v4_, &v6_}) {
    if (*h == INVALID_HANDLE_VALUE) continue;
    api_.closeHandle(*h);
    *h = INVALID_HANDLE_VALUE;
    reopen_ = true;
  }
}

bool IcmpTransport::cancelAll() {
  bool accepted = false;
  for (HANDLE h : {v4_, v6_}) {
    if (h == INVALID_HANDLE_VALUE) continue;
    if (api_.cancelIo(h) || GetLastError() == ERROR_NOT_FOUND) {  // NOT_FOUND: nothing on h
      accepted = true;
    } else {
      // Wine's ICMP handles are not kernel handles: ERROR_INVALID_HANDLE.
      spdlog::info("cannot cancel ICMP requests (CancelIoEx): {}",
                   osErrorText(static_cast<int>(GetLastError())));
    }
  }
  return accepted;
}

HANDLE IcmpTransport::handleFor(Family family) {
  HANDLE& h = family == Family::kIpv4 ? v4_ : v6_;
  if (h == INVALID_HANDLE_VALUE && reopen_) {
    h = family == Family::kIpv4 ? api_.createFile() : api_.create6File();
    if (h == INVALID_HANDLE_VALUE)
      spdlog::error("cannot open the {} ICMP handle again: {}", familyName(family),
                    osErrorText(static_cast<int>(GetLastError())));
  }
  return h;
}

IcmpTransport::Request* IcmpTransport::acquire() {
  if (free_.empty()) {
    requests_.push_back(std::make_unique<Request>());
    free_.push_back(requests_.back().get());
  }
  Request* r = free_.back();
  free_.pop_back();
  r->magic = Request::kAlive;
  r->owner = this;
  return r;
}

void IcmpTransport::release(Request* r) {
  r->magic = 0xdeaddead;
  std::memset(r->data.data(), 0xdd, r->data.size());
  std::memset(r->reply.data(), 0xdd, r->reply.size());
  free_.push_back(r);
}

void IcmpTransport::abandon() {
  std::size_t leaked = 0;
  for (auto& r : requests_) {
    if (r && r->magic == Request::kAlive) {
      r->magic = Request::kAbandoned;  // a late APC must not reach this transport
      static_cast<void>(r.release());  // never freed: a late APC may still write into it
      ++leaked;
    }
  }
  spdlog::error("{} ICMP requests never completed; their buffers are left allocated", leaked);
  in_flight_ = 0;
}

SendResult IcmpTransport::send(const EchoRequest& req) {
  const bool v4 = req.target.family == Family::kIpv4;
  HANDLE h = handleFor(req.target.family);
  if (h == INVALID_HANDLE_VALUE) return {SendStatus::kFailed, ERROR_NOT_SUPPORTED, 0};
  Request* r = acquire();
  r->family = req.target.family;
  r->sequence = req.sequence;
  r->target = req.target;
  r->sent = clock_.now();
  r->data.assign(req.payload.begin(), req.payload.end());
  r->options = {};
  r->options.Ttl = req.options.ttl;
  r->options.Tos = req.options.tos;
  r->options.Flags = req.options.dont_fragment ? IP_FLAG_DF : 0;
  const std::size_t reply_struct = v4 ? sizeof(ICMP_ECHO_REPLY) : sizeof(Icmpv6EchoReply);
  r->reply.assign(reply_struct + r->data.size() + 8 + sizeof(IO_STATUS_BLOCK), 0);
  const auto timeout_ms = static_cast<DWORD>(
      std::max<std::int64_t>(1, (req.options.timeout.count() + 999'999) / 1'000'000));
  const auto size = static_cast<WORD>(r->data.size());
  const auto reply_size = static_cast<DWORD>(r->reply.size());
  SetLastError(ERROR_SUCCESS);
  DWORD rc = 0;
  if (v4) {
    IPAddr source = 0, target = 0;
    std::memcpy(&source, req.source.bytes.data(), 4);
    std::memcpy(&target, req.target.bytes.data(), 4);
    rc = api_.sendEcho2Ex(h, &IcmpTransport::onComplete, r, source, target, r->data.data(), size,
                          &r->options, r->reply.data(), reply_size, timeout_ms);
  } else {
    r->source6 = {};
    r->source6.sin6_family = AF_INET6;
    std::memcpy(&r->source6.sin6_addr, req.source.bytes.data(), 16);
    r->source6.sin6_scope_id = req.source.scope_id;
    r->target6 = {};
    r->target6.sin6_family = AF_INET6;
    std::memcpy(&r->target6.sin6_addr, req.target.bytes.data(), 16);
    r->target6.sin6_scope_id = req.target.scope_id;
    rc = api_.send6Echo2(h, &IcmpTransport::onComplete, r, &r->source6, &r->target6, r->data.data(),
                         size, &r->options, r->reply.data(), reply_size, timeout_ms);
  }
  const DWORD err = GetLastError();
  // Only 0 with an error other than ERROR_IO_PENDING is a synchronous failure. A non-zero
  // return (a reply already parsed) still completes through the APC, which owns the buffers
  // until it has run: neither case may go back to the pool now.
  if (rc != 0 || err == ERROR_IO_PENDING) {
    ++in_flight_;
    return {};
  }
  release(r);
  const DWORD code = err ? err : ERROR_GEN_FAILURE;
  spdlog::debug("IcmpSendEcho2Ex failed: {}", osErrorText(static_cast<int>(code)));
  return {SendStatus::kFailed, static_cast<int>(code), 0};
}

void NTAPI IcmpTransport::onComplete(PVOID context, PIO_STATUS_BLOCK io, ULONG) {
  auto* r = static_cast<Request*>(context);
  if (r->magic == Request::kAbandoned) return;  // given up on at a stop; its memory is leaked
  if (r->magic != Request::kAlive) {  // a second completion for one request: never touch it
    spdlog::critical("ICMP completion for a request that was already released");
    return;
  }
  r->owner->complete(*r, io);
}

namespace {

constexpr const char* kIoStatus = "I/O status";

IcmpErrorReport errorReport(const IpAddress& target, std::uint16_t sequence, ErrorReason reason) {
  IcmpErrorReport report;
  report.original_target = target;
  report.sequence = sequence;
  report.reason = reason;
  return report;
}

// The echoed data of an IPv4 reply: Data and DataSize as IcmpParseReplies left them, trusted
// only inside the reply buffer, after the reply structure. Empty (so never a valid echo) if not.
std::span<const std::uint8_t> ipv4Data(const ICMP_ECHO_REPLY& e,
                                       std::span<const std::uint8_t> buffer) {
  // Compared as integers: Data may point anywhere.
  const auto data = reinterpret_cast<std::uintptr_t>(e.Data);
  const auto first = reinterpret_cast<std::uintptr_t>(buffer.data()) + sizeof(ICMP_ECHO_REPLY);
  const auto end = reinterpret_cast<std::uintptr_t>(buffer.data() + buffer.size());
  if (data == 0 || e.DataSize == 0) return {};
  if (data < first || data > end || end - data < e.DataSize) {
    spdlog::warn("ICMP reply data outside the reply buffer ({} bytes at {:#x}); not trusted",
                 e.DataSize, data);
    return {};
  }
  return buffer.subspan(data - reinterpret_cast<std::uintptr_t>(buffer.data()), e.DataSize);
}

// The echoed data of an IPv6 reply, which follows ICMPV6_ECHO_REPLY. The structure has no
// length: the documented one is the I/O status block's Information ("the number of bytes
// actually received in the reply"), taken as the bytes written into the buffer. Without it,
// the sent size, as .NET's Ping does.
std::span<const std::uint8_t> ipv6Data(const IO_STATUS_BLOCK* io,
                                       std::span<const std::uint8_t> buffer,
                                       std::size_t sent_size) {
  constexpr std::size_t header = sizeof(Icmpv6EchoReply);
  const std::size_t room = buffer.size() - header;
  std::size_t size = sent_size;
  if (io && io->Information >= header) size = std::min<std::size_t>(io->Information - header, room);
  return buffer.subspan(header, std::min(size, room));
}

}  // namespace

void IcmpTransport::noteStatus(const char* what, unsigned long code, const IpAddress& target) {
  const std::pair<bool, unsigned long> key{std::string_view(what) == kIoStatus, code};
  const bool first = std::find(noted_.begin(), noted_.end(), key) == noted_.end();
  if (first) noted_.push_back(key);  // a few dozen codes exist: bounded
  spdlog::log(first ? spdlog::level::warn : spdlog::level::debug,
              "echo request to {} ended with {} {:#x} ({})", formatIpAddress(target), what, code,
              code);
}

void IcmpTransport::complete(Request& r, const IO_STATUS_BLOCK* io) {
  const TimePoint now = clock_.now();
  if (in_flight_ > 0) --in_flight_;
  if (!sink_) {
    spdlog::error("an ICMP completion ran outside the probe loop; its result is dropped");
  } else {
    deliver(r, io, now);
  }
  release(&r);
}

void IcmpTransport::deliver(Request& r, const IO_STATUS_BLOCK* io, TimePoint now) {
  // The I/O status first: when it is not success the reply buffer holds nothing to parse.
  const LONG io_status = io ? io->Status : 0;
  if (io_status == static_cast<LONG>(0xC0000120L)) return;  // STATUS_CANCELLED: we are stopping
  if (io_status < 0) {  // an NTSTATUS error (buffer too small, no memory, ...)
    noteStatus(kIoStatus, static_cast<unsigned long>(io_status), r.target);
    sink_->onError(r.family, errorReport(r.target, r.sequence, ErrorReason::kSendFailed));
    return;
  }
  const auto reply_size = static_cast<DWORD>(r.reply.size());
  const bool v4 = r.family == Family::kIpv4;
  const DWORD count = v4 ? api_.parseReplies(r.reply.data(), reply_size)
                         : api_.parse6Replies(r.reply.data(), reply_size);
  EchoReply reply;
  reply.sequence = r.sequence;
  reply.received = now;
  ULONG status = 0;
  ULONG os_rtt_ms = 0;
  if (v4) {
    const auto* e = reinterpret_cast<const ICMP_ECHO_REPLY*>(r.reply.data());
    status = e->Status;
    os_rtt_ms = e->RoundTripTime;
    reply.from.family = Family::kIpv4;
    std::memcpy(reply.from.bytes.data(), &e->Address, 4);
    reply.payload = ipv4Data(*e, r.reply);
    reply.ttl = e->Options.Ttl;
  } else {
    const auto* e = reinterpret_cast<const Icmpv6EchoReply*>(r.reply.data());
    status = e->Status;
    os_rtt_ms = e->RoundTripTime;
    reply.from.family = Family::kIpv6;
    std::memcpy(reply.from.bytes.data(), e->Address.sin6_addr, 16);
    reply.payload = ipv6Data(io, r.reply, r.data.size());
  }
  if (status == IP_SUCCESS && count > 0) {
    // RTT comes from QueryPerformanceCounter (the monotonic clock); the OS value has whole
    // milliseconds only and is kept as a cross-check.
    const auto qpc_ms = std::chrono::duration<double, std::milli>(now - r.sent).count();
    if (qpc_ms + 1.0 < static_cast<double>(os_rtt_ms) ||
        qpc_ms > static_cast<double>(os_rtt_ms) + 16.0)
      spdlog::debug("RTT {:.3f} ms by QPC vs {} ms by the OS", qpc_ms, os_rtt_ms);
    sink_->onReply(reply);
    return;
  }
  if (status == IP_REQ_TIMED_OUT) return;  // the probe's own deadline counts it
  // Every other status ends the probe now, with its reason (a success without a parsed reply
  // is a failure of the helper).
  const ErrorReason reason = statusReason(status).value_or(ErrorReason::kSendFailed);
  if (reason == ErrorReason::kSendFailed) noteStatus("IP status", status, r.target);
  sink_->onError(r.family, errorReport(r.target, r.sequence, reason));
}

}  // namespace reachmon::core::win
