// The requests of one wake-up queued on one probe socket, sent together with sendmmsg(). Every
// message keeps its own destination, source (IP_PKTINFO / IPV6_PKTINFO), TTL, TOS and, for
// IPv6, DF as control messages; IPv4 has no per-packet DF, so the batch sends its queued
// messages early when one with another DF setting comes. Owned by one socket; probe thread only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../../transport.h"

namespace reachmon::core::lnx {

class SendBatch {
 public:
  explicit SendBatch(int fd);

  // Queues a message to request.target, at `port` (0 for ICMP sockets): write(buffer) writes
  // its bytes, at most `max_size`, into `buffer` and returns how many (0: it cannot). Sends the
  // messages not sent yet first when the new one cannot join them (IPv4 DF, bytes). Returns
  // kQueued, or kFailed when nothing was queued.
  template <class Write>
  SendResult add(const EchoRequest& request, std::size_t max_size, std::uint16_t port,
                 Write&& write) {
    if (count_ == messages_.size()) return {SendStatus::kFailed, ENOBUFS, 0};
    if (!accepts(request, max_size)) send();
    const std::size_t size = write(buffer(max_size));
    if (size == 0) return {SendStatus::kFailed, EMSGSIZE, 0};
    queue(request, size, port);
    return {SendStatus::kQueued, 0, 0};
  }
  // Sends the messages queued since the last send(). A message refused because the kernel
  // reports an earlier datagram's ICMP error through it (a pending socket error) is sent again
  // once.
  void send();
  // Messages queued since clear(), sent or not.
  std::size_t size() const { return count_; }
  // The outcome of the i-th queued message, once sent.
  const SendResult& result(std::size_t i) const { return messages_[i].result; }
  // Forgets every message (after their results were read).
  void clear();

  // Room for the datagrams of one batch before it is sent early; a single larger one still goes.
  static constexpr std::size_t kMaxBytes = 1 << 20;

 private:
  // True when a message of `size` bytes can join the messages not sent yet without sending them
  // first: their bytes leave room, and (IPv4) its DF setting is theirs.
  bool accepts(const EchoRequest& request, std::size_t size) const;
  // Room for the next message's `size` bytes, valid until the next call.
  std::span<std::uint8_t> buffer(std::size_t size);
  // Queues the message written into buffer(), `size` bytes long.
  void queue(const EchoRequest& request, std::size_t size, std::uint16_t port);

  struct Message {
    sockaddr_storage to;
    socklen_t to_len;
    bool dont_fragment;
    std::size_t control_len;
    std::size_t offset, size;  // the datagram in data_
    SendResult result;
    alignas(cmsghdr)
        std::uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo)) + 3 * CMSG_SPACE(sizeof(int))];
  };
  void sendPending(std::size_t from);

  int fd_;
  int pmtu_mode_ = -1;  // IPv4 IP_MTU_DISCOVER mode of the socket (set on change)
  std::array<Message, kMaxSendBatch> messages_;
  std::array<mmsghdr, kMaxSendBatch> headers_{};
  std::array<iovec, kMaxSendBatch> iov_{};
  std::vector<std::uint8_t> data_;
  std::size_t reserved_ = 0;  // where buffer() put the next message
  std::size_t count_ = 0;
  std::size_t sent_ = 0;  // messages [0, sent_) have a result
};

}  // namespace reachmon::core::lnx
