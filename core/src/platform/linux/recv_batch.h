// Reads up to kMessages datagrams (or error-queue entries) from a socket with one recvmmsg(),
// each with its sender and control messages (kernel timestamp, destination, TTL). Owned by one
// socket; probe thread only.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace reachmon::core::lnx {

class RecvBatch {
 public:
  static constexpr std::size_t kMessages = 32;

  // Every slot holds `slot_size` bytes at first.
  explicit RecvBatch(std::size_t slot_size);
  // Makes every slot hold at least `size` bytes (a datagram longer than its slot is cut short).
  void reserve(std::size_t size);
  std::size_t slotSize() const { return slot_size_; }

  // Reads what is queued on `fd` without waiting, at most kMessages; `flags` adds to
  // MSG_DONTWAIT (MSG_ERRQUEUE). Returns how many were read, or -1 with errno set.
  int receive(int fd, int flags = 0);
  // Reads queued datagrams like receive(), past pending socket errors: with IP_RECVERR an ICMP
  // error also leaves one, which a read reports (and clears) instead of the datagrams queued
  // behind it; its details wait in the error queue. Returns how many were read: 0 when the
  // queue is empty (EAGAIN, EINTR) or after kMaxPendingErrors such errors in a row.
  std::size_t receiveData(int fd);
  static constexpr int kMaxPendingErrors = 64;

  // The i-th datagram of the latest receive(), its recvmsg() header (control messages, flags)
  // and its sender.
  std::span<const std::uint8_t> data(std::size_t i) const;
  msghdr& header(std::size_t i) { return headers_[i].msg_hdr; }
  const sockaddr_storage& name(std::size_t i) const { return names_[i]; }
  const sockaddr* address(std::size_t i) const {
    return reinterpret_cast<const sockaddr*>(&names_[i]);
  }

 private:
  struct Control {
    alignas(cmsghdr) std::uint8_t bytes[256];
  };

  std::size_t slot_size_;
  std::vector<std::uint8_t> data_;
  std::array<mmsghdr, kMessages> headers_{};
  std::array<iovec, kMessages> iov_{};
  std::array<sockaddr_storage, kMessages> names_{};
  std::array<Control, kMessages> control_{};
};

}  // namespace reachmon::core::lnx
