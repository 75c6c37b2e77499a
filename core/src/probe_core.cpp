#include "probe_core.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>

#include "reachmon/core/os_text.h"
#include "udp_probe.h"

namespace reachmon::core {
namespace {

std::size_t familyIndex(Family f) { return f == Family::kIpv4 ? 0 : 1; }

bool sameHost(const IpAddress& a, const IpAddress& b) {
  return a.family == b.family && a.bytes == b.bytes;
}

void setState(PathStats& stats, PathState s) { stats.state.store(s, std::memory_order_release); }

template <typename Entry>
void pushHeap(std::vector<Entry>& heap, const Entry& e) {
  heap.push_back(e);
  std::push_heap(heap.begin(), heap.end(), std::greater<>());
}

template <typename Entry>
void popHeap(std::vector<Entry>& heap) {
  std::pop_heap(heap.begin(), heap.end(), std::greater<>());
  heap.pop_back();
}

}  // namespace

ProbeCore::ProbeCore(const Clock& clock, Transport& transport, MonitorStats& monitor_stats,
                     SnapshotBox& snapshots, std::uint64_t seed)
    : clock_(clock),
      transport_(transport),
      monitor_stats_(monitor_stats),
      snapshots_(snapshots),
      rng_(seed),
      payload_(65536),
      udp_payload_(65536) {
  for (std::size_t i = 0; i < payload_.size(); ++i) {
    payload_[i] = static_cast<std::uint8_t>(i);
    udp_payload_[i] = static_cast<std::uint8_t>(i);
  }
  std::memcpy(payload_.data(), kPayloadMagic, sizeof kPayloadMagic);
  std::memcpy(udp_payload_.data(), udp::kMagic, sizeof udp::kMagic);
}

void ProbeCore::apply(PathSet set, Duration min_send_gap) {
  min_send_gap_ = min_send_gap;
  sources_.clear();
  for (auto& s : set.sources) {
    Source src{std::move(s), std::nullopt};
    src.address = pickSourceAddress(src.spec, interfaces_);
    sources_.push_back(std::move(src));
  }
  std::map<std::pair<std::string, std::string>, std::uint32_t> existing;
  for (std::uint32_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].active) existing[{slots_[i].spec->source, slots_[i].spec->target}] = i;

  const TimePoint now = clock_.now();
  // Held as long as the paths: no growth slack (a path's state is most of the process's memory).
  slots_.reserve(set.paths.size());
  sends_.reserve(set.paths.size() + 1024);
  std::vector<std::uint32_t> fresh;
  for (auto& p : set.paths) {
    auto src = std::find_if(sources_.begin(), sources_.end(),
                            [&](const Source& s) { return s.spec.name == p.source; });
    if (src == sources_.end()) continue;  // the service never builds such a path
    const auto src_index = static_cast<std::uint32_t>(src - sources_.begin());
    auto it = existing.find({p.source, p.target});
    // Another probe kind, or a UDP path's other port, measures another path (and is exported as
    // other series): the old one's counters do not carry over. ICMP paths ignore the port. Other
    // RTT buckets restart the path too: a histogram's bounds are fixed, and its counts cannot be
    // moved into other buckets.
    if (it != existing.end()) {
      const ProbeOptions& old = slots_[it->second].spec->options;
      if (old.probe != p.options.probe ||
          (p.options.probe == ProbeKind::kUdp && old.port != p.options.port) ||
          old.buckets != p.options.buckets)
        it = existing.end();
    }
    if (it != existing.end()) {
      const std::uint32_t index = it->second;
      existing.erase(it);
      Slot& slot = slots_[index];
      const bool new_interval = slot.spec->options.interval != p.options.interval;
      if (!(*slot.spec == p)) slot.spec = std::make_shared<const PathSpec>(std::move(p));
      slot.source = src_index;
      if (new_interval)
        schedule(index, std::min(slot.next_send, now + slot.spec->options.interval));
      continue;
    }
    const std::uint32_t index = allocateSlot();
    Slot& slot = slots_[index];
    slot.spec = std::make_shared<const PathSpec>(std::move(p));
    slot.stats = std::make_shared<PathStats>(slot.spec->options.buckets);
    slot.history.reset();
    slot.source = src_index;
    slot.active = true;
    fresh.push_back(index);
  }
  for (const auto& [key, index] : existing) freeSlot(index);
  for (Slot& slot : slots_) {
    if (!slot.active || !set.history) {
      slot.history.reset();
    } else if (!slot.history) {
      slot.history = std::make_shared<PathHistory>(static_cast<std::uint32_t>(rng_()));
    }
  }
  // First sends of new paths are spread evenly over their interval: no burst at start or reload.
  for (std::size_t k = 0; k < fresh.size(); ++k) {
    const Duration interval = slots_[fresh[k]].spec->options.interval;
    schedule(fresh[k], now + interval * static_cast<std::int64_t>(k) /
                                 static_cast<std::int64_t>(fresh.size()));
  }
  dropStaleSends();
  // Sends per second of the new set, and so the window in which kBurstTarget of them come due;
  // a path sends at most once per wake-up, so the window stays well within every interval.
  double per_second = 0;
  Duration shortest = Duration::max();
  for (const Slot& slot : slots_) {
    if (!slot.active) continue;
    per_second += 1e9 / static_cast<double>(slot.spec->options.interval.count());
    shortest = std::min(shortest, slot.spec->options.interval);
  }
  const double window_ns = per_second > 0 ? static_cast<double>(kBurstTarget) * 1e9 / per_second
                                          : static_cast<double>(kMaxBurstWindow.count());
  burst_window_ =
      std::clamp(Duration{static_cast<std::int64_t>(window_ns)}, kMinBurstWindow, kMaxBurstWindow);
  if (shortest != Duration::max()) burst_window_ = std::min(burst_window_, shortest / 4);
  publish();
}

void ProbeCore::dropStaleSends() {
  // A rescheduled or removed path leaves its old entry in the heap until that entry comes due
  // (up to an interval later). Reloads that change intervals would pile them up: drop them once
  // they outnumber the live ones.
  const std::size_t live = slots_.size() - free_slots_.size();
  if (sends_.size() <= 2 * live + 1024) return;
  std::erase_if(sends_, [this](const SendEntry& e) {
    const Slot& slot = slots_[e.slot];
    return !slot.active || slot.schedule_version != e.schedule_version;
  });
  std::make_heap(sends_.begin(), sends_.end(), std::greater<>());
}

void ProbeCore::setInterfaces(std::vector<InterfaceInfo> interfaces) {
  interfaces_ = std::move(interfaces);
  bool changed = false;
  for (auto& src : sources_) {
    auto address = pickSourceAddress(src.spec, interfaces_);
    if (address == src.address) continue;
    changed = true;
    if (address) {
      spdlog::info("source {}: now sending from {}", src.spec.name, formatIpAddress(*address));
    } else {
      spdlog::warn("source {}: no usable {} address; its paths report source_unavailable",
                   src.spec.name, familyName(src.spec.family));
    }
    src.address = address;
  }
  if (changed) publish();
}

std::uint32_t ProbeCore::allocateSlot() {
  if (!free_slots_.empty()) {
    const std::uint32_t i = free_slots_.back();
    free_slots_.pop_back();
    return i;
  }
  slots_.emplace_back();
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

void ProbeCore::freeSlot(std::uint32_t index) {
  Slot& slot = slots_[index];
  slot.active = false;
  ++slot.generation;
  ++slot.schedule_version;
  slot.spec.reset();
  slot.stats.reset();
  slot.history.reset();
  free_slots_.push_back(index);
}

void ProbeCore::schedule(std::uint32_t slot, TimePoint when) {
  Slot& s = slots_[slot];
  ++s.schedule_version;
  s.next_send = when;
  pushHeap(sends_, SendEntry{when, slot, s.schedule_version});
}

TimePoint ProbeCore::nextWake() const {
  TimePoint wake = TimePoint::max();
  if (!timeouts_.empty()) wake = timeouts_.front().when;
  if (!sends_.empty())
    wake = std::min(wake, std::max(sends_.front().when, send_credit_ + min_send_gap_));
  return wake;
}

bool ProbeCore::paced() const {
  return !sends_.empty() && sends_.front().when < send_credit_ + min_send_gap_;
}

std::size_t ProbeCore::runDue(Duration burst_window, Duration lookahead) {
  const TimePoint now = clock_.now();
  monitor_stats_.heartbeat_ns.store(now.count(), std::memory_order_relaxed);
  finishTimeouts(now);
  // One send per gap: the credit clock advances a gap per send and never lags `now` by more
  // than the burst window and one gap, so a burst stays within that, and the unused part of a
  // gap carries over to the next wake-up (wake-ups a window apart still reach 1 / gap).
  std::int64_t budget = std::numeric_limits<std::int64_t>::max();
  if (min_send_gap_ > Duration{0}) {
    const Duration cap = burst_window + min_send_gap_;
    if (now - send_credit_ > cap) send_credit_ = now - cap;
    budget = (now - send_credit_) / min_send_gap_;
  }
  std::size_t sent = 0;
  while (budget > 0 && !sends_.empty() && sends_.front().when <= now + lookahead) {
    const SendEntry e = sends_.front();
    popHeap(sends_);
    Slot& slot = slots_[e.slot];
    if (!slot.active || slot.schedule_version != e.schedule_version) continue;
    --budget;
    ++sent;
    sendProbe(e.slot, e.when, now);
    // Keep the path's phase; only a stall longer than a whole interval moves it.
    const Duration interval = slot.spec->options.interval;
    TimePoint next = e.when + interval;
    if (next + interval <= now) next = now + interval;
    slot.next_send = next;
    pushHeap(sends_, SendEntry{next, e.slot, slot.schedule_version});
  }
  if (min_send_gap_ > Duration{0}) send_credit_ += min_send_gap_ * static_cast<std::int64_t>(sent);
  flushSends();
  return sent;
}

void ProbeCore::flushSends() {
  if (queued_count_ == 0) return;
  const std::span<SendResult> results(send_results_.data(), queued_count_);
  queued_count_ = 0;
  std::fill(results.begin(), results.end(), SendResult{SendStatus::kFailed, 0, 0});
  transport_.flush(results);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const QueuedSend& q = queued_[i];
    FamilyProbes& family = families_[q.family];
    Probe& probe = family.probes[q.sequence];
    // Nothing runs between the queueing and the flush: the probe is still the queued one.
    if (probe.serial != q.serial || probe.state != ProbeState::kPending) continue;
    Slot& slot = slots_[probe.slot];
    const SendResult& r = results[i];
    if (r.status == SendStatus::kOk) {
      probe.sent_realtime_ns = r.realtime_ns;
      countSent(slot);
      continue;
    }
    // It never left: nothing can answer it, and its timeout entry finds it no longer pending.
    endProbe(family, probe, ProbeState::kFree);
    failProbe(slot,
              r.status == SendStatus::kSourceUnavailable ? ErrorReason::kSourceUnavailable
                                                         : ErrorReason::kSendFailed,
              r.os_error);
  }
}

void ProbeCore::countSent(Slot& slot) {
  PathStats& stats = *slot.stats;
  stats.last_error.store(ErrorReason::kCount, std::memory_order_relaxed);
  PathStats::add(stats.sent);
}

std::size_t ProbeCore::inFlight(Family family) const {
  return families_[familyIndex(family)].pending;
}

void ProbeCore::endProbe(FamilyProbes& family, Probe& probe, ProbeState state) {
  if (probe.state == ProbeState::kPending) --family.pending;
  probe.state = state;
}

void ProbeCore::finishTimeouts(TimePoint now) {
  while (!timeouts_.empty() && timeouts_.front().when <= now) {
    const TimeoutEntry e = timeouts_.front();
    popHeap(timeouts_);
    FamilyProbes& family = families_[e.family];
    Probe& probe = family.probes[e.sequence];
    if (probe.serial != e.serial || probe.state != ProbeState::kPending) continue;
    Slot& slot = slots_[probe.slot];
    if (!slot.active || slot.generation != probe.generation) {  // its path has gone
      endProbe(family, probe, ProbeState::kTimedOut);
      continue;
    }
    PathStats& stats = *slot.stats;
    PathStats::add(stats.scheduled);
    remember(slot, now, std::nullopt);
    if (probe.corrupted) {  // only corrupted replies came: they say more than "timed out"
      endProbe(family, probe, ProbeState::kError);
      stats.addError(ErrorReason::kCorruptedReply);
      stats.last_error.store(ErrorReason::kCorruptedReply, std::memory_order_relaxed);
      setState(stats, PathState::kError);
    } else {
      endProbe(family, probe, ProbeState::kTimedOut);
      PathStats::add(stats.timed_out);
      setState(stats, PathState::kTimedOut);
    }
  }
}

void ProbeCore::failProbe(Slot& slot, ErrorReason reason, int os_error) {
  PathStats& stats = *slot.stats;
  PathStats::add(stats.scheduled);
  stats.addError(reason);
  setState(stats, PathState::kError);
  remember(slot, clock_.now(), std::nullopt);
  if (stats.last_error.exchange(reason) != reason) {
    spdlog::warn("path {} -> {}: {}{}", slot.spec->source, slot.spec->target, reasonName(reason),
                 os_error ? " (" + osErrorText(os_error) + ")" : "");
  }
}

std::optional<std::uint16_t> ProbeCore::takeSequence(FamilyProbes& family) {
  if (family.probes.empty()) family.probes.resize(kSequences);
  if (family.pending >= kSequences) return std::nullopt;
  while (family.probes[family.next].state == ProbeState::kPending) ++family.next;
  return family.next++;
}

void ProbeCore::sendProbe(std::uint32_t slot_index, TimePoint scheduled, TimePoint now) {
  Slot& slot = slots_[slot_index];
  const PathSpec& spec = *slot.spec;
  const Source& source = sources_[slot.source];
  if (!source.address) return failProbe(slot, ErrorReason::kSourceUnavailable, 0);
  if (!spec.target_address) return failProbe(slot, ErrorReason::kResolveFailed, 0);
  // How far from its schedule it leaves: late, or early within the lookahead.
  monitor_stats_.send_delay.observe(now >= scheduled ? now - scheduled : scheduled - now);

  const std::size_t family_index = familyIndex(source.address->family);
  FamilyProbes& family = families_[family_index];
  const std::optional<std::uint16_t> seq = takeSequence(family);
  if (!seq) {
    if (!family.exhausted) {  // once per shortage, not once per refused probe
      spdlog::warn(
          "all {} {} echo sequence numbers are in flight; probes fail with send_failed until "
          "some finish: shorten timeouts or lengthen intervals",
          kSequences, familyName(source.address->family));
      family.exhausted = true;
    }
    return failProbe(slot, ErrorReason::kSendFailed, 0);
  }
  family.exhausted = false;
  const std::uint64_t nonce = rng_();
  std::span<std::uint8_t> payload;
  if (spec.options.probe == ProbeKind::kUdp) {
    payload = std::span(udp_payload_.data(), spec.options.payload_size);
    udp::writeHeader(payload, nonce, *seq);
  } else {
    payload = std::span(payload_.data(), spec.options.payload_size);
    std::memcpy(payload.data() + sizeof kPayloadMagic, &nonce, sizeof nonce);
  }
  const EchoRequest request{*source.address, *spec.target_address, *seq, payload, spec.options};
  const TimePoint sent = clock_.now();
  const SendResult result = transport_.send(request);
  if (result.status == SendStatus::kSourceUnavailable)
    return failProbe(slot, ErrorReason::kSourceUnavailable, result.os_error);
  if (result.status == SendStatus::kFailed)
    return failProbe(slot, ErrorReason::kSendFailed, result.os_error);

  // Sent, or queued to leave at flushSends(), which ends the probe if the send fails.
  const std::uint32_t serial = ++family.serial;
  family.probes[*seq] = Probe{slot_index,
                              slot.generation,
                              serial,
                              ProbeState::kPending,
                              false,
                              spec.options.payload_size,
                              nonce,
                              sent,
                              result.realtime_ns};
  ++family.pending;
  pushHeap(timeouts_, TimeoutEntry{sent + spec.options.timeout, serial, *seq,
                                   static_cast<std::uint8_t>(family_index)});
  if (result.status != SendStatus::kQueued) return countSent(slot);
  queued_[queued_count_++] = QueuedSend{serial, *seq, static_cast<std::uint8_t>(family_index)};
  if (queued_count_ == queued_.size()) flushSends();
}

ProbeCore::Probe* ProbeCore::findProbe(Family family, std::uint16_t sequence, ProbeKind kind,
                                       Slot*& slot_out) {
  FamilyProbes& f = families_[familyIndex(family)];
  if (f.probes.empty()) return nullptr;
  Probe& probe = f.probes[sequence];
  if (probe.state == ProbeState::kFree || probe.slot >= slots_.size()) return nullptr;
  Slot& slot = slots_[probe.slot];
  if (!slot.active || slot.generation != probe.generation) return nullptr;
  // ICMP and UDP probes of a family share its sequence numbers: an answer of the other kind
  // with a matching number answers nothing.
  if (slot.spec->options.probe != kind) return nullptr;
  slot_out = &slot;
  return &probe;
}

bool ProbeCore::fromPathPeers(const EchoReply& reply, const Slot& slot) const {
  if (!slot.spec->target_address || !sameHost(reply.from, *slot.spec->target_address)) return false;
  if (reply.probe == ProbeKind::kUdp && reply.from_port != slot.spec->options.port) return false;
  // Replies that reached another of our addresses answer somebody else's probe.
  const std::optional<IpAddress>& source = sources_[slot.source].address;
  return !reply.to || !source || sameHost(*reply.to, *source);
}

std::span<const std::uint8_t> ProbeCore::sentData(const Slot& slot, const Probe& probe) const {
  const auto& buffer = slot.spec->options.probe == ProbeKind::kUdp ? udp_payload_ : payload_;
  return std::span(buffer.data(), probe.payload_size);
}

bool ProbeCore::sentPrefix(std::span<const std::uint8_t> data, const Slot& slot, const Probe& probe,
                           std::uint16_t sequence) const {
  // Every byte, as iputils ping checks: magic, this probe's nonce (UDP: and its sequence), then
  // the fixed filler, which the shared send buffer still holds.
  std::array<std::uint8_t, udp::kHeaderSize> header{};
  std::size_t header_size = kPayloadHeader;
  if (slot.spec->options.probe == ProbeKind::kUdp) {
    udp::writeHeader(header, probe.nonce, sequence);
    header_size = udp::kHeaderSize;
  } else {
    std::memcpy(header.data(), kPayloadMagic, sizeof kPayloadMagic);
    std::memcpy(header.data() + sizeof kPayloadMagic, &probe.nonce, sizeof probe.nonce);
  }
  const auto sent = sentData(slot, probe);
  if (data.size() < header_size || data.size() > sent.size()) return false;
  return std::memcmp(data.data(), header.data(), header_size) == 0 &&
         std::memcmp(data.data() + header_size, sent.data() + header_size,
                     data.size() - header_size) == 0;
}

void ProbeCore::onReply(const EchoReply& reply) {
  Slot* slot = nullptr;
  Probe* probe = findProbe(reply.from.family, reply.sequence, reply.probe, slot);
  if (!probe || !fromPathPeers(reply, *slot)) {
    monitor_stats_.invalid_replies.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("ignored a stray {} reply from {} (sequence {})", probeKindName(reply.probe),
                  formatIpAddress(reply.from), reply.sequence);
    return;
  }
  if (reply.payload.size() != probe->payload_size ||
      !sentPrefix(reply.payload, *slot, *probe, reply.sequence)) {
    // Never a reply, a duplicate or an RTT sample; the probe waits on for the real reply.
    PathStats::add(slot->stats->corrupted);
    if (probe->state == ProbeState::kPending) probe->corrupted = true;
    spdlog::debug("path {} -> {}: corrupted echo reply (sequence {}, {} of {} bytes)",
                  slot->spec->source, slot->spec->target, reply.sequence, reply.payload.size(),
                  probe->payload_size);
    return;
  }
  countAnswer(*slot, *probe, reply.from.family, reply.received, reply.realtime_rx_ns, reply.ttl);
}

void ProbeCore::countAnswer(Slot& slot, Probe& probe, Family family_id, TimePoint received,
                            std::int64_t realtime_rx_ns, int ttl) {
  PathStats& stats = *slot.stats;
  FamilyProbes& family = families_[familyIndex(family_id)];
  switch (probe.state) {
    case ProbeState::kPending: {
      Duration rtt = received - probe.sent;
      if (realtime_rx_ns != 0 && probe.sent_realtime_ns != 0) {
        const Duration kernel{realtime_rx_ns - probe.sent_realtime_ns};
        // The wall clock can step; trust it only when it agrees roughly with the monotonic one.
        if (kernel >= Duration{0} && kernel <= rtt + Duration{1'000'000}) rtt = kernel;
      }
      PathStats::add(stats.scheduled);
      if (rtt > slot.spec->options.timeout) {  // read after its deadline: the loop was stalled
        endProbe(family, probe, ProbeState::kTimedOut);
        PathStats::add(stats.timed_out);
        PathStats::add(stats.late);
        setState(stats, PathState::kTimedOut);
        remember(slot, received, std::nullopt);
        return;
      }
      endProbe(family, probe, ProbeState::kReplied);
      remember(slot, received, rtt);
      stats.rtt.observe(rtt);
      stats.last_rtt_ns.store(rtt.count(), std::memory_order_relaxed);
      stats.reply_ttl.store(ttl, std::memory_order_relaxed);
      PathStats::add(stats.replied);
      setState(stats, PathState::kUp);
      return;
    }
    case ProbeState::kReplied:
      PathStats::add(stats.duplicate);
      return;
    case ProbeState::kTimedOut:
    case ProbeState::kError:
      PathStats::add(stats.late);
      return;
    case ProbeState::kFree:
      return;
  }
}

void ProbeCore::onError(Family family, const IcmpErrorReport& report) {
  if (report.probe == ProbeKind::kUdp) return onUdpError(family, report);
  Slot* slot = nullptr;
  Probe* probe = findProbe(family, report.sequence, ProbeKind::kIcmp, slot);
  if (!probe || probe->state != ProbeState::kPending) return;
  if (!slot->spec->target_address || !sameHost(report.original_target, *slot->spec->target_address))
    return;
  countError(*slot, *probe, family, report.reason);
}

void ProbeCore::countError(Slot& slot, Probe& probe, Family family, ErrorReason reason) {
  PathStats& stats = *slot.stats;
  endProbe(families_[familyIndex(family)], probe, ProbeState::kError);
  PathStats::add(stats.scheduled);
  stats.addError(reason);
  stats.last_error.store(reason, std::memory_order_relaxed);
  setState(stats, PathState::kError);
  remember(slot, clock_.now(), std::nullopt);
}

ProbeCore::Probe* ProbeCore::findUdpProbe(Family family, const IcmpErrorReport& report,
                                          Slot*& slot) {
  // Linux: the sequence, nonce and every quoted byte come from the quote. Windows: the engine
  // names the probe (one socket per UDP probe in flight) and quotes nothing.
  std::optional<std::uint16_t> sequence = report.sequence;
  if (report.quoted) sequence = udp::sequenceOf(*report.quoted);
  if (!sequence) return nullptr;
  Probe* probe = findProbe(family, *sequence, ProbeKind::kUdp, slot);
  if (!probe) return nullptr;
  if (report.quoted && !sentPrefix(*report.quoted, *slot, *probe, *sequence)) return nullptr;
  const PathSpec& spec = *slot->spec;
  if (!spec.target_address || !sameHost(report.original_target, *spec.target_address))
    return nullptr;
  if (report.original_port != 0 && report.original_port != spec.options.port) return nullptr;
  const std::optional<IpAddress>& source = sources_[slot->source].address;
  if (report.original_source && source && !sameHost(*report.original_source, *source))
    return nullptr;
  return probe;
}

void ProbeCore::onUdpError(Family family, const IcmpErrorReport& report) {
  Slot* slot = nullptr;
  Probe* probe = findUdpProbe(family, report, slot);
  if (!probe) {
    // A router that quotes only the headers (RFC 792's minimum) names no probe: guessing would
    // count it against the wrong one.
    monitor_stats_.unmatched_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("ignored an ICMP error about a UDP datagram to {} that names none of our probes",
                  formatIpAddress(report.original_target));
    return;
  }
  // The target itself saying that nobody listens on the port: the probe reached it.
  const bool reached = report.port_unreachable &&
                       (!report.offender || sameHost(*report.offender, report.original_target));
  if (reached) {
    const TimePoint received = report.received == TimePoint{} ? clock_.now() : report.received;
    return countAnswer(*slot, *probe, family, received, report.realtime_rx_ns, report.ttl);
  }
  if (probe->state != ProbeState::kPending) return;
  countError(*slot, *probe, family, report.reason);
}

void ProbeCore::publish() {
  auto snap = std::make_shared<Snapshot>();
  snap->paths.reserve(slots_.size() - free_slots_.size());
  for (const Slot& s : slots_)
    if (s.active) snap->paths.push_back({s.spec, s.stats, s.history});
  for (const Source& s : sources_) snap->sources.push_back({s.spec.name, s.spec.family, s.address});
  snapshots_.publish(std::move(snap));
}

}  // namespace reachmon::core
