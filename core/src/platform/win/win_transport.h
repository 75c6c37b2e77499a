// The engine's one Transport: ICMP probes go to the ICMP helper (IcmpTransport), UDP probes to
// Winsock (UdpTransport), by the probe kind of each request. Probe thread only.
#pragma once

#include "../../transport.h"

namespace reachmon::core::win {

class WinTransport final : public Transport {
 public:
  // Both transports must outlive this one.
  WinTransport(Transport& icmp, Transport& udp) : icmp_(icmp), udp_(udp) {}
  SendResult send(const EchoRequest& request) override;

 private:
  Transport& icmp_;
  Transport& udp_;
};

}  // namespace reachmon::core::win
