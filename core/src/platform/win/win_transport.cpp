#include "win_transport.h"

namespace reachmon::core::win {

SendResult WinTransport::send(const EchoRequest& request) {
  return (request.options.probe == ProbeKind::kUdp ? udp_ : icmp_).send(request);
}

}  // namespace reachmon::core::win
