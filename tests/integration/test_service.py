"""The reachmon binary as an operator runs it, probing loopback: check-config, HTTP endpoints,
reload by file edit / POST / SIGHUP (valid edits keep survivors' counters, invalid ones are
refused and keep the running config), clean and fast shutdown, start-up failures.

Run by ctest (service_integration): pytest test_service.py --reachmon=BINARY --workdir=DIR
"""
import os
import signal
import socket
import subprocess
import time

import pytest
from reachmon_testlib import (LISTEN_ANY_PORT, Reachmon, assert_promtool_clean, read_text, wait_exit, wait_for,
                              wait_metrics, write_json)

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_DIR = os.path.join(HERE, "..", "config")
METRICS_DOC = os.path.join(HERE, "..", "..", "docs", "metrics.md")


def config(targets, listen=LISTEN_ANY_PORT):
    return {
        "listen": listen,
        "web": {"enable_reload": True},
        "defaults": {"interval": "100ms", "timeout": "80ms"},
        "sources": [{"name": "lo4", "address": "127.0.0.1"}, {"name": "lo6", "address": "::1"}],
        "targets": targets,
    }


T1 = {"name": "t1", "host": "127.0.0.1", "labels": {"role": "survivor"}}
T2 = {"name": "t2", "host": "127.0.0.2"}
T3 = {"name": "t3", "host": "127.0.0.3"}
T6 = {"name": "t6", "host": "::1"}


def sent(rm, target, source="lo4"):
    return rm.metrics().get("reachmon_probes_sent_total", source=source, target=target)


def run(*cmd, timeout=20):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)


# --- the command line, no running service ------------------------------------------------------

def test_check_config_accepts_a_valid_file(reachmon_bin):
    """check-config exits 0 and says OK for a valid file."""
    r = run(reachmon_bin, "check-config", os.path.join(CONFIG_DIR, "valid", "loopback.json"))
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr


def test_check_config_prints_every_error_with_its_json_path(reachmon_bin):
    """check-config lists every error of a file (each with its JSON path) and exits 1."""
    bad_path = os.path.join(CONFIG_DIR, "invalid", "every_error_at_once.json")
    r = run(reachmon_bin, "check-config", bad_path)
    expected = read_text(os.path.join(CONFIG_DIR, "invalid", "every_error_at_once.expected"))
    missing = [line for line in expected.splitlines() if f"{bad_path}: {line}" not in r.stderr]
    assert r.returncode == 1, r.stderr
    assert not missing, f"errors not printed: {missing}\nstderr:\n{r.stderr}"


def test_an_unknown_command_is_a_usage_error(reachmon_bin):
    r = run(reachmon_bin, "frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr, r.stderr


def test_probe_sends_n_one_off_probes_and_summarises_them(reachmon_bin):
    r = run(reachmon_bin, "probe", "--source", "127.0.0.1", "--target", "127.0.0.1",
            "--count", "3", "--interval", "100ms", "--timeout", "50ms")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert r.stdout.count("reply from 127.0.0.1") == 3, out
    assert "3 probes, 3 replied, 0.0% loss" in r.stdout, out


def test_probe_udp_reaches_a_closed_port_and_refuses_a_bad_port(reachmon_bin):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run(reachmon_bin, "probe", "--source", "127.0.0.1", "--target", "127.0.0.1",
            "--count", "3", "--interval", "100ms", "--timeout", "50ms", "--udp", str(port))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert f"UDP port {port}" in r.stdout and r.stdout.count("reply from 127.0.0.1") == 3, out
    r = run(reachmon_bin, "probe", "--source", "127.0.0.1", "--target", "127.0.0.1",
            "--udp", "65536")
    assert r.returncode == 2 and "--udp: Value 65536 not in range 1 to 65535" in r.stderr, r.stderr


def test_interfaces_lists_loopback_with_its_addresses(reachmon_bin):
    r = run(reachmon_bin, "interfaces")
    assert r.returncode == 0, r.stderr
    assert "lo  index 1  up" in r.stdout and "127.0.0.1" in r.stdout, r.stdout


def test_help_documents_every_command(reachmon_bin):
    r = run(reachmon_bin, "--help")
    assert r.returncode == 0, r.stderr
    missing = [c for c in ("run", "check-config", "interfaces", "probe") if c not in r.stdout]
    assert not missing, f"--help does not mention {missing}:\n{r.stdout}"
    # Both default config paths, spelled out (a raw string once turned "\r" into line breaks).
    assert "Default config: /etc/reachmon/reachmon.json " in r.stdout, r.stdout
    assert "(Windows: %ProgramData%\\reachmon\\reachmon.json)." in r.stdout, r.stdout
    assert "\r" not in r.stdout


def test_an_invalid_config_at_start_up_exits_1_and_lists_the_errors(reachmon_bin, workdir):
    bad = os.path.join(workdir, "bad.json")
    write_json(bad, {"sources": [], "targets": [], "listen": "nowhere"})
    r = run(reachmon_bin, "run", "--config", bad, timeout=10)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "$.listen: invalid listen address" in out and "$.sources: empty" in out, out


def test_sigint_stops_within_1s_with_exit_code_0(start_reachmon, workdir):
    """SIGINT (Ctrl-C in a terminal) stops a running monitor within a second, cleanly."""
    cfg = os.path.join(workdir, "sigint.json")
    write_json(cfg, config([T1]))
    rm = start_reachmon(cfg)
    start = time.monotonic()
    rm.proc.send_signal(signal.SIGINT)
    rc, elapsed = wait_exit(rm.proc, 5, since=start)
    assert rc == 0, f"exit code {rc} after {elapsed:.2f} s:\n{rm.read_log()[-500:]}"
    assert elapsed < 1.0, f"SIGINT took {elapsed:.2f} s to stop reachmon (promise: within 1 s)"


# --- series per path, lazily created series, buckets --------------------------------------------

DEFAULT_LE = ["0.0005", "0.0025", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2", "+Inf"]


def path_series(m, source, target):
    """Every series (name, labels) of one path in a scrape."""
    return [(n, dict(ls)) for (n, ls) in m.samples
            if ("source", source) in ls and ("target", target) in ls]


def le_values(m, target, source="lo4"):
    return [labels["le"] for name, labels in path_series(m, source, target)
            if name == "reachmon_rtt_seconds_bucket"]


def test_a_path_has_at_most_20_series_with_the_default_config(start_reachmon, workdir):
    """Issue 12's goal, on a real scrape: with the default config a path has at most 20 series
    (20 once it has replies: 7 always-present series and the histogram's 13). Error reasons and
    the late, duplicate and corrupted reply counters appear only once they occurred: here only
    the path whose source address is not on this host has one, source_unavailable."""
    path = os.path.join(workdir, "series.json")
    write_json(path, {
        "listen": LISTEN_ANY_PORT, "defaults": {"interval": "100ms", "timeout": "80ms"},
        "sources": [{"name": "lo4", "address": "127.0.0.1"},
                    # TEST-NET-1: not on this host, so nothing is ever sent from it.
                    {"name": "gone", "address": "192.0.2.123"}],
        "targets": [{"name": "echo", "host": "127.0.0.1"},
                    {"name": "closed", "host": "127.0.0.1", "probe": "udp"}]})
    rm = start_reachmon(path)
    m = wait_metrics("replies on both loopback paths and errors on the others", rm.metrics,
                     lambda m: all(m.get("reachmon_probes_replied_total", source="lo4",
                                         target=t) >= 3 for t in ("echo", "closed")) and
                     all(m.get("reachmon_probe_errors_total", source="gone", target=t,
                               reason="source_unavailable") >= 3 for t in ("echo", "closed")))
    counts = {(s, t): len(path_series(m, s, t))
              for s in ("lo4", "gone") for t in ("echo", "closed")}
    print("series per path:", counts)
    assert all(n <= 20 for n in counts.values()), counts
    assert counts[("lo4", "echo")] == 20 and counts[("lo4", "closed")] == 20, counts
    for target in ("echo", "closed"):
        assert le_values(m, target) == DEFAULT_LE
        # The replying paths have no error or anomaly series at all ...
        lazy = [name for name, _ in path_series(m, "lo4", target)
                if name in ("reachmon_probe_errors_total", "reachmon_late_replies_total",
                            "reachmon_duplicate_replies_total",
                            "reachmon_corrupted_replies_total")]
        assert not lazy, lazy
        # ... and the unavailable source's paths only the reason that occurred.
        reasons = [labels["reason"] for name, labels in path_series(m, "gone", target)
                   if name == "reachmon_probe_errors_total"]
        assert reasons == ["source_unavailable"], reasons
    # The families are described even while they have no series.
    for family in ("reachmon_late_replies_total", "reachmon_duplicate_replies_total",
                   "reachmon_corrupted_replies_total"):
        assert f"# TYPE {family} counter" in m.text, family
    assert_promtool_clean(m.text)


def test_a_reload_that_changes_buckets_changes_the_le_values(start_reachmon, workdir):
    """Custom buckets from defaults and per target; a reload that changes a path's buckets
    restarts its histogram (and its other counters) with the new le values, while a path whose
    buckets did not change keeps its counters."""
    path = os.path.join(workdir, "buckets.json")

    def write(default_buckets):
        write_json(path, {
            "listen": LISTEN_ANY_PORT, "web": {"enable_reload": True},
            "defaults": {"interval": "250ms", "timeout": "200ms", "buckets": default_buckets},
            "sources": [{"name": "lo4", "address": "127.0.0.1"}],
            "targets": [{"name": "a", "host": "127.0.0.1"},
                        {"name": "b", "host": "127.0.0.2", "buckets": ["100us", 0.001]}]})
    write(["1ms", "10ms", 0.1])
    rm = start_reachmon(path)
    before = wait_metrics("16 probes on each path", rm.metrics,
                          lambda m: all(m.get("reachmon_probes_scheduled_total", target=t) >= 16
                                        for t in ("a", "b")))
    assert le_values(before, "a") == ["0.001", "0.01", "0.1", "+Inf"]
    assert le_values(before, "b") == ["0.0001", "0.001", "+Inf"]

    write(["500us", "5ms", "50ms", "500ms", "5s"])
    code, body = rm.post("/-/reload")
    assert code == 200, body
    new_le = ["0.0005", "0.005", "0.05", "0.5", "5", "+Inf"]
    after = wait_metrics("a's new buckets", rm.metrics, lambda m: le_values(m, "a") == new_le)
    assert le_values(after, "b") == ["0.0001", "0.001", "+Inf"]
    # a started over (its counters restart, like a probe-kind change); b kept its counters.
    assert (after.get("reachmon_probes_scheduled_total", target="a") <
            before.get("reachmon_probes_scheduled_total", target="a")), after.text
    assert (after.get("reachmon_probes_scheduled_total", target="b") >=
            before.get("reachmon_probes_scheduled_total", target="b")), after.text
    wait_metrics("a's new histogram to count replies", rm.metrics,
                 lambda m: m.get("reachmon_rtt_seconds_count", target="a") >= 2)


# --- process_* metrics against what the OS says about the process --------------------------------

def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_status_bytes(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime: fields 14 and 15 of proc(5), counted from the state (field 3).
    return (int(fields[14 - 3]) + int(fields[15 - 3])) / os.sysconf("SC_CLK_TCK")


def test_process_metrics_agree_with_what_proc_says_about_the_process(reachmon_bin, workdir):
    """process_* on a real scrape against this test's own readings of /proc/PID around it and
    its own clock around the launch; the descriptor limit is one the test sets (prlimit)."""
    path = os.path.join(workdir, "process.json")
    write_json(path, config([T1]))
    launched = time.time()
    with Reachmon(reachmon_bin, path, prefix=("prlimit", "--nofile=1234:")) as rm:
        rm.wait_ready()
        seen_running = time.time()
        pid = rm.proc.pid
        scrapes = []
        # Idle connections hold a socket each in reachmon (until its 5 s request timeout): the
        # count follows them.
        for idle in (0, 10):
            clients = [socket.create_connection(("127.0.0.1", rm.port)) for _ in range(idle)]
            try:
                if idle:
                    # The baseline may include a descriptor that was open for a moment (the
                    # config file, read once a second): one fewer than `idle` is enough.
                    wait_for("reachmon to accept the idle connections",
                             lambda: proc_fds(pid) >= scrapes[0][1] + idle - 1)
                cpu_before, fds_before = proc_cpu_seconds(pid), proc_fds(pid)
                rss_before, size_before = (proc_status_bytes(pid, f) for f in ("VmRSS", "VmSize"))
                m = rm.metrics()
                cpu_after, fds_after = proc_cpu_seconds(pid), proc_fds(pid)
                rss_after, size_after = (proc_status_bytes(pid, f) for f in ("VmRSS", "VmSize"))
            finally:
                for c in clients:
                    c.close()
            scrapes.append((m, min(fds_before, fds_after)))
            # The scrape's own connection is one more descriptor; the config file, read once a
            # second, one more or less.
            fds = m.get("process_open_fds")
            assert min(fds_before, fds_after) - 1 <= fds <= max(fds_before, fds_after) + 2, \
                (fds, fds_before, fds_after)
            cpu = m.get("process_cpu_seconds_total")
            assert cpu_before <= cpu <= cpu_after, (cpu_before, cpu, cpu_after)
            mib = 1 << 20
            rss = m.get("process_resident_memory_bytes")
            assert min(rss_before, rss_after) - 2 * mib <= rss <= max(rss_before, rss_after) + 2 * mib
            size = m.get("process_virtual_memory_bytes")
            assert min(size_before, size_after) - 4 * mib <= size <= max(size_before, size_after) + 4 * mib
            assert m.get("process_max_fds") == 1234
            # Boot time in whole seconds plus the start's clock ticks: up to a second early.
            start = m.get("process_start_time_seconds")
            assert launched - 2 <= start <= seen_running, (launched, start, seen_running)
        (first, _), (second, _) = scrapes
        # 10 idle connections, less a descriptor open for a moment at either scrape
        assert second.get("process_open_fds") >= first.get("process_open_fds") + 10 - 2
        assert second.get("process_cpu_seconds_total") >= first.get("process_cpu_seconds_total")
        assert second.get("process_start_time_seconds") == first.get("process_start_time_seconds")
        assert_promtool_clean(second.text)


# --- one long-running service: endpoints, then reloads, then SIGTERM ---------------------------
# The tests below run in file order against the same process; each reload test leaves the
# config it describes, and the last one stops the process.

@pytest.fixture(scope="module")
def service_config(workdir):
    path = os.path.join(workdir, "service.json")
    write_json(path, config([T1, T2, T6]))
    return path


@pytest.fixture(scope="module")
def service(reachmon_bin, service_config):
    with Reachmon(reachmon_bin, service_config) as rm:
        rm.wait_ready()
        wait_for("t1 probes", lambda: sent(rm, "t1") >= 5)
        yield rm


def test_probes_reply_on_ipv4_and_ipv6_loopback(service):
    wait_for("IPv6 replies", lambda: service.metrics().get(
        "reachmon_probes_replied_total", source="lo6", target="t6") >= 3)
    m = service.metrics()
    assert m.get("reachmon_probes_replied_total", source="lo4", target="t1") >= 4, m.text
    assert m.get("reachmon_probes_replied_total", source="lo6", target="t6") >= 3, m.text


def test_target_labels_are_exported(service):
    m = service.metrics()
    assert m.has("reachmon_path_up", source="lo4", target="t1", role="survivor"), m.text


def test_config_load_is_reported_successful(service):
    m = service.metrics()
    assert m.get("reachmon_config_last_reload_successful") == 1
    assert m.get("reachmon_config_last_reload_success_timestamp_seconds") > 1.6e9


def test_healthy_is_200_while_probing(service):
    code, body = service.get("/-/healthy")
    assert (code, body.strip()) == (200, "OK")


def test_ready_is_200_once_started_with_ip_literal_targets(service):
    """No DNS name to wait for (netns/test_dns.py has names): ready as soon as it serves."""
    code, body = service.get("/-/ready")
    assert (code, body) == (200, "ready\n")


def test_status_page_lists_paths_and_their_state(service):
    code, body = service.get("/")
    assert code == 200, body[:500]
    assert "<td>t1</td>" in body and "ms" in body and "lo6" in body, body[:2000]


def test_get_reload_is_refused_and_unknown_paths_are_404(service):
    assert service.get("/-/reload")[0] == 405
    assert service.get("/nope")[0] == 404


def test_promtool_check_metrics_is_clean(service):
    assert_promtool_clean(service.metrics().text)


def test_docs_document_every_exported_metric(service):
    documented = read_text(METRICS_DOC)
    families = [line.split()[2] for line in service.metrics().text.splitlines()
                if line.startswith("# TYPE ")]
    assert families
    undocumented = [f for f in families if f"`{f}`" not in documented]
    assert not undocumented, f"docs/metrics.md lacks {undocumented}"


def test_a_valid_file_edit_reloads_and_keeps_survivors_counters(service, service_config):
    """Saving the file reloads it: t2 goes, t3 comes, t1 keeps its counters."""
    before = sent(service, "t1")
    write_json(service_config, config([T1, T3, T6]))
    wait_for("t3 to appear after the file edit",
             lambda: service.metrics().has("reachmon_probes_sent_total", target="t3"))
    m = service.metrics()
    assert not m.has("reachmon_probes_sent_total", target="t2"), "removed path t2 is still exported"
    after = m.get("reachmon_probes_sent_total", source="lo4", target="t1")
    assert after >= before, f"survivor t1 lost its counters ({before:.0f} -> {after:.0f})"


def test_a_broken_edit_is_refused_and_the_old_config_keeps_running(service, service_config):
    broken = config([dict(T1, ttl=0), T3])
    broken["colour"] = "blue"
    write_json(service_config, broken)
    wait_for("the refused reload to show",
             lambda: service.metrics().get("reachmon_config_last_reload_successful") == 0)
    log = service.read_log()
    assert "$.colour: unknown key" in log and "$.targets[0].ttl: 0 is out of range" in log, \
        f"the log does not name every error with its JSON path:\n{log[-800:]}"
    before = sent(service, "t1")
    wait_for("t1 to keep probing", lambda: sent(service, "t1") >= before + 3)
    assert service.metrics().has("reachmon_probes_sent_total", source="lo6", target="t6"), \
        "t6, which the broken file drops, is gone: the broken edit was applied"
    code, body = service.post("/-/reload")
    assert code == 400 and "$.colour: unknown key" in body, \
        f"POST /-/reload with a broken file: {code} {body}"


def test_sighup_reloads_the_fixed_file(service, service_config):
    write_json(service_config, config([T1, T2]))
    service.proc.send_signal(signal.SIGHUP)
    wait_for("the SIGHUP reload", lambda: "config reloaded (SIGHUP)" in service.read_log())
    m = wait_metrics("t2 back, t6 gone", service.metrics,
                     lambda m: m.has("reachmon_probes_sent_total", target="t2") and
                     not m.has("reachmon_probes_sent_total", target="t6"))
    assert m.get("reachmon_config_last_reload_successful") == 1


def test_post_reload_with_a_valid_file_answers_200(service):
    code, body = service.post("/-/reload")
    assert code == 200 and "reloaded" in body, f"{code} {body}"


def test_a_taken_port_is_a_start_up_error_naming_the_address(reachmon_bin, service, workdir):
    """A second instance configured with the first one's port fails to start and says why."""
    taken = os.path.join(workdir, "taken.json")
    write_json(taken, config([T1], listen=f"127.0.0.1:{service.port}"))
    r = run(reachmon_bin, "run", "--config", taken, timeout=10)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert f"cannot listen on 127.0.0.1:{service.port}" in out, out


def test_sigterm_stops_within_1s_with_exit_code_0(service):
    """After all of the above, SIGTERM stops the monitor within a second, cleanly."""
    start = time.monotonic()
    service.proc.send_signal(signal.SIGTERM)
    rc, elapsed = wait_exit(service.proc, 5, since=start)
    assert rc == 0, f"exit code {rc} after {elapsed:.2f} s:\n{service.read_log()[-500:]}"
    assert elapsed < 1.0, f"SIGTERM took {elapsed:.2f} s to stop reachmon (promise: within 1 s)"
