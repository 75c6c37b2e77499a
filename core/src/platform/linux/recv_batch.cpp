#include "recv_batch.h"

#include <algorithm>
#include <cerrno>

namespace reachmon::core::lnx {

RecvBatch::RecvBatch(std::size_t slot_size) : slot_size_(slot_size), data_(kMessages * slot_size) {}

void RecvBatch::reserve(std::size_t size) {
  if (size <= slot_size_) return;
  slot_size_ = size;
  data_.assign(kMessages * slot_size_, 0);
}

int RecvBatch::receive(int fd, int flags) {
  for (std::size_t i = 0; i < kMessages; ++i) {
    iov_[i] = {data_.data() + i * slot_size_, slot_size_};
    msghdr& h = headers_[i].msg_hdr;
    h.msg_name = &names_[i];
    h.msg_namelen = sizeof names_[i];
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    h.msg_control = control_[i].bytes;
    h.msg_controllen = sizeof control_[i].bytes;
    h.msg_flags = 0;
    headers_[i].msg_len = 0;
  }
  return ::recvmmsg(fd, headers_.data(), kMessages, MSG_DONTWAIT | flags, nullptr);
}

std::size_t RecvBatch::receiveData(int fd) {
  for (int pending_errors = 0; pending_errors <= kMaxPendingErrors; ++pending_errors) {
    const int n = receive(fd);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  }
  return 0;
}

std::span<const std::uint8_t> RecvBatch::data(std::size_t i) const {
  return std::span(data_.data() + i * slot_size_,
                   std::min<std::size_t>(headers_[i].msg_len, slot_size_));
}

}  // namespace reachmon::core::lnx
