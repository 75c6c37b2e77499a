#!/usr/bin/env bash
# Side-by-side comparison of reachmon with its peers (fping 5.1, smokeping_prober) on the same
# targets, one tool after another, in the same run, on a topology this script builds:
#
#   monitor namespace  --veth-->  target namespace
#   10.63.255.1/30                10.63.255.2/30, plus `ip route add local 10.64.0.0/10 dev lo`
#                                 (the kernel answers echo requests for every address in the
#                                 prefix, so 60,000 targets cost one route, not 60,000 addresses)
#
# Every tool probes N targets (10.64.x.y) at 1 s from 10.63.255.1; the kernel of the target
# namespace replies (ICMP rate limits off there), so every probe is answered and any loss is
# false loss. After a warm-up, each tool is measured over a window of D seconds: CPU time
# (utime+stime(+children) from /proc/PID/stat), probes sent (the tool's own counters), RSS, false
# loss, send-time error (reachmon's send_delay histogram), and for the Prometheus exporters the
# /metrics scrape (gzip requested, and plain) and series per path.
#
# Usage (root):
#   bench/compare.sh [--paths 1000,10000] [--duration 30] [--warmup 5] [--build-dir DIR]
#   bench/compare.sh --max-paths [--steps 10000,20000,...] [--duration 30] [--build-dir DIR]
#   bench/compare.sh --smoke [--build-dir DIR]     (CI: 50 paths, 3 s windows, no timing asserted)
# Peers: fping `-l -p 1000 -i <1000/N> -Q 3600 -S SRC`; smokeping_prober with ping sockets
# (`protocol: udp`) and, up to --smokeping-raw-max paths (1000), raw sockets (`protocol: icmp`).
# --max-paths pins reachmon to the last CPU with "min_send_gap": "10us" and steps up N until a
# step fails twice (false loss, under 99 % of N probes/s, or send error p99 over 1 s).
# Prints the command, date, commit and machine, then one Markdown table (docs/benchmarks.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmdline="bench/compare.sh"
for a in "$@"; do
  if [[ $a =~ ^[A-Za-z0-9_.,/:=+-]+$ ]]; then cmdline+=" $a"; else cmdline+=" $(printf '%q' "$a")"; fi
done

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
paths="1000,10000"
duration=""
warmup=""
build_dir="$root/build"
mode="compare"
steps="10000,20000,30000,40000,50000,60000,70000,80000,90000,100000"
smokeping_raw_max=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --paths) paths=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --max-paths) mode="max-paths"; shift ;;
    --steps) steps=$2; shift 2 ;;
    --smoke) mode="smoke"; shift ;;
    --smokeping-raw-max) smokeping_raw_max=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$mode" = smoke ]; then
  paths=50; duration=${duration:-3}; warmup=${warmup:-2}
fi
duration=${duration:-30}
warmup=${warmup:-5}
[ "$(id -u)" -eq 0 ] || { echo "compare.sh: needs root (network namespaces)" >&2; exit 2; }
bin="$build_dir/service/reachmon"
[ -x "$bin" ] || { echo "compare.sh: no reachmon binary at $bin (run scripts/build)" >&2; exit 2; }

work=$(mktemp -d /tmp/reachmon-compare.XXXXXX)
mon="rmcmpM$$"
tgt="rmcmpT$$"
vm="rmcm$$"
vt="rmct$$"
measurer=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  set +e  # clean up everything, whatever fails
  # Only the processes this script started: the measuring code (on SIGTERM it stops the tool
  # it runs, within 20 s), then any tool still listed in $work/pids.
  if [ -n "$measurer" ]; then
    kill -TERM "$measurer" 2>/dev/null || true
    for _ in $(seq 100); do
      state=$( (sed 's/.*) //' "/proc/$measurer/stat" | cut -d' ' -f1) 2>/dev/null)
      if [ -z "$state" ] || [ "$state" = Z ]; then break; fi
      sleep 0.2
    done
    kill -KILL "$measurer" 2>/dev/null || true
    wait "$measurer" 2>/dev/null || true
  fi
  if [ -f "$work/pids" ]; then
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$work/pids"
  fi
  ip netns del "$mon" 2>/dev/null || true
  ip netns del "$tgt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$mon"
ip netns add "$tgt"
ip link add "$vm" netns "$mon" type veth peer name "$vt" netns "$tgt"
ip -n "$mon" link set lo up
ip -n "$tgt" link set lo up
ip -n "$mon" addr add 10.63.255.1/30 dev "$vm"
ip -n "$tgt" addr add 10.63.255.2/30 dev "$vt"
ip -n "$mon" link set "$vm" up
ip -n "$tgt" link set "$vt" up
ip -n "$tgt" route add local 10.64.0.0/10 dev lo
ip -n "$mon" route add 10.64.0.0/10 via 10.63.255.2
# Targets: kernel echo replies, no ICMP rate limit (these sysctls are per namespace).
ip netns exec "$tgt" sysctl -q -w net.ipv4.icmp_echo_ignore_all=0 net.ipv4.icmp_ratelimit=0 \
  net.ipv4.icmp_msgs_per_sec=100000000 net.ipv4.icmp_msgs_burst=100000000
# Monitor: ping sockets for every group (reachmon's engine, smokeping_prober's "udp" mode).
ip netns exec "$mon" sysctl -q -w net.ipv4.ping_group_range="0 2147483647"
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # smokeping_prober: a socket per target

commit=$(git -C "$root" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit+=" (working tree with uncommitted changes)"
fi

CMP_MON=$mon CMP_WORK=$work CMP_BIN=$bin CMP_MODE=$mode CMP_PATHS=$paths CMP_DURATION=$duration \
CMP_WARMUP=$warmup CMP_STEPS=$steps CMP_CMDLINE=$cmdline CMP_COMMIT=$commit \
CMP_SMOKEPING_RAW_MAX=$smokeping_raw_max python3 - <<'PY' &
import os, re, shutil, signal, statistics, subprocess, sys, time

E = os.environ
MON, WORK, BIN, MODE = E["CMP_MON"], E["CMP_WORK"], E["CMP_BIN"], E["CMP_MODE"]
DURATION, WARMUP = float(E["CMP_DURATION"]), float(E["CMP_WARMUP"])
SRC = "10.63.255.1"
HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
PIN_CPU = NCPU - 1          # --max-paths pins reachmon here
notes = []
# The shell's trap sends SIGTERM: unwind, so that every `finally` stops the tool it started.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def addr(i):  # target i inside 10.64.0.0/10, never .0 or .255
    j = i // 250
    return f"10.{64 + j // 256}.{j % 256}.{i % 250 + 1}"


def ns(*cmd):
    return ["ip", "netns", "exec", MON, *cmd]


def have(prog):
    return shutil.which(prog) is not None


def cpu_ticks(pid):
    """utime, stime (own plus waited-for children) in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    v = s[s.rfind(")") + 2:].split()
    return int(v[11]) + int(v[13]), int(v[12]) + int(v[14])


def busy_ticks():
    """{cpu: ticks not idle} from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = line.split()
                t = [int(x) for x in v[1:9]]
                out[int(v[0][3:])] = sum(t) - t[3] - t[4]  # minus idle and iowait
    return out


def mem_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, rest = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(rest.split()[0])
    return out


def socket_drops():
    """Replies the kernel dropped at ICMP sockets of the monitor namespace (full receive
    buffers): the `drops` column of every ping and raw socket."""
    r = subprocess.run(ns("cat", "/proc/net/icmp", "/proc/net/raw"), capture_output=True,
                       text=True)
    return sum(int(l.split()[-1]) for l in r.stdout.splitlines()
               if l.strip() and not l.lstrip().startswith("sl"))


def alive(p):
    return p.poll() is None


def curl(url, gzip=False, headers=None, compressed=False):
    """(body or None, size, seconds) of one scrape inside the monitor namespace. compressed:
    ask for compression and decode it, like Prometheus (the counter scrapes in the window)."""
    cmd = ns("curl", "-s", "-m", "60", "-w", "\n%{size_download} %{time_total}")
    if compressed:
        cmd.append("--compressed")
    if gzip:
        cmd += ["-H", "Accept-Encoding: gzip", "-D", headers, "-o", "/dev/null"]
    r = subprocess.run(cmd + [url], capture_output=True)
    if r.returncode != 0:
        return None, None, None
    body, _, tail = r.stdout.rpartition(b"\n")
    size, secs = tail.decode().split()
    return (None if gzip else body.decode("utf-8", "replace")), int(size), float(secs)


def samples(text, name):
    """[(labels, value)] for the samples of one metric name."""
    out = []
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " "):
            head, _, val = line.rpartition(" ")
            out.append((head[len(name):], float(val)))
    return out


def total(text, name):
    return sum(v for _, v in samples(text, name))


class Run:
    """One tool on N targets: start, warm up, measure a window of DURATION seconds, stop."""
    label = ""
    port = None
    target_label = None

    def __init__(self, n):
        self.n = n
        self.out = open(f"{WORK}/{self.key}-{n}.out", "w+b")
        self.err = open(f"{WORK}/{self.key}-{n}.err", "w+b")

    def start(self):
        self.p = subprocess.Popen(self.cmd(), stdout=self.out, stderr=self.err,
                                  stdin=subprocess.DEVNULL)
        with open(f"{WORK}/pids", "a") as f:
            f.write(f"{self.p.pid}\n")

    def stop(self):
        if alive(self.p):
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        # Reaped: take its id off the shell's list (ids are reused).
        with open(f"{WORK}/pids") as f:
            keep = [l for l in f if l.strip() != str(self.p.pid)]
        with open(f"{WORK}/pids", "w") as f:
            f.writelines(keep)

    def url(self):
        return f"http://127.0.0.1:{self.port}/metrics"

    def ready(self):
        return curl(self.url())[0] is not None

    def died(self):
        self.err.flush()
        self.err.seek(0)
        last = [l for l in self.err.read().decode("utf-8", "replace").splitlines() if l.strip()]
        return f"exited (status {self.p.returncode}): {last[-1][:160] if last else 'no message'}"

    def measure(self):
        r = {"tool": self.label, "n": self.n}
        self.start()
        try:
            t_end = time.monotonic() + 120
            while not self.ready():
                if not alive(self.p) or time.monotonic() > t_end:
                    r["error"] = self.died() if not alive(self.p) else "not ready after 120 s"
                    return r
                time.sleep(0.2)
            time.sleep(WARMUP)
            if not alive(self.p):
                r["error"] = self.died()
                return r
            c0, tc0 = self.counters()
            drops0 = socket_drops()
            w0, cpu0, busy0 = time.monotonic(), cpu_ticks(self.p.pid), busy_ticks()
            time.sleep(DURATION)
            if not alive(self.p):
                r["error"] = self.died()
                return r
            busy1, cpu1, w1 = busy_ticks(), cpu_ticks(self.p.pid), time.monotonic()
            drops1 = socket_drops()
            c1, tc1 = self.counters()
            if c1 is None or not alive(self.p):
                r["error"] = self.died() if not alive(self.p) else "no counters at the window's end"
                return r
            m = mem_kib(self.p.pid)
            wall = w1 - w0
            user, sys_ = (cpu1[0] - cpu0[0]) / HZ, (cpu1[1] - cpu0[1]) / HZ
            r.update(self.window(c0, c1))
            r["drops"] = drops1 - drops0
            r["rate"] = r["sent"] / (tc1 - tc0)
            r["cpu_frac"] = (user + sys_) / wall
            # The rest of the machine meanwhile (builds, other tests): the noise to expect.
            r["others"] = max(0.0, sum(busy1[c] - busy0[c] for c in busy1) / HZ / wall
                              - r["cpu_frac"])
            r["others_pin"] = max(0.0, (busy1[PIN_CPU] - busy0[PIN_CPU]) / HZ / wall
                                  - r["cpu_frac"])
            r["sys_share"] = sys_ / (user + sys_) if user + sys_ > 0 else 0.0
            r["us_per_probe"] = r["cpu_frac"] / r["rate"] * 1e6 if r["rate"] > 0 else None
            r["rss"], r["hwm"] = m.get("VmRSS", 0) / 1024, m.get("VmHWM", 0) / 1024
            if self.port:
                r.update(self.scrape())
            return r
        finally:
            self.stop()

    def scrape(self):
        hdr = f"{WORK}/headers"
        times, size, enc = [], None, "?"
        for _ in range(3):
            _, size, secs = curl(self.url(), gzip=True, headers=hdr)
            if secs is not None:
                times.append(secs)
        try:
            h = open(hdr).read().lower()
            enc = "gzip" if re.search(r"^content-encoding:\s*gzip", h, re.M) else "not compressed"
        except OSError:
            pass
        body, plain, _ = curl(self.url())
        per_path = None
        if body is not None:
            tag = f'{self.target_label}="'
            per_path = sum(1 for l in body.splitlines()
                           if l and l[0] != "#" and tag in l) / self.n
        return {"gz_bytes": size, "gz_secs": statistics.median(times) if times else None,
                "gz_enc": enc, "plain_bytes": plain, "series_per_path": per_path}


class Fping(Run):
    key = "fping"

    def __init__(self, n):
        super().__init__(n)
        # -i: the gap between any two probes, so that one round of N targets takes 1 s.
        self.interval_ms = f"{1000 / n:g}"
        self.label = f"fping 5.1 `-l -p 1000 -i {self.interval_ms} -Q 3600 -S`"
        with open(f"{WORK}/targets-{n}.txt", "w") as f:
            f.writelines(addr(i) + "\n" for i in range(n))

    def cmd(self):
        # -Q 3600: no per-reply lines (otherwise loop mode prints one per reply) and no summary
        # inside the window; SIGQUIT prints, then resets, the per-target counters.
        return ns("fping", "-l", "-p", "1000", "-i", self.interval_ms, "-Q", "3600",
                  "-S", SRC, "-f", f"{WORK}/targets-{self.n}.txt")

    def ready(self):
        return alive(self.p)

    def counters(self):
        """(xmt, rcv) since the previous SIGQUIT, and the time the signal was sent."""
        self.err.flush()
        start = os.path.getsize(self.err.name)
        t = time.monotonic()
        self.p.send_signal(signal.SIGQUIT)
        deadline = t + 30
        while time.monotonic() < deadline and alive(self.p):
            with open(self.err.name, "rb") as f:
                f.seek(start)
                text = f.read().decode("utf-8", "replace")
            found = re.findall(r"xmt/rcv/%loss = (\d+)/(\d+)/", text)
            if len(found) >= self.n:
                found = found[:self.n]
                return (sum(int(a) for a, _ in found), sum(int(b) for _, b in found)), t
            time.sleep(0.05)
        return None, t

    def window(self, c0, c1):
        xmt, rcv = c1
        return {"sent": xmt, "loss": (1 - rcv / xmt) if xmt else None, "send_p99": None}


class Smokeping(Run):
    port = 9374
    target_label = "host"

    def __init__(self, n, raw):
        self.key = "smokeping-raw" if raw else "smokeping"
        super().__init__(n)
        self.raw = raw
        # protocol "udp" is go-ping's unprivileged ICMP echo (a Linux ping socket per target);
        # "icmp", the config file's default, is privileged: a raw socket per target.
        proto = "icmp" if raw else "udp"
        self.label = ("smokeping_prober 0.6.1 (`protocol: icmp`: raw sockets)" if raw
                      else "smokeping_prober 0.6.1 (`protocol: udp`: ping sockets)")
        self.cfg = f"{WORK}/smokeping-{proto}-{n}.yml"
        with open(self.cfg, "w") as f:
            f.write("targets:\n- hosts:\n")
            f.writelines(f"  - {addr(i)}\n" for i in range(n))
            f.write(f"  interval: 1s\n  network: ip4\n  protocol: {proto}\n")

    def cmd(self):
        c = ["prometheus-smokeping-prober", f"--config.file={self.cfg}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        return ns(*c, *(["--privileged"] if self.raw else []))

    def counters(self):
        t = time.monotonic()
        body, _, secs = curl(self.url(), compressed=True)
        if body is None:
            return None, t
        return (total(body, "smokeping_requests_total"),
                total(body, "smokeping_response_duration_seconds_count")), t + secs / 2

    def window(self, c0, c1):
        sent, replied = c1[0] - c0[0], c1[1] - c0[1]
        return {"sent": sent, "loss": (1 - replied / sent) if sent else None, "send_p99": None}


class Reachmon(Run):
    port = 9643
    target_label = "target"

    def __init__(self, n, pin=None, min_send_gap=None):
        self.key = "reachmon"
        super().__init__(n)
        self.pin = pin
        self.label = "reachmon" + (f" (1 CPU, `min_send_gap` {min_send_gap})" if pin is not None
                                   else "")
        self.bin = f"{WORK}/reachmon-bin/reachmon"
        self.cfg = f"{WORK}/reachmon-{n}.json"
        import json
        cfg = {"listen": f"127.0.0.1:{self.port}",
               "defaults": {"interval": "1s", "timeout": "1s"},
               "sources": [{"name": "uplink", "address": SRC}],
               "targets": [{"name": f"t{i}", "host": addr(i)} for i in range(n)]}
        if min_send_gap:
            cfg["min_send_gap"] = min_send_gap
        with open(self.cfg, "w") as f:
            json.dump(cfg, f)

    def start(self):
        # The build directory is rebuilt concurrently: run a private copy of the binary.
        os.makedirs(os.path.dirname(self.bin), exist_ok=True)
        shutil.copy2(BIN, self.bin + ".tmp")
        os.replace(self.bin + ".tmp", self.bin)
        chk = subprocess.run([self.bin, "check-config", self.cfg], capture_output=True, text=True)
        if chk.returncode != 0:
            sys.exit(f"compare.sh: reachmon refuses the generated config:\n{chk.stdout}{chk.stderr}")
        super().start()

    def cmd(self):
        pin = ["taskset", "-c", str(self.pin)] if self.pin is not None else []
        return ns(*pin, self.bin, "run", "--config", self.cfg, "--log-level", "warn")

    def counters(self):
        t = time.monotonic()
        body, _, secs = curl(self.url(), compressed=True)
        if body is None:
            return None, t
        buckets = {}
        for labels, v in samples(body, "reachmon_send_delay_seconds_bucket"):
            m = re.search(r'le="([^"]+)"', labels)
            if m:
                buckets[float(m.group(1))] = v
        return {"sent": total(body, "reachmon_probes_sent_total"),
                "scheduled": total(body, "reachmon_probes_scheduled_total"),
                "failed": (total(body, "reachmon_probes_timed_out_total")
                           + total(body, "reachmon_probe_errors_total")),
                "buckets": buckets}, t + secs / 2

    def window(self, c0, c1):
        # False loss from the failed outcomes (timeouts and errors), not 1 - replied/scheduled:
        # probes whose reply is not handled yet at a scrape would count as lost.
        sched = c1["scheduled"] - c0["scheduled"]
        failed = c1["failed"] - c0["failed"]
        d = {le: c1["buckets"][le] - c0["buckets"].get(le, 0) for le in c1["buckets"]}
        p99 = None
        if d and d.get(float("inf"), 0) > 0:
            count = d[float("inf")]
            p99 = min(le for le, v in d.items() if v >= 0.99 * count)
        return {"sent": c1["sent"] - c0["sent"], "scheduled": sched,
                "loss": failed / sched if sched else None, "send_p99": p99}


def keeps_up(rate, n):
    """N probes/s within 1 %, or short of it by a tenth of a round at most (short windows)."""
    return rate >= 0.99 * n or (n - rate) * DURATION <= n / 10


# ---------- formatting ----------
def num(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def dur(s):
    if s is None:
        return "n/a"
    if s == float("inf"):
        return "> 1 s"
    if s >= 1:
        return f"≤ {s:g} s"
    if s >= 1e-3:
        return f"≤ {s * 1e3:g} ms"
    return f"≤ {s * 1e6:g} µs"


def mb(b):
    if b is None:
        return "—"
    return f"{b / 1e6:.2f} MB" if b >= 1e5 else f"{b / 1e3:.1f} kB"


def ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.2f}"


def pct(x):
    return "—" if x is None else f"{x * 100:.2f} %" if 0 < x < 0.01 else f"{x * 100:.1f} %"


def loss_cell(x, drops=0):
    if x is None:
        return "—"
    if x < 0:  # replies to probes sent just before the window
        x = 0.0
    if x == 0:
        return "0"
    # Packets the kernel dropped at the tool's ICMP sockets (receive buffer full); with raw
    # sockets every socket receives a copy of every ICMP packet, so copies count here too.
    return pct(x) + (f" (kernel socket drops: {drops:,})" if drops else "")


def header():
    import platform
    model = "unknown CPU"
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                     if l.startswith("model name"))
    except StopIteration:
        pass
    try:
        ver = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        ver = "?"
    print(f"Command (root): `{E['CMP_CMDLINE']}`  ")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; commit {E['CMP_COMMIT']}; {ver}  ")
    print(f"Machine: {NCPU} × {model}, Linux {platform.release()}; "
          f"window {DURATION:g} s after a {WARMUP:g} s warm-up; interval 1 s, one source\n")


# ---------- modes ----------
def compare(ns_list):
    rows = []
    for n in ns_list:
        runs = []
        if have("fping"):
            runs.append(Fping(n))
        else:
            notes.append("fping is not installed: no fping rows")
        if have("prometheus-smokeping-prober"):
            runs.append(Smokeping(n, raw=False))
            if n <= int(E["CMP_SMOKEPING_RAW_MAX"]):
                runs.append(Smokeping(n, raw=True))
        else:
            notes.append("prometheus-smokeping-prober is not installed: no smokeping_prober rows")
        runs.append(Reachmon(n))
        for run in runs:
            print(f"compare.sh: {n} paths: {run.label} ...", file=sys.stderr, flush=True)
            rows.append(run.measure())
            time.sleep(1)  # let the target namespace drain
    header()
    cols = ["tool", "paths", "probes/s (of N/s)", "CPU, % of a core", "CPU µs/probe",
            "µs/probe × fping", "sys share", "RSS MiB (peak)", "RSS × fping", "false loss",
            "send error p99", "scrape, gzip asked: bytes", "scrape time", "scrape, plain",
            "series/path", "other processes' CPU"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    bad = []
    for r in rows:
        ref = next((x for x in rows if x["n"] == r["n"] and x["tool"].startswith("fping")
                    and "error" not in x), None)
        if "error" in r:
            print(f"| {r['tool']} | {r['n']:,} | {r['error']} |" + " |" * (len(cols) - 3))
            bad.append(f"{r['tool']} at {r['n']}: {r['error']}")
            continue
        rate = r["rate"]
        behind = ("" if keeps_up(rate, r["n"])
                  else f" **falls behind: {rate / r['n'] * 100:.0f} %**")
        gz = (f"{mb(r['gz_bytes'])} ({r['gz_enc']})" if r.get("gz_bytes") is not None
              else "n/a")
        cells = [r["tool"], f"{r['n']:,}", f"{num(rate)}{behind}", f"{r['cpu_frac'] * 100:.1f} %",
                 num(r["us_per_probe"], 1),
                 ratio(r["us_per_probe"], ref and ref["us_per_probe"]),
                 f"{r['sys_share'] * 100:.0f} %",
                 f"{r['rss']:.1f} ({r['hwm']:.1f})", ratio(r["rss"], ref and ref["rss"]),
                 loss_cell(r["loss"], r["drops"]), dur(r["send_p99"]) if r["tool"] == "reachmon" else "n/a",
                 gz,
                 (f"{r['gz_secs'] * 1e3:.0f} ms" if r.get("gz_secs") is not None else "n/a"),
                 mb(r["plain_bytes"]) if "plain_bytes" in r else "n/a",
                 (f"{r['series_per_path']:.1f}" if r.get("series_per_path") is not None
                  else "n/a"),
                 f"{r['others'] * 100:.0f} % of a core"]
        for key in ("rate", "cpu_frac", "us_per_probe", "rss", "loss"):
            v = r.get(key)
            if v is None or v != v:
                bad.append(f"{r['tool']} at {r['n']}: no {key}")
        print("| " + " | ".join(cells) + " |")
    for n in ns_list:
        if n * 10 > 65535 and have("fping"):
            notes.append(f"fping 5.1 keeps every sequence number for 10 s and has 65,535 of them, "
                         f"so it cannot exceed 6,553 probes/s: with a smaller `-i` at {n:,} paths "
                         f"it exits with `not enough sequence numbers available`")
            break
    if any(n > int(E["CMP_SMOKEPING_RAW_MAX"]) for n in ns_list) and have(
            "prometheus-smokeping-prober"):
        notes.append(f"smokeping_prober with raw sockets is run up to "
                     f"{int(E['CMP_SMOKEPING_RAW_MAX']):,} paths only: every raw socket "
                     f"receives every reply (N² work)")
    if notes:
        print()
        for t in dict.fromkeys(notes):
            print(f"- {t}")
    return bad


def max_paths(steps):
    header()
    print(f"reachmon pinned to CPU {PIN_CPU} (`taskset -c {PIN_CPU}`), `min_send_gap` \"10us\" "
          f"(the default 50 µs caps the rate at 20,000 probes/s). A step is sustained when the "
          f"window has 0 false loss, at least 99 % of N probes/s, and send error p99 ≤ 1 s "
          f"(the interval: 99 % of probes leave before their next one is due); "
          f"a step that fails is run once more before the search stops.\n")
    cols = ["paths", "probes/s", "CPU, % of one core", "CPU µs/probe", "sys share",
            "RSS MiB (peak)", "false loss", "send error p99", "sustained",
            f"other processes on CPU {PIN_CPU}"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    best = None
    for n in steps:
        # A failed step runs once more: on a shared machine one stall can cost a few replies.
        for attempt in (1, 2):
            print(f"compare.sh: max paths: {n} (attempt {attempt}) ...", file=sys.stderr,
                  flush=True)
            r = Reachmon(n, pin=PIN_CPU, min_send_gap="10us").measure()
            time.sleep(1)
            if "error" in r:
                print(f"| {n:,} | {r['error']} |" + " |" * (len(cols) - 2), flush=True)
                ok = False
                continue
            ok = (r["loss"] is not None and r["loss"] <= 0 and keeps_up(r["rate"], n)
                  and r["send_p99"] is not None and r["send_p99"] <= 1)
            print(f"| {n:,} | {num(r['rate'])} | {r['cpu_frac'] * 100:.1f} % | "
                  f"{num(r['us_per_probe'], 1)} | {r['sys_share'] * 100:.0f} % | "
                  f"{r['rss']:.1f} ({r['hwm']:.1f}) | {loss_cell(r['loss'], r['drops'])} | "
                  f"{dur(r['send_p99'])} | {'yes' if ok else 'no'} | "
                  f"{r['others_pin'] * 100:.0f} % |", flush=True)
            if ok:
                break
        if not ok:
            break
        best = n
    print()
    if best is None:
        print(f"Max paths at 1 s on one core with 0 false loss: below {steps[0]:,} "
              f"(the first step failed)")
    elif best == steps[-1]:
        print(f"Max paths at 1 s on one core with 0 false loss: at least {best:,} "
              f"(every step passed; add larger --steps)")
    else:
        print(f"Max paths at 1 s on one core with 0 false loss: {best:,} (the next step failed)")
    return []


def ints(s):
    return [int(x) for x in s.split(",") if x.strip()]


try:
    if MODE == "max-paths":
        bad = max_paths(ints(E["CMP_STEPS"]))
    else:
        bad = compare(ints(E["CMP_PATHS"]))
        if MODE == "smoke" and bad:
            print("compare.sh --smoke: FAILED:\n  " + "\n  ".join(bad), file=sys.stderr)
            sys.exit(1)
finally:
    sys.stdout.flush()
PY
measurer=$!
status=0
wait "$measurer" || status=$?
measurer=""
exit "$status"
