#include <cstring>

#include "reachmon/core/os_text.h"

namespace reachmon::core {

std::string osErrorText(int code) {
  char buf[256];
  // GNU strerror_r: returns the message, which may or may not be written into buf.
  return ::strerror_r(code, buf, sizeof buf);
}

}  // namespace reachmon::core
