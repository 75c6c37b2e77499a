#include "reachmon/service/cli.h"

int main(int argc, char** argv) {
  return reachmon::service::runCli(std::vector<std::string>(argv + 1, argv + argc));
}
