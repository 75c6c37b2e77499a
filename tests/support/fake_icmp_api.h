// A fake of the Windows ICMP helper API for engine tests. It records every request and completes
// it the way Windows does: by queueing the caller's ApcRoutine to the thread that issued the
// request, which runs it during an alertable wait. Completions are due at a time on the test's
// clock (scripted per destination) and queued when the test calls completeDue(), or when it
// releases held requests; no thread of its own, no sleeping. It models the documented contract
// (icmp_api.h): a synchronous failure (0, an error, no APC), a pending request (0 and
// ERROR_IO_PENDING), a request answered at once (a non-zero return, and the APC still runs),
// every reply status, I/O statuses, and cancellation by CancelIoEx or by closing the handle
// (the APC runs with STATUS_CANCELLED and an untouched reply buffer).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "platform/win/icmp_api.h"
#include "platform/win/win.h"
#include "reachmon/core/clock.h"

namespace reachmon::test {

class FakeIcmpApi final : public core::win::IcmpApi {
 public:
  // kStatus: completes with `status`; kFailCall: returns 0 with `error`, no APC; kHold: never
  // completes by itself (a target that never answers and a long timeout) until released or
  // cancelled; kIgnoreCancel: like kHold, and cancelling or closing does not complete it either;
  // kAnsweredAtOnce: returns 1 (a reply already parsed) and still completes through the APC;
  // kIoStatus: the APC's IO_STATUS_BLOCK carries the NTSTATUS `io_status`.
  // kCorruptReply: a successful reply whose data differs from the request's (corrupt_at, a
  // byte offset, and/or size_delta); kBadDataPointer: an IPv4 reply whose Data/DataSize reach
  // past the end of the reply buffer.
  enum class Mode {
    kReply,
    kStatus,
    kFailCall,
    kHold,
    kIgnoreCancel,
    kAnsweredAtOnce,
    kIoStatus,
    kCorruptReply,
    kBadDataPointer
  };
  struct Script {
    Mode mode = Mode::kReply;
    ULONG status = IP_SUCCESS;  // kStatus
    DWORD error = 0;            // kFailCall
    core::Duration delay{2'000'000};
    int corrupt_at = -1;  // kCorruptReply: flip bits of this data byte (-1: none)
    int size_delta = 0;   // kCorruptReply: echo this many bytes more (or fewer)
    LONG io_status = 0;   // kIoStatus
  };
  struct Call {
    bool v6 = false;
    IPAddr source4 = 0, target4 = 0;
    sockaddr_in6 source6{}, target6{};
    WORD size = 0;
    IP_OPTION_INFORMATION options{};
    DWORD timeout_ms = 0;
    DWORD thread = 0;
  };

  explicit FakeIcmpApi(const core::Clock& clock) : clock_(clock) {}

  std::map<std::string, Script> scripts;  // key: "v4:<dotted>" or "v6:<addr>"
  Script fallback;

  HANDLE createFile() override {
    ++creates;
    return reinterpret_cast<HANDLE>(0x4444);
  }
  HANDLE create6File() override {
    ++creates;
    return reinterpret_cast<HANDLE>(0x6666);
  }
  BOOL closeHandle(HANDLE h) override {
    {
      std::lock_guard lock(mutex_);
      ++closes;
      if (outstanding_ > 0) closed_with_pending = true;
    }
    cancelOn(h);  // closing a handle cancels what it carries
    return TRUE;
  }
  BOOL cancelIo(HANDLE h) override {
    ++cancels;
    if (cancel_refused) {  // as Wine: its ICMP handles are not kernel handles
      SetLastError(ERROR_INVALID_HANDLE);
      return FALSE;
    }
    if (cancelOn(h) == 0) {
      SetLastError(ERROR_NOT_FOUND);
      return FALSE;
    }
    return TRUE;
  }
  DWORD sendEcho2Ex(HANDLE h, PIO_APC_ROUTINE apc, PVOID context, IPAddr source, IPAddr target,
                    LPVOID data, WORD size, PIP_OPTION_INFORMATION options, LPVOID reply,
                    DWORD reply_size, DWORD timeout_ms) override {
    Call c;
    c.source4 = source;
    c.target4 = target;
    in_addr a;
    a.s_addr = target;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, text, sizeof text);
    return record(c, h, std::string("v4:") + text, apc, context, data, size, options, reply,
                  reply_size, timeout_ms);
  }
  DWORD send6Echo2(HANDLE h, PIO_APC_ROUTINE apc, PVOID context, sockaddr_in6* source,
                   sockaddr_in6* target, LPVOID data, WORD size, PIP_OPTION_INFORMATION options,
                   LPVOID reply, DWORD reply_size, DWORD timeout_ms) override {
    Call c;
    c.v6 = true;
    c.source6 = *source;
    c.target6 = *target;
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &target->sin6_addr, text, sizeof text);
    return record(c, h, std::string("v6:") + text, apc, context, data, size, options, reply,
                  reply_size, timeout_ms);
  }
  DWORD parseReplies(LPVOID reply, DWORD) override {
    return static_cast<ICMP_ECHO_REPLY*>(reply)->Status == IP_SUCCESS ? 1 : 0;
  }
  DWORD parse6Replies(LPVOID reply, DWORD) override {
    return static_cast<core::win::Icmpv6EchoReply*>(reply)->Status == IP_SUCCESS ? 1 : 0;
  }

  // Queues the completion of every request that is due by the clock (not held), as Windows
  // would: an APC to the thread that issued it.
  void completeDue() {
    std::vector<Pending*> due;
    {
      std::lock_guard lock(mutex_);
      for (auto& p : pending_)
        if (!p->queued && !p->held && p->due <= clock_.now()) due.push_back(p.get());
    }
    for (Pending* p : due) deliver(*p);
  }
  // Completes every held request now (from any thread).
  void releaseHeld() {
    std::vector<Pending*> held;
    {
      std::lock_guard lock(mutex_);
      for (auto& p : pending_)
        if (!p->queued && p->held) held.push_back(p.get());
    }
    for (Pending* p : held) deliver(*p);
  }
  std::vector<Call> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::size_t heldCount() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (auto& p : pending_) n += (p->held && !p->queued) ? 1 : 0;
    return n;
  }

  // Checks made while completing: a request's buffers must still be the engine's, unpoisoned.
  std::atomic<int> poisoned_at_completion{0};
  std::atomic<int> wrong_thread_completions{0};
  std::atomic<int> completions{0};
  std::atomic<int> cancelled_completions{0};
  std::atomic<bool> cancel_refused{false};  // CancelIoEx fails with ERROR_INVALID_HANDLE
  std::atomic<int> creates{0};
  std::atomic<int> closes{0};
  std::atomic<int> cancels{0};
  std::atomic<bool> closed_with_pending{false};

 private:
  struct Pending {
    FakeIcmpApi* api;
    PIO_APC_ROUTINE apc;
    PVOID context;
    const std::uint8_t* data;
    std::vector<std::uint8_t> sent_data;
    std::uint8_t* reply;
    DWORD reply_size;
    bool v6;
    IPAddr target4;
    sockaddr_in6 target6;
    Script script;
    HANDLE handle;  // the ICMP handle the request was made on
    HANDLE thread;
    DWORD thread_id;
    core::TimePoint due;
    bool held;
    bool queued = false;
    bool cancelled = false;
  };

  DWORD record(Call c, HANDLE h, const std::string& key, PIO_APC_ROUTINE apc, PVOID context,
               LPVOID data, WORD size, PIP_OPTION_INFORMATION options, LPVOID reply,
               DWORD reply_size, DWORD timeout_ms) {
    c.size = size;
    c.options = *options;
    c.timeout_ms = timeout_ms;
    c.thread = GetCurrentThreadId();
    const auto it = scripts.find(key);
    const Script script = it == scripts.end() ? fallback : it->second;
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(c);
    }
    if (script.mode == Mode::kFailCall) {
      SetLastError(script.error);
      return 0;
    }
    auto p = std::make_unique<Pending>();
    p->api = this;
    p->apc = apc;
    p->context = context;
    p->data = static_cast<const std::uint8_t*>(data);
    p->sent_data.assign(p->data, p->data + size);
    p->reply = static_cast<std::uint8_t*>(reply);
    p->reply_size = reply_size;
    p->v6 = c.v6;
    p->target4 = c.target4;
    p->target6 = c.target6;
    p->script = script;
    p->handle = h;
    p->thread_id = GetCurrentThreadId();
    DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &p->thread, 0,
                    FALSE, DUPLICATE_SAME_ACCESS);
    p->due = clock_.now() + script.delay;
    p->held = script.mode == Mode::kHold || script.mode == Mode::kIgnoreCancel;
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(p));
    ++outstanding_;
    if (script.mode == Mode::kAnsweredAtOnce) {
      SetLastError(ERROR_SUCCESS);
      return 1;
    }
    SetLastError(ERROR_IO_PENDING);
    return 0;
  }

  // Completes the requests on `h` that can be cancelled, with STATUS_CANCELLED; how many.
  int cancelOn(HANDLE h) {
    std::vector<Pending*> hit;
    {
      std::lock_guard lock(mutex_);
      for (auto& p : pending_) {
        if (p->queued || p->handle != h || p->script.mode == Mode::kIgnoreCancel) continue;
        p->cancelled = true;
        hit.push_back(p.get());
      }
    }
    for (Pending* p : hit) deliver(*p);
    return static_cast<int>(hit.size());
  }

  void deliver(Pending& p) {
    {
      std::lock_guard lock(mutex_);
      p.queued = true;
    }
    QueueUserAPC(&FakeIcmpApi::apcTrampoline, p.thread, reinterpret_cast<ULONG_PTR>(&p));
  }

  // Runs on the thread that issued the request, like a real completion.
  static void CALLBACK apcTrampoline(ULONG_PTR arg) {
    auto& p = *reinterpret_cast<Pending*>(arg);
    FakeIcmpApi& api = *p.api;
    if (GetCurrentThreadId() != p.thread_id) ++api.wrong_thread_completions;
    if (std::memcmp(p.data, p.sent_data.data(), p.sent_data.size()) != 0)
      ++api.poisoned_at_completion;  // the engine reused or poisoned the buffer too early
    IO_STATUS_BLOCK iosb{};
    if (p.cancelled) {
      iosb.Status = static_cast<LONG>(0xC0000120L);  // STATUS_CANCELLED; the buffer untouched
      ++api.cancelled_completions;
    } else if (p.script.mode == Mode::kIoStatus) {
      iosb.Status = p.script.io_status;
    } else {
      iosb.Information = fill(p);
    }
    ++api.completions;
    p.apc(p.context, &iosb, 0);
    CloseHandle(p.thread);
    std::lock_guard lock(api.mutex_);
    --api.outstanding_;
  }

  // Writes the reply as Windows does, and returns the I/O status block's Information: the
  // bytes written into the reply buffer.
  static ULONG_PTR fill(Pending& p) {
    const Mode mode = p.script.mode;
    const ULONG status = mode == Mode::kStatus ? p.script.status : IP_SUCCESS;
    std::vector<std::uint8_t> echoed = p.sent_data;
    if (mode == Mode::kCorruptReply) {
      const auto at = static_cast<std::size_t>(p.script.corrupt_at);
      if (p.script.corrupt_at >= 0 && at < echoed.size()) echoed[at] ^= 0x5a;
      const auto size = static_cast<int>(echoed.size()) + p.script.size_delta;
      echoed.resize(static_cast<std::size_t>(std::max(size, 0)), 0xab);
    }
    const std::size_t header = p.v6 ? sizeof(core::win::Icmpv6EchoReply) : sizeof(ICMP_ECHO_REPLY);
    if (header + echoed.size() > p.reply_size) echoed.resize(p.reply_size - header);
    // Windows reports whole milliseconds.
    const auto rtt_ms = static_cast<ULONG>(p.script.delay.count() / 1'000'000);
    if (!p.v6) {
      auto* r = reinterpret_cast<ICMP_ECHO_REPLY*>(p.reply);
      std::memset(r, 0, sizeof *r);
      r->Address = p.target4;
      r->Status = status;
      r->RoundTripTime = rtt_ms;
      r->DataSize = static_cast<USHORT>(echoed.size());
      r->Data = p.reply + header;
      std::memcpy(r->Data, echoed.data(), echoed.size());
      if (mode == Mode::kBadDataPointer) r->Data = p.reply + p.reply_size - 4;
      r->Options.Ttl = 57;
    } else {
      auto* r = reinterpret_cast<core::win::Icmpv6EchoReply*>(p.reply);
      std::memset(r, 0, sizeof *r);
      std::memcpy(r->Address.sin6_addr, &p.target6.sin6_addr, 16);
      r->Status = status;
      r->RoundTripTime = rtt_ms;
      std::memcpy(p.reply + header, echoed.data(), echoed.size());
    }
    return header + echoed.size();
  }

  const core::Clock& clock_;
  mutable std::mutex mutex_;
  std::vector<Call> calls_;
  std::vector<std::unique_ptr<Pending>> pending_;
  int outstanding_ = 0;
};

}  // namespace reachmon::test
