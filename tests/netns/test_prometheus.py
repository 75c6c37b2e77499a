"""The operators' kit of deploy/ against a real Prometheus server that scrapes a real reachmon.

Without root (files only): the shipped prometheus.yml, its rule file and the file_sd example pass
`promtool check config`; the Grafana dashboard is provisioning-ready (no __inputs, a `datasource`
variable that every panel, query and variable uses, variables built from reachmon's labels) and
has the panels operators need; the provisioning file points where docs/operations.md says.

With root, end to end: a monitor host with two uplinks and the same targets behind both
(tests/support/topology.py), answered by tests/tools/icmp_responder; reachmon in the monitor
namespace; Prometheus (Debian's /usr/bin/prometheus, its own data directory in the work
directory, no systemd) in the same namespace, scraping reachmon with the shipped prometheus.yml
and evaluating the shipped rule file. Proves through Prometheus' HTTP API: every rule evaluates
without error; with both uplinks healthy the loss rules read 0 and no alert is pending or firing;
when uplink B's link goes down, ReachmonUplinkDown fires for isp-b alone and the loss recording
rules read exactly 1 for isp-b and 0 for isp-a (per source and per path); every query of the
dashboard (panels, repeated and collapsed rows, variables) returns data without error, and its
uplink panel reads isp-b down and isp-a up; a config reload that fails fires
ReachmonConfigReloadFailed; stopping reachmon fires ReachmonDown.

The shipped rules' windows (5m, 1d) and `for:` durations would make this take hours, so the
test loads a copy of the rule file in which every duration (range windows, subquery ranges and
steps, `for:`, group intervals) is divided by SHORTEN; everything else (expressions, labels,
annotations) is the shipped text, which the test checks against what Prometheus loaded.
Prometheus scrapes and evaluates every second.

Run by ctest (netns_prometheus):
    pytest test_prometheus.py --reachmon=BINARY --responder=ICMP_RESPONDER --workdir=DIR
"""
import copy
import itertools
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml
from reachmon_testlib import Reachmon, read_text, sh, wait_for, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY_PROMETHEUS = os.path.join(ROOT, "deploy", "prometheus")
RULES = os.path.join(DEPLOY_PROMETHEUS, "reachmon.rules.yml")
PROMETHEUS_YML = os.path.join(DEPLOY_PROMETHEUS, "prometheus.yml")
FLEET_EXAMPLE = os.path.join(DEPLOY_PROMETHEUS, "file_sd", "reachmon-fleet.yml.example")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "reachmon-dashboard.json")
PROVISIONING = os.path.join(ROOT, "deploy", "grafana", "provisioning", "dashboards",
                            "reachmon.yml")
OPERATIONS_DOC = os.path.join(ROOT, "docs", "operations.md")

SHORTEN = 30          # every duration of the rule file is divided by this: 5m -> 10s, 1d -> 48m
INTERVAL = "1s"       # Prometheus' scrape and evaluation interval in the test
PROMETHEUS_PORT = 9090  # in the test's own monitor namespace, where nothing else listens

ALERTS = {"ReachmonUplinkDown", "ReachmonPathLossHigh", "ReachmonPathRTTAboveBaseline",
          "ReachmonDown", "ReachmonStalled", "ReachmonConfigReloadFailed"}


# ---------------------------------------------------------------------------------------------
# The shipped files


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def reachmon_job(config):
    jobs = [j for j in config["scrape_configs"] if j["job_name"] == "reachmon"]
    assert len(jobs) == 1, f"{PROMETHEUS_YML}: no single job named reachmon"
    return jobs[0]


_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
             "w": 604_800_000, "y": 31_536_000_000}
_DURATION = r"(?:\d+(?:ms|s|m|h|d|w|y))+"


def shorten_duration(text):
    """"5m" -> "10s", "1d" -> "48m" with SHORTEN 30, spelled as Prometheus prints durations
    (largest units first); the result must be whole seconds."""
    ms = milliseconds(text)
    short = ms // SHORTEN
    assert short * SHORTEN == ms and short % 1000 == 0 and short > 0, \
        f"{text} / {SHORTEN} is not a whole number of seconds: choose another SHORTEN"
    out = ""
    for unit in ("y", "w", "d", "h", "m", "s"):
        n, short = divmod(short, _UNITS_MS[unit])
        out += f"{n}{unit}" if n else ""
    return out


def shorten_expr(expr):
    """Every duration of a PromQL expression divided by SHORTEN: range selectors [5m],
    subqueries [1d:5m] and offsets."""
    def brackets(m):
        rng, colon, step = m.groups()
        return f"[{shorten_duration(rng)}{colon or ''}{shorten_duration(step) if step else ''}]"
    out = re.sub(rf"\[\s*({_DURATION})\s*(:)?\s*({_DURATION})?\s*\]", brackets, expr)
    return re.sub(rf"\boffset\s+({_DURATION})", lambda m: f"offset {shorten_duration(m.group(1))}",
                  out)


def milliseconds(duration):
    return sum(int(n) * _UNITS_MS[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration))


def seconds(duration):
    return milliseconds(duration) / 1000


def shortened_rules(rules):
    """A deep copy of a parsed rule file with every duration divided by SHORTEN."""
    out = copy.deepcopy(rules)
    for group in out["groups"]:
        if "interval" in group:
            group["interval"] = shorten_duration(group["interval"])
        for rule in group["rules"]:
            rule["expr"] = shorten_expr(rule["expr"])
            if "for" in rule:
                rule["for"] = shorten_duration(rule["for"])
    return out


def walk_panels(panels, row=None):
    """(panel, its row or None) for every panel, those nested in collapsed rows included."""
    for p in panels:
        yield p, row
        yield from walk_panels(p.get("panels", []), p if p.get("type") == "row" else row)


def variable_query(var):
    q = var.get("query")
    return q["query"] if isinstance(q, dict) else q


# ---------------------------------------------------------------------------------------------
# Without root: the files


def test_shipped_prometheus_config_rules_and_fleet_example_pass_promtool(tmp_path):
    """promtool check config reads prometheus.yml, the rule file it names and every file_sd
    file its glob matches: the fleet example is put in place under the name the docs give."""
    conf = str(tmp_path / "prometheus")
    shutil.copytree(DEPLOY_PROMETHEUS, conf)
    os.rename(os.path.join(conf, "file_sd", "reachmon-fleet.yml.example"),
              os.path.join(conf, "file_sd", "reachmon-fleet.yml"))
    r = subprocess.run(["promtool", "check", "config", os.path.join(conf, "prometheus.yml")],
                       capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "SUCCESS: 1 rule files found" in out and "WARNING" not in out, out
    # The example lists hosts in the documentation domain, and reachmon's port.
    groups = load_yaml(FLEET_EXAMPLE)
    hosts = [t for g in groups for t in g["targets"]]
    assert hosts and all(h.endswith(".example.net:9643") for h in hosts), hosts


def test_the_scrape_config_matches_the_rules_and_reachmons_default_address():
    """ReachmonDown selects the job of the shipped scrape config, the rule file is the one next
    to it, and the static target is reachmon's default listen address."""
    config = load_yaml(PROMETHEUS_YML)
    assert config["rule_files"] == ["reachmon.rules.yml"]
    job = reachmon_job(config)
    assert job["static_configs"] == [{"targets": ["127.0.0.1:9643"]}]
    assert job["file_sd_configs"] == [{"files": ["file_sd/*.yml"]}]
    rules = {r.get("alert"): r for g in load_yaml(RULES)["groups"] for r in g["rules"]}
    assert 'up{job="reachmon"}' in rules["ReachmonDown"]["expr"]


def test_every_alert_has_a_severity_and_names_what_it_is_about():
    rules = [r for g in load_yaml(RULES)["groups"] for r in g["rules"] if "alert" in r]
    assert {r["alert"] for r in rules} == ALERTS
    for r in rules:
        assert r["labels"]["severity"] in ("critical", "warning"), r["alert"]
        text = r["annotations"]["summary"] + r["annotations"]["description"]
        assert "{{ $labels.instance }}" in text, r["alert"]
        if r["alert"].startswith(("ReachmonUplink", "ReachmonPath")):
            assert "{{ $labels.source }}" in text, r["alert"]
        if r["alert"].startswith("ReachmonPath"):
            assert "{{ $labels.target }}" in text, r["alert"]


def test_shortening_changes_only_durations():
    rules = load_yaml(RULES)
    short = shortened_rules(rules)
    assert shorten_expr("rate(x[5m]) + y[1d:5m] + max_over_time(z[1h:] offset 1h)") == \
        "rate(x[10s]) + y[48m:10s] + max_over_time(z[2m:] offset 2m)"
    number = re.compile(_DURATION)
    for g, sg in zip(rules["groups"], short["groups"]):
        for r, sr in zip(g["rules"], sg["rules"]):
            assert number.sub("D", r["expr"]) == number.sub("D", sr["expr"])
            assert {k: v for k, v in r.items() if k not in ("expr", "for")} == \
                {k: v for k, v in sr.items() if k not in ("expr", "for")}
            assert r["expr"] != sr["expr"] or not re.search(r"\[", r["expr"])


def test_the_dashboard_is_provisioning_ready():
    """No __inputs (an export "for sharing externally", which file provisioning cannot fill
    in); one variable of type datasource; every panel, query and query variable uses it."""
    d = load_dashboard()
    assert "__inputs" not in d and "__requires" not in d
    assert d["uid"] == "reachmon" and d.get("id") is None
    variables = d["templating"]["list"]
    ds = [v for v in variables if v["type"] == "datasource"]
    assert len(ds) == 1 and ds[0]["name"] == "datasource" and ds[0]["query"] == "prometheus", ds
    want = {"type": "prometheus", "uid": "${datasource}"}
    for v in variables:
        if v["type"] == "query":
            assert v["datasource"] == want, v["name"]
    targets = 0
    for p, _ in walk_panels(d["panels"]):
        if p["type"] == "row":
            continue
        assert p.get("datasource") == want, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t.get("datasource") == want, (p["title"], t["refId"])
            targets += 1
    assert targets >= 15
    # Nothing anywhere (annotations, links, rows) names a data source of its own.
    def refs(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "datasource":
                    yield where, v
                yield from refs(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from refs(v, f"{where}[{i}]")
    found = list(refs(d, "$"))
    assert len(found) > targets
    assert [w for w, v in found if v != want] == []
    assert "${DS_" not in json.dumps(d)


def test_the_dashboard_variables_come_from_reachmons_labels():
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    assert list(variables) == ["datasource", "job", "instance", "source", "target"]
    for name in ("job", "instance", "source", "target"):
        q = variable_query(variables[name])
        assert re.fullmatch(rf"label_values\(reachmon_\w+(\{{.*\}})?, {name}\)", q), q
        assert variables[name]["definition"] == q
    assert not variables["instance"]["multi"]  # a host's uplinks
    assert variables["source"]["multi"] and variables["source"]["includeAll"]
    assert variables["target"]["multi"] and variables["target"]["includeAll"]


def panels_by_title(d):
    return {p["title"]: (p, row) for p, row in walk_panels(d["panels"]) if p["type"] != "row"}


def exprs(panel):
    return [t["expr"] for t in panel["targets"]]


def test_the_dashboard_has_the_operators_panels():
    d = load_dashboard()
    panels = panels_by_title(d)
    # Loss and RTT quantiles per uplink, side by side.
    loss, _ = panels["Loss per uplink"]
    rtt, _ = panels["RTT per uplink: median, 90th and 99th percentile"]
    assert loss["gridPos"]["y"] == rtt["gridPos"]["y"]
    assert loss["gridPos"]["x"] + loss["gridPos"]["w"] == rtt["gridPos"]["x"]
    assert "sum by (source)" in exprs(loss)[0]
    assert "reachmon_probes_scheduled_total" in exprs(loss)[0]
    assert [e.split(",")[0] for e in exprs(rtt)] == [
        "histogram_quantile(0.5", "histogram_quantile(0.9", "histogram_quantile(0.99"]
    assert all("sum by (source, le)" in e for e in exprs(rtt))
    # Which uplink is down now: an instant query over source_up and the source's replies.
    now, _ = panels["Uplinks now"]
    assert now["targets"][0]["instant"]
    assert "reachmon_source_up" in exprs(now)[0]
    assert "reachmon_probes_replied_total" in exprs(now)[0]
    # One RTT heatmap per path: a row repeated per source holding a panel repeated per target.
    heat, row = panels["RTT $source → $target"]
    assert heat["type"] == "heatmap" and heat["repeat"] == "target"
    assert row["repeat"] == "source" and row["collapsed"]
    assert heat["targets"][0]["format"] == "heatmap"
    assert exprs(heat)[0].startswith("sum by (le) (rate(reachmon_rtt_seconds_bucket{")
    # reachmon itself: probe rate, send delay, config reload status.
    assert any("rate(reachmon_probes_scheduled_total" in e
               for e in exprs(panels["Probes per second"][0]))
    assert all("reachmon_send_delay_seconds_bucket" in e for e in exprs(panels["Send delay"][0]))
    assert "reachmon_config_last_reload_successful" in exprs(panels["Config"][0])[0]


def test_the_dashboard_panels_do_not_overlap():
    """Grafana moves overlapping panels about; rows are full width and one unit high."""
    d = load_dashboard()
    cells = {}
    for p in d["panels"]:  # top level; a collapsed row's panels are laid out when it opens
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for x, y in itertools.product(range(g["x"], g["x"] + g["w"]),
                                      range(g["y"], g["y"] + g["h"])):
            assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
            cells[(x, y)] = p["title"]


def test_the_provisioning_file_points_where_the_docs_say():
    prov = load_yaml(PROVISIONING)
    assert prov["apiVersion"] == 1
    (provider,) = prov["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert os.path.isabs(path)
    doc = read_text(OPERATIONS_DOC)
    assert f"{path}/reachmon-dashboard.json" in doc, f"docs/operations.md does not name {path}"


# ---------------------------------------------------------------------------------------------
# With root: reachmon, Prometheus and the rules, end to end


class PrometheusAPI:
    """Prometheus' HTTP API inside a network namespace, through curl run in it."""

    def __init__(self, netns, port):
        self.netns, self.base = netns, f"http://127.0.0.1:{port}"

    def _curl(self, path, params=()):
        args = ["ip", "netns", "exec", self.netns, "curl", "-sS", "--max-time", "10", "-G",
                "-w", "\n%{http_code}"]
        for k, v in params:
            args += ["--data-urlencode", f"{k}={v}"]
        r = subprocess.run(args + [self.base + path], capture_output=True, text=True)
        if r.returncode != 0:
            raise OSError(f"curl {path}: exit {r.returncode} {r.stderr.strip()}")
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    def ready(self):
        return self._curl("/-/ready")[0] == 200

    def api(self, path, params=()):
        """The `data` of a successful answer; AssertionError naming the query otherwise."""
        code, body = self._curl("/api/v1/" + path, params)
        answer = json.loads(body)
        assert code == 200 and answer["status"] == "success", \
            f"{path} {dict(params)}: {code} {answer.get('errorType')}: {answer.get('error')}"
        assert not answer.get("warnings"), f"{path} {dict(params)}: {answer['warnings']}"
        return answer["data"]

    def query(self, expr):
        """{frozenset(labels.items()): value} of an instant query returning a vector."""
        data = self.api("query", [("query", expr)])
        assert data["resultType"] == "vector", (expr, data["resultType"])
        return {frozenset(s["metric"].items()): float(s["value"][1]) for s in data["result"]}

    def values(self, expr, label):
        """{label value: sample value} of an instant query, one sample per label value."""
        out = {}
        for labels, v in self.query(expr).items():
            key = dict(labels)[label]
            assert key not in out, f"{expr}: two samples for {label}={key}"
            out[key] = v
        return out

    def alerts(self, name=None):
        """Active (pending or firing) alerts: [(labels dict, state)]."""
        return [(a["labels"], a["state"]) for a in self.api("alerts")["alerts"]
                if name is None or a["labels"]["alertname"] == name]

    def firing(self, name):
        return {a.get("source") or a["instance"] for a, state in self.alerts(name)
                if state == "firing"}


TARGETS = {"t1": "192.0.2.10", "t2": "192.0.2.11"}
SOURCES = {"isp-a": "a0", "isp-b": "b0"}


def reachmon_config(listen):
    return {
        "listen": listen,
        "web": {"enable_reload": True},
        # A timeout well above the responders' delays: a loaded machine does not lose probes.
        "defaults": {"interval": "200ms", "timeout": "1s"},
        "sources": [{"name": n, "interface": dev} for n, dev in SOURCES.items()],
        "targets": [{"name": "t1", "host": TARGETS["t1"]},
                    {"name": "t2", "host": TARGETS["t2"], "labels": {"role": "dns"}}],
    }


@pytest.fixture(scope="module")
def config_path(workdir):
    return os.path.join(workdir, "reachmon.json")


@pytest.fixture(scope="module")
def scrape_config():
    """The shipped prometheus.yml, parsed."""
    return load_yaml(PROMETHEUS_YML)


@pytest.fixture(scope="module")
def monitor(topo, path_option, reachmon_bin, workdir, config_path, scrape_config):
    """Responders on both upstreams (uplink B 20 ms slower than A) and reachmon in the monitor
    namespace, listening where the shipped scrape config's static target points."""
    responder = path_option("responder")
    topo.start(topo.a, [responder, "--delay-ms", "2"], os.path.join(workdir, "responder-a.log"))
    topo.start(topo.b, [responder, "--delay-ms", "20"], os.path.join(workdir, "responder-b.log"))
    (listen,) = reachmon_job(scrape_config)["static_configs"][0]["targets"]
    write_json(config_path, reachmon_config(listen))
    with Reachmon(reachmon_bin, config_path, netns=topo.m) as rm:
        rm.wait_ready()
        yield rm


@pytest.fixture(scope="module")
def prometheus(topo, monitor, workdir, scrape_config):
    """Prometheus in the monitor namespace with the shipped scrape config (its intervals 1s)
    and the shipped rules with shortened durations; its own data directory, no systemd."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    assert os.access(binary, os.X_OK), "no prometheus server: run scripts/setup (Debian prometheus)"
    home = os.path.join(workdir, "prometheus")
    shutil.rmtree(home, ignore_errors=True)  # a previous run's data
    os.makedirs(home)
    # The shipped directory's layout: an empty file_sd/ (its example does not match the glob).
    shutil.copytree(os.path.join(DEPLOY_PROMETHEUS, "file_sd"), os.path.join(home, "file_sd"))
    rules = os.path.join(home, "reachmon.rules.short.yml")
    with open(rules, "w") as f:
        json.dump(shortened_rules(load_yaml(RULES)), f, indent=2)  # JSON is YAML
    config = copy.deepcopy(scrape_config)
    config["global"].update(scrape_interval=INTERVAL, scrape_timeout=INTERVAL,
                            evaluation_interval=INTERVAL)
    config["rule_files"] = [rules]
    config_file = os.path.join(home, "prometheus.yml")
    with open(config_file, "w") as f:
        json.dump(config, f, indent=2)
    log = os.path.join(home, "prometheus.log")
    proc = topo.start(topo.m, [binary, f"--config.file={config_file}",
                               f"--storage.tsdb.path={os.path.join(home, 'data')}",
                               f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"], log)
    api = PrometheusAPI(topo.m, PROMETHEUS_PORT)

    def ready():
        assert proc.poll() is None, \
            f"prometheus exited with {proc.returncode}:\n{read_text(log)[-3000:]}"
        return api.ready()
    wait_for("Prometheus to be ready", ready, timeout=30, interval=0.2)
    api.log_path = log
    return api


def loss(api, level):
    """{source: loss} of source:..., or {(source, target): loss} of path:... recording rules."""
    out = {}
    for labels, v in api.query(f"{level}:reachmon_probe_loss:ratio_5m").items():
        d = dict(labels)
        out[d["source"] if level == "source" else (d["source"], d["target"])] = v
    return out


@pytest.fixture(scope="module")
def healthy(prometheus):
    """Waits until the loss rules cover every path and source, and the RTT rules both sources."""
    paths = {(s, t) for s in SOURCES for t in TARGETS}
    wait_for("loss for every path and source, RTT for both sources", lambda: (
        set(loss(prometheus, "path")) == paths and set(loss(prometheus, "source")) == set(SOURCES)
        and set(prometheus.values('source:reachmon_rtt_seconds:quantile_5m{quantile="0.5"}',
                                  "source")) == set(SOURCES)), timeout=30, interval=0.5)
    return prometheus


@pytest.mark.root
def test_prometheus_loaded_the_shipped_rules_and_evaluates_them_without_error(healthy):
    shipped = shortened_rules(load_yaml(RULES))
    groups = {g["name"]: g for g in healthy.api("rules")["groups"]}
    assert sorted(groups) == sorted(g["name"] for g in shipped["groups"])
    for sg in shipped["groups"]:
        g = groups[sg["name"]]
        assert g["interval"] == (seconds(sg["interval"]) if "interval" in sg else seconds(INTERVAL))
        assert len(g["rules"]) == len(sg["rules"]), g["name"]
        for r, sr in zip(g["rules"], sg["rules"]):
            name = sr.get("record") or sr.get("alert")
            assert r["name"] == name
            assert r["health"] == "ok", f"{name}: {r.get('lastError')}"
            # Prometheus prints the expression it parsed: the shipped one, but for white space.
            assert re.sub(r"\s", "", r["query"]) == re.sub(r"\s", "", sr["expr"]), name
            assert r.get("labels", {}) == sr.get("labels", {}), name
            if "alert" in sr:
                assert r["annotations"] == sr["annotations"], name
                assert r["duration"] == seconds(sr["for"]), name
    # Nothing went wrong so far: no failed rule evaluation, scrape or file_sd watch.
    problems = [line for line in read_text(healthy.log_path).splitlines()
                if "level=error" in line or "level=warn" in line]
    assert not problems, "\n".join(problems)


@pytest.mark.root
def test_healthy_uplinks_read_no_loss_and_raise_no_alert(healthy):
    def settled():
        return (set(loss(healthy, "source").values()) == {0} and
                set(loss(healthy, "path").values()) == {0})
    wait_for("loss 0 on every source and path", settled, timeout=20, interval=0.5)
    assert healthy.alerts() == [], healthy.alerts()
    # The RTT rules see uplink B's extra 20 ms.
    p50 = healthy.values('source:reachmon_rtt_seconds:quantile_5m{quantile="0.5"}', "source")
    assert 0 < p50["isp-a"] < p50["isp-b"], p50
    for q in ("0.5", "0.9", "0.99"):
        per_path = healthy.query(f'path:reachmon_rtt_seconds:quantile_5m{{quantile="{q}"}}')
        assert len(per_path) == len(SOURCES) * len(TARGETS), (q, per_path)


@pytest.fixture(scope="module")
def broken(healthy, topo):
    """Uplink B's link goes down (its upstream's end, as when a modem dies): the monitor's b0
    loses its carrier, and its probes end as source_unavailable. Returns the Prometheus API
    once Prometheus has scraped that reason's series (which appears with its first count)
    long enough for rate() to see it grow."""
    sh(f"ip -n {topo.b} link set b1 down")
    wait_for("source_unavailable errors of isp-b in Prometheus", lambda: healthy.query(
        'rate(reachmon_probe_errors_total{source="isp-b",reason="source_unavailable"}[4s]) > 0'),
        timeout=20, interval=0.5)
    return healthy


@pytest.mark.root
def test_a_broken_uplink_fires_uplink_down_and_its_loss_reads_1(broken):
    api = broken
    wait_for("ReachmonUplinkDown firing for isp-b", lambda: api.firing("ReachmonUplinkDown"),
             timeout=30, interval=0.5)
    assert api.firing("ReachmonUplinkDown") == {"isp-b"}
    # Once the shortened window holds no reply of uplink B, its loss is exactly 1; uplink A's
    # stays exactly 0. Both read from one evaluation.
    want_paths = {(s, t): (1 if s == "isp-b" else 0) for s in SOURCES for t in TARGETS}
    wait_for("the loss rules to read 1 for isp-b and 0 for isp-a",
             lambda: (loss(api, "source") == {"isp-a": 0, "isp-b": 1} and
                      loss(api, "path") == want_paths), timeout=30, interval=0.5)
    assert not [a for a, _ in api.alerts("ReachmonUplinkDown") if a["source"] == "isp-a"]
    assert api.values("reachmon_source_up", "source") == {"isp-a": 1, "isp-b": 0}


# ---------------------------------------------------------------------------------------------
# The dashboard's queries, as Grafana would send them

SCRAPE_S = 1      # INTERVAL, in seconds: what Grafana's data source setting "Scrape interval" says
STEP_S = 2        # the graphs' step ($__interval)
RANGE_S = 30      # the time range of the range queries


def grafana_regex_escape(value):
    """What Grafana's Prometheus data source does to a value of a multi-value variable."""
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", value)


def interpolate(expr, values, multi):
    """Replaces Grafana's variables: ${var} and $var with their values (a multi-value variable
    as a regex alternation of its escaped values, as Grafana does), and the built-in
    $__rate_interval, $__interval and $__range. Fails on anything left over."""
    builtin = {"__rate_interval": f"{max(STEP_S + SCRAPE_S, 4 * SCRAPE_S)}s",
               "__interval": f"{STEP_S}s", "__range": f"{RANGE_S}s"}

    def one(m):
        name = m.group(1) or m.group(2)
        if name in builtin:
            return builtin[name]
        assert name in values, f"{expr}: unknown variable ${name}"
        vals = values[name]
        if not multi[name]:
            (v,) = vals
            return v
        escaped = [grafana_regex_escape(v) for v in vals]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    out = re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)
    assert "$" not in out and "[[" not in out, out
    return out


def label_values(api, query, values, multi):
    """label_values(selector, label) or label_values(label), as Grafana's Prometheus data
    source sends it: GET /api/v1/label/<label>/values?match[]=<selector>."""
    m = re.fullmatch(r"label_values\((?:(.+),\s*)?(\w+)\)", query.strip())
    assert m, f"a variable query the test does not know: {query}"
    selector, label = m.groups()
    params = [("start", str(time.time() - RANGE_S)), ("end", str(time.time()))]
    if selector:
        params.append(("match[]", interpolate(selector, values, multi)))
    return api.api(f"label/{label}/values", params)


@pytest.mark.root
def test_every_dashboard_query_returns_data(broken):
    """Every variable query and every panel query of the dashboard, with the variables set as
    Grafana would (every value of a multi-value variable, "All"), against the Prometheus that
    scraped reachmon: status success, no warning, data. A repeated panel runs once per value of
    its repeat variables (each path's heatmap). After uplink B broke, so every reason series
    the panels show exists."""
    api = broken
    d = load_dashboard()
    variables = [v for v in d["templating"]["list"] if v["type"] == "query"]
    values, multi = {}, {}
    for v in variables:
        found = label_values(api, variable_query(v), values, multi)
        assert found, f"variable {v['name']}: {variable_query(v)} has no value"
        values[v["name"]], multi[v["name"]] = found, v["multi"]
    assert values["job"] == ["reachmon"] and values["source"] == sorted(SOURCES) and \
        values["target"] == sorted(TARGETS), values

    ran = 0
    for panel, row in walk_panels(d["panels"]):
        if panel["type"] == "row":
            continue
        repeats = [r for r in (row and row.get("repeat"), panel.get("repeat")) if r]
        for combo in itertools.product(*(values[r] for r in repeats)):
            scoped = dict(values, **{r: [v] for r, v in zip(repeats, combo)})
            for t in panel["targets"]:
                where = f"{panel['title']} {dict(zip(repeats, combo))} {t['refId']}"
                expr = interpolate(t["expr"], scoped, multi)
                end = time.time()
                if t["instant"]:
                    data = api.api("query", [("query", expr), ("time", str(end))])
                else:
                    data = api.api("query_range", [("query", expr), ("start", str(end - RANGE_S)),
                                                   ("end", str(end)), ("step", str(STEP_S))])
                assert data["result"], f"{where}: no data for\n{expr}"
                ran += 1
    assert ran >= 20, ran

    # "Uplinks now" says which uplink is down.
    (now,) = [p for p, _ in walk_panels(d["panels"]) if p["title"] == "Uplinks now"]
    expr = interpolate(now["targets"][0]["expr"], values, multi)
    assert api.values(expr, "source") == {"isp-a": 1, "isp-b": 0}


@pytest.mark.root
def test_a_failed_config_reload_fires_config_reload_failed(broken, monitor, config_path):
    api = broken
    assert not api.firing("ReachmonConfigReloadFailed")
    with open(config_path, "w") as f:
        f.write('{"listen": "127.0.0.1:9643", "sources": [], "targets": [{"name": "x"}]}')
    code, body = monitor.post("/-/reload")
    assert code == 400, (code, body)
    wait_for("ReachmonConfigReloadFailed firing",
             lambda: api.firing("ReachmonConfigReloadFailed") == {"127.0.0.1:9643"},
             timeout=30, interval=0.5)


@pytest.mark.root
def test_stopping_reachmon_fires_reachmon_down(broken, monitor):
    api = broken
    assert not api.firing("ReachmonDown")
    monitor.stop()
    wait_for("ReachmonDown firing", lambda: api.firing("ReachmonDown") == {"127.0.0.1:9643"},
             timeout=30, interval=0.5)
    # A reachmon that cannot be scraped is down, not stalled.
    assert not api.alerts("ReachmonStalled")
