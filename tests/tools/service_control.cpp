// Test helper for Wine: sends a control code to a service, which Wine's sc.exe cannot
// ("sc control" is not implemented there). Usage: service_control NAME paramchange|stop
#include <windows.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: service_control NAME paramchange|stop\n");
    return 2;
  }
  DWORD code = 0;
  if (std::strcmp(argv[2], "paramchange") == 0) {
    code = SERVICE_CONTROL_PARAMCHANGE;
  } else if (std::strcmp(argv[2], "stop") == 0) {
    code = SERVICE_CONTROL_STOP;
  } else {
    std::fprintf(stderr, "unknown control %s\n", argv[2]);
    return 2;
  }
  SC_HANDLE scm = OpenSCManagerA(nullptr, nullptr, SC_MANAGER_CONNECT);
  if (!scm) return 1;
  SC_HANDLE svc = OpenServiceA(scm, argv[1], SERVICE_PAUSE_CONTINUE | SERVICE_STOP);
  SERVICE_STATUS status{};
  const BOOL ok = svc && ControlService(svc, code, &status);
  if (!ok) std::fprintf(stderr, "ControlService failed: %lu\n", GetLastError());
  if (svc) CloseServiceHandle(svc);
  CloseServiceHandle(scm);
  return ok ? 0 : 1;
}
