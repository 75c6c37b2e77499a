"""A multi-homed monitor host and two upstream hosts, as network namespaces.

    monitor (M)                        upstream A                upstream B
    a0 10.71.1.2/24 fd71:1::2/64  <->  a1 10.71.1.1 fd71:1::1
    b0 10.71.2.2/24 fd71:2::2/64  <->                            b1 10.71.2.1 fd71:2::1
    policy routing: from 10.71.1.2 -> table 101 (via A), from 10.71.2.2 -> table 102 (via B)

Both upstreams carry the same target addresses on lo (192.0.2.10-13, 2001:db8::10-11), have
kernel echo replies disabled (the test's icmp_responder answers instead; it answers 198.51.100.99
with "host unreachable", which the kernel would rate-limit), forward packets, and route
198.51.100.50 and 2001:db8::50 back to the monitor: a probe sent with TTL / hop limit 1 expires at
the upstream (time exceeded from 10.71.i.1 / fd71:i::1); one with more comes back to the monitor,
which does not forward and drops it, so it times out without looping.
add_routes(ns, "unreachable" | "prohibit" | "blackhole", *prefixes) adds such routes to a
namespace: the kernel then answers host unreachable (ICMP 3/1, ICMPv6 1/0) or administratively
prohibited (3/13, 1/1), or drops silently.
Namespaces get unique names and are always deleted, even when the test fails.
"""
import json
import os
import subprocess

from reachmon_testlib import sh


class Topology:
    def __init__(self):
        tag = f"rm{os.getpid() % 100000}"
        self.m, self.a, self.b = f"{tag}mon", f"{tag}a", f"{tag}b"
        self.procs = []

    def __enter__(self):
        try:
            self._build()
        except Exception:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def exec(self, ns, cmd, check=True):
        return sh(f"ip netns exec {ns} {cmd}", check)

    def _build(self):
        m, a, b = self.m, self.a, self.b
        for ns in (m, a, b):
            sh(f"ip netns add {ns}")
            sh(f"ip -n {ns} link set lo up")
            # No duplicate address detection: tentative link-local addresses delay neighbour
            # discovery by a second, which would show up as start-up loss.
            for key in ("net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"):
                self.exec(ns, f"sysctl -q -w {key}")
        for up, i, dev_m, dev_u in ((a, 1, "a0", "a1"), (b, 2, "b0", "b1")):
            sh(f"ip -n {m} link add {dev_m} type veth peer name {dev_u} netns {up}")
            sh(f"ip -n {m} addr add 10.71.{i}.2/24 dev {dev_m}")
            sh(f"ip -n {m} addr add fd71:{i}::2/64 dev {dev_m} nodad")
            sh(f"ip -n {up} addr add 10.71.{i}.1/24 dev {dev_u}")
            sh(f"ip -n {up} addr add fd71:{i}::1/64 dev {dev_u} nodad")
            sh(f"ip -n {m} link set {dev_m} up")
            sh(f"ip -n {up} link set {dev_u} up")
            # Static neighbours: the first IPv6 replies otherwise wait about a second for
            # neighbour discovery, which is start-up noise, not what the tests measure.
            mac_m, mac_u = self._mac(m, dev_m), self._mac(up, dev_u)
            for ns, dev, mac, v4, v6 in ((m, dev_m, mac_u, f"10.71.{i}.1", f"fd71:{i}::1"),
                                         (up, dev_u, mac_m, f"10.71.{i}.2", f"fd71:{i}::2")):
                for addr in (v4, v6):
                    sh(f"ip -n {ns} neigh replace {addr} lladdr {mac} dev {dev} nud permanent")
            for addr in ("192.0.2.10/32", "192.0.2.11/32", "192.0.2.12/32", "192.0.2.13/32", "198.51.100.99/32"):
                sh(f"ip -n {up} addr add {addr} dev lo")
            for addr in ("2001:db8::10/128", "2001:db8::11/128"):
                sh(f"ip -n {up} addr add {addr} dev lo nodad")
            for key in ("net.ipv4.icmp_echo_ignore_all=1", "net.ipv6.icmp.echo_ignore_all=1",
                        "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                        "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0",
                        "net.ipv4.conf.all.rp_filter=0"):
                self.exec(up, f"sysctl -q -w {key}")
            sh(f"ip -n {up} route add 198.51.100.50/32 via 10.71.{i}.2")
            sh(f"ip -n {up} -6 route add 2001:db8::50/128 via fd71:{i}::2")
            self.routes(i)
        self.exec(m, 'sysctl -q -w net.ipv4.ping_group_range="0 2147483647"')

    def add_target_addresses(self, ns, *addresses):
        """Adds more target addresses (e.g. "192.0.2.20", "2001:db8::20") to namespace ns's lo,
        as /32 or /128, without duplicate address detection."""
        for addr in addresses:
            if ":" in addr:
                sh(f"ip -n {ns} addr add {addr}/128 dev lo nodad")
            else:
                sh(f"ip -n {ns} addr add {addr}/32 dev lo")

    ROUTE_KINDS = ("unreachable", "prohibit", "blackhole")

    def add_routes(self, ns, kind, *prefixes):
        """Adds `kind` routes ("unreachable", "prohibit" or "blackhole") for prefixes (e.g.
        "192.0.2.128/25", "2001:db8:1::/48"; an address alone is a host route) to namespace ns's
        main table. Put them in an upstream: the kernel answers forwarded packets with ICMP, but
        fails a sender in the same namespace at sendmsg instead."""
        if kind not in self.ROUTE_KINDS:
            raise ValueError(f"route kind {kind!r} is not one of {self.ROUTE_KINDS}")
        for prefix in prefixes:
            fam = "-6" if ":" in prefix else "-4"
            sh(f"ip -n {ns} {fam} route add {kind} {prefix}")

    @staticmethod
    def _mac(ns, dev):
        return json.loads(sh(f"ip -n {ns} -j link show dev {dev}"))[0]["address"]

    def routes(self, i):
        """(Re)creates uplink i's policy routes in the monitor namespace."""
        dev = "a0" if i == 1 else "b0"
        table = 100 + i
        sh(f"ip -n {self.m} route replace table {table} default via 10.71.{i}.1 dev {dev}")
        sh(f"ip -n {self.m} -6 route replace table {table} default via fd71:{i}::1 dev {dev}")
        for fam, src in (("-4", f"10.71.{i}.2"), ("-6", f"fd71:{i}::2")):
            if src not in sh(f"ip -n {self.m} {fam} rule show"):
                sh(f"ip -n {self.m} {fam} rule add from {src} table {table} pref {1000 + i}")

    def start(self, ns, cmd, log):
        f = open(log, "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=f, stderr=subprocess.STDOUT)
        self.procs.append((p, f))
        return p

    def close(self):
        for p, f in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
            f.close()
        for ns in (self.m, self.a, self.b):
            subprocess.run(["ip", "netns", "pids", ns], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
