"""The status page in a real browser: headless Chromium (Debian's `chromium`) renders "/" and
"/path" of a reachmon that probes two uplinks, and the test reads what the browser built.

A monitor host with two uplinks and the same targets behind both (tests/support/topology.py),
answered by tests/tools/icmp_responder with jitter: uplink A fast and clean, uplink B slower and
lossy (every 4th request to t1 dropped, every 2nd to t2: 25 % and 50 %). reachmon runs in the
monitor namespace, and so does Chromium (--headless, --dump-dom and --screenshot), so it reaches
reachmon's 127.0.0.1 like a browser on the monitor host.

Proves, on the DOM the browser parsed (so markup the browser would nest differently fails too):
before the first slot closed a graph says so; every path (source x target) is one div.path
holding one inline svg.rtt-graph, the uplinks of a target side by side in one section.target;
the lossy paths show loss columns (rect.loss, each with a <title> counting the lost probes:
together every probe the responder dropped, once, but for the slots not closed yet) and the
loss the responder really caused (within 10 points: the page's window and the responder's
counters do not hold exactly the same probes), the clean ones none and "0.0 %"; ?source= and
?target= filter, and an unknown name answers 404; /path shows one path with two graphs, 3 hours
then 10 minutes, and answers 404 for an unknown path; no page carries a script or loads anything
from elsewhere; the screenshot is a real picture of the window's size (status-page.png in the
work directory).

Run by ctest (netns_status_page):
    pytest test_status_page.py --reachmon=BINARY --responder=ICMP_RESPONDER --workdir=DIR
"""
import html.parser
import os
import re
import shutil
import signal
import struct
import subprocess
import zlib

import pytest
from reachmon_testlib import LISTEN_ANY_PORT, Reachmon, read_json, wait_for, write_json

pytestmark = pytest.mark.root

CHROMIUM = "chromium"
CHROMIUM_TIMEOUT_S = 60
WINDOW = (1400, 1000)
DATA_TIMEOUT_S = 60  # a slot shows once closed: data 10-20 s after the start, 60 s on a busy host
LOSS_TOLERANCE_POINTS = 10.0
# Probes the lossy paths' loss columns must cover before the loss is compared: two 10-second
# slots and a part of one.
MIN_PROBES_SHOWN = 250
PROBES_PER_SECOND = 10  # the configured interval, 100 ms
# The page shows closed slots only, and a drop only once its probe's 2 s timeout has passed: the
# drops of the last 10-second slot, of one closing while the page was fetched, and of the last
# 2 s may be missing from it. Generously, 20 seconds' worth.
UNSHOWN_SECONDS = 20

TARGETS = {"t1": "192.0.2.10", "t2": "192.0.2.11"}
SOURCES = {"isp-a": "10.71.1.2", "isp-b": "10.71.2.2"}
DROP_EVERY_B = {"t1": 4, "t2": 2}  # the lossy uplink's deterministic loss, per target
PATHS = [(s, t) for t in TARGETS for s in SOURCES]
LOSSY = {("isp-b", t) for t in TARGETS}


def config():
    return {
        "listen": LISTEN_ANY_PORT,
        # A generous timeout: a reply held up by a stall of the loaded machine still counts,
        # so the clean uplink reads exactly 0 % lost.
        "defaults": {"interval": "100ms", "timeout": "2s"},
        "sources": [{"name": "isp-a", "interface": "a0"},
                    {"name": "isp-b", "address": SOURCES["isp-b"]}],
        "targets": [{"name": name, "host": host} for name, host in TARGETS.items()],
    }


# ---------------------------------------------------------------------------------------------
# The DOM, as Chromium serialised it


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.texts = [], []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for c in self.children:
            yield from c.iter()

    def find_all(self, tag=None, cls=None):
        return [n for n in self.iter() if n is not self and (tag is None or n.tag == tag)
                and (cls is None or cls in n.classes())]

    def text(self):
        return "".join(self.texts) + "".join(c.text() for c in self.children)

    def ancestor(self, tag, cls):
        n = self.parent
        while n is not None and not (n.tag == tag and cls in n.classes()):
            n = n.parent
        return n


class TreeBuilder(html.parser.HTMLParser):
    """A tree of Nodes from serialised HTML (names lowercased, as html.parser does)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.texts.append(data)


def parse(markup):
    b = TreeBuilder()
    b.feed(markup)
    b.close()
    return b.root


class Page:
    """A status page's DOM: its path divs by (source, target)."""

    def __init__(self, markup):
        self.markup = markup
        self.root = parse(markup)
        self.paths = {}
        for div in self.root.find_all("div", "path"):
            key = (div.attrs.get("data-source"), div.attrs.get("data-target"))
            assert key not in self.paths, f"two div.path for {key}"
            self.paths[key] = div

    def graphs(self, key=None):
        where = self.root if key is None else self.paths[key]
        return [s for s in where.find_all("svg") if "rtt-graph" in s.classes()]

    def loss_text(self, key):
        spans = self.paths[key].find_all("span", "loss-pct")
        assert len(spans) == 1, f"{key}: {len(spans)} span.loss-pct"
        return " ".join(spans[0].text().split())  # no-break spaces and newlines as one space

    def loss(self, key):
        """The loss shown in percent, or None for "-" (no data)."""
        text = self.loss_text(key)
        if text == "-":
            return None
        m = re.fullmatch(r"(\d+(?:\.\d+)?) ?%", text)
        assert m, f"{key}: loss-pct {text!r} is neither '-' nor like '25.0 %'"
        return float(m.group(1))

    def elements(self, key, tag, cls):
        return [n for g in self.graphs(key) for n in g.find_all(tag, cls)]


def column_counts(page, key):
    """(lost, probes) over the path's loss columns, as their titles count them ("14 of 60 probes
    lost (23.3 %)"; a column may stand for several slots)."""
    lost = probes = 0
    for rect in page.elements(key, "rect", "loss"):
        m = re.search(r"(\d+) of (\d+)", rect.text())
        assert m, f"{key}: rect.loss title {rect.text()!r} does not say how many were lost"
        n, of = int(m.group(1)), int(m.group(2))
        assert 0 < n <= of, f"{key}: rect.loss title {rect.text()!r}"
        lost, probes = lost + n, probes + of
    return lost, probes


def assert_self_contained(markup, root):
    """No script, nothing fetched from elsewhere: the page works offline and behind proxies that
    block scripts. In the served text and in the DOM the browser built from it."""
    assert "<script" not in markup.lower()
    assert not root.find_all("script")
    remote = re.compile(r"^\s*(https?:)?//", re.I)
    for n in root.iter():
        for name in ("src", "href", "xlink:href", "action", "srcset", "data", "poster"):
            value = n.attrs.get(name)
            assert value is None or not remote.match(value), f"<{n.tag} {name}={value!r}>"
        if n.tag == "link":
            assert n.attrs.get("rel") not in ("stylesheet", "preload", "prefetch"), n.attrs
    styles = " ".join(n.text() for n in root.find_all("style")) + " ".join(
        n.attrs.get("style") or "" for n in root.iter())
    assert not re.search(r"@import|url\(\s*['\"]?\s*(https?:)?//", styles, re.I)


# ---------------------------------------------------------------------------------------------
# Chromium


class Chromium:
    """Headless Chromium in a network namespace, with its own home and profile in the work
    directory. Every call is bounded in time, and its whole process group is killed when it
    ends, so no renderer or helper outlives it (they would keep the namespace busy)."""

    def __init__(self, netns, workdir):
        self.netns = netns
        self.home = os.path.join(workdir, "chromium-home")
        shutil.rmtree(self.home, ignore_errors=True)
        os.makedirs(self.home)
        self.log_path = os.path.join(workdir, "chromium.log")
        open(self.log_path, "w").close()

    def run(self, *args):
        cmd = ["ip", "netns", "exec", self.netns, CHROMIUM, "--headless", "--no-sandbox",
               "--disable-gpu", f"--user-data-dir={os.path.join(self.home, 'profile')}",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--mute-audio", *args]
        env = {"HOME": self.home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "LANG": "C.UTF-8"}
        with open(self.log_path, "a") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env,
                                 start_new_session=True)
            try:
                out, _ = p.communicate(timeout=CHROMIUM_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._kill(p.pid)
                p.communicate()
                raise AssertionError(f"chromium took over {CHROMIUM_TIMEOUT_S}s: {args} "
                                     f"(log: {self.log_path})")
            finally:
                self._kill(p.pid)
        assert p.returncode == 0, \
            f"chromium exited with {p.returncode}: {args} (log: {self.log_path})"
        return out.decode()

    @staticmethod
    def _kill(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def dom(self, url):
        return self.run("--dump-dom", url)

    def screenshot(self, url, path, size=WINDOW):
        if os.path.exists(path):
            os.remove(path)
        self.run("--hide-scrollbars", f"--window-size={size[0]},{size[1]}",
                 f"--screenshot={path}", url)


# ---------------------------------------------------------------------------------------------
# PNG: the standard library is enough for 8-bit RGB(A) without interlacing, which Chromium writes


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    """(width, height, bytes per pixel, rows of raw pixel bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"{path}: bad CRC in {kind}"
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * bpp
    assert len(raw) == height * (stride + 1), f"{path}: {len(raw)} bytes of pixel data"
    rows, prev = [], bytearray(stride)
    for y in range(height):
        at = y * (stride + 1)
        ftype, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        if ftype == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif ftype == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        else:
            assert ftype == 0, f"{path}: filter type {ftype}"
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


# ---------------------------------------------------------------------------------------------
# The monitor


def truth_key(source, target):
    return f"{SOURCES[source]}>{TARGETS[target]}"


@pytest.fixture(scope="module")
def truth(topo, path_option, workdir):
    """Starts the two responders; truth(uplink) reads that responder's ground truth."""
    responder = path_option("responder")
    stats = {u: os.path.join(workdir, f"{u}.json") for u in ("a", "b")}
    for path in stats.values():  # a previous run's
        if os.path.exists(path):
            os.remove(path)
    topo.start(topo.a, [responder, "--delay-ms", "2", "--jitter-ms", "3", "--stats", stats["a"]],
               os.path.join(workdir, "responder-a.log"))
    lossy = []
    for target, n in DROP_EVERY_B.items():
        lossy += ["--dest", TARGETS[target], "--drop-every", str(n)]
    topo.start(topo.b, [responder, "--delay-ms", "20", "--jitter-ms", "20", "--stats", stats["b"],
                        *lossy], os.path.join(workdir, "responder-b.log"))
    for path in stats.values():
        wait_for(f"the responder to write {path}", lambda: os.path.exists(path))
    return lambda uplink: read_json(stats[uplink])


@pytest.fixture(scope="module")
def monitor(topo, truth, reachmon_bin, workdir):
    config_path = os.path.join(workdir, "reachmon.json")
    write_json(config_path, config())
    with Reachmon(reachmon_bin, config_path, netns=topo.m) as rm:
        rm.wait_ready()
        rm.first_page = served(rm, "/")  # before any slot has closed, most likely
        yield rm


@pytest.fixture(scope="module")
def browser(topo, workdir):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no {CHROMIUM} on PATH: scripts/setup installs it", pytrace=False)
    return Chromium(topo.m, workdir)


def served(rm, path):
    code, body = rm.get(path)
    assert code == 200, f"GET {path}: {code} {body[:300]}"
    return body


@pytest.fixture(scope="module")
def with_data(monitor):
    """Waits (curl, every half second) until the 10-minute page shows the loss of every path,
    then until the loss columns of each lossy path cover MIN_PROBES_SHOWN probes (every slot of
    theirs loses probes, so the columns cover all their probes): a short first slot no longer
    weighs on the loss shown."""
    def page():
        p = Page(served(monitor, "/?window=10m"))
        return p if set(p.paths) == set(PATHS) else None

    def shown():
        p = page()
        return p and all(p.loss(k) is not None for k in PATHS)
    wait_for("every path's loss on the status page", shown, timeout=DATA_TIMEOUT_S, interval=0.5)

    def enough():
        p = page()
        return p and all(column_counts(p, k)[1] >= MIN_PROBES_SHOWN for k in LOSSY)
    wait_for(f"the lossy paths' loss columns to cover {MIN_PROBES_SHOWN} probes", enough,
             timeout=MIN_PROBES_SHOWN / PROBES_PER_SECOND + DATA_TIMEOUT_S, interval=0.5)
    return monitor


# ---------------------------------------------------------------------------------------------
# The tests (the first one needs a reachmon whose first slot has not closed yet: it runs first)


def test_a_path_without_data_says_so(monitor, browser):
    """Right after the start no slot has closed, or only a short one: a path whose loss reads
    "-" has a graph saying "no data" and no median line. Which paths are still without data
    depends on when the first slot closed, so only the paths showing "-" are checked; at least
    the layout is there for all of them."""
    for page in (Page(monitor.first_page), Page(browser.dom(monitor.url("/")))):
        assert set(page.paths) == set(PATHS)
        for key in PATHS:
            assert len(page.graphs(key)) == 1, key
            if page.loss(key) is None:
                assert page.elements(key, "text", "no-data"), f"{key}: '-' but no text.no-data"
                assert not page.elements(key, "path", "median"), f"{key}: '-' but a median line"
                assert not page.elements(key, "rect", "loss"), f"{key}: '-' but loss columns"


@pytest.mark.parametrize("query", ["/", "/?window=10m", "/?window=3h"])
def test_every_path_has_one_graph_and_the_uplinks_of_a_target_share_a_row(with_data, browser,
                                                                          query):
    page = Page(browser.dom(with_data.url(query)))
    assert set(page.paths) == set(PATHS), sorted(page.paths)
    assert len(page.graphs()) == len(PATHS), "an svg.rtt-graph outside the path divs"
    sections = page.root.find_all("section", "target")
    assert sorted(s.attrs.get("data-target") for s in sections) == sorted(TARGETS)
    for s in sections:
        inside = {(d.attrs["data-source"], d.attrs["data-target"])
                  for d in s.find_all("div", "path")}
        assert inside == {(src, s.attrs["data-target"]) for src in SOURCES}, inside
    for key, div in page.paths.items():
        (graph,) = page.graphs(key)
        assert graph.ancestor("div", "path") is div, f"{key}: the graph is in another path's div"
        assert div.ancestor("section", "target").attrs["data-target"] == key[1]
        assert page.elements(key, "path", "median"), f"{key}: no median line"
        assert page.elements(key, "path", "smoke"), f"{key}: no smoke"
        assert not page.elements(key, "text", "no-data"), f"{key}: says no data"
    assert_self_contained(page.markup, page.root)
    text = served(with_data, query)
    assert_self_contained(text, parse(text))


def loss_vs_truth(page, truth):
    """{lossy path: (loss shown, the responder's dropped / requests in percent)}."""
    b = truth("b")
    out = {}
    for key in LOSSY:
        t = b[truth_key(*key)]
        out[key] = (page.loss(key), 100.0 * t["dropped"] / t["requests"])
    return out


@pytest.mark.parametrize("query", ["/", "/?window=10m"])
def test_the_lossy_uplink_shows_its_real_loss_and_the_clean_one_none(with_data, browser, truth,
                                                                     query):
    """The page's window holds the closed slots (at least MIN_SLOTS), the responder's counters
    every request so far: the loss shown is within 10 points of the responder's. 25 % and 50 %
    are 25 points apart: each path shows its own loss."""
    before = truth("b")
    page = Page(browser.dom(with_data.url(query)))
    after = truth("b")
    for key, (shown, real) in loss_vs_truth(page, truth).items():
        assert shown is not None and shown > 0, f"{key}: loss {page.loss_text(key)!r}"
        assert abs(shown - real) <= LOSS_TOLERANCE_POINTS, \
            f"{key}: the page shows {shown} % lost, the responder dropped {real:.1f} %"
        columns = page.elements(key, "rect", "loss")
        assert columns, f"{key}: lossy but no rect.loss"
        for rect in columns:
            assert rect.find_all("title") and rect.text().strip(), f"{key}: rect.loss untitled"
        # Every slot since the start is in the window: the columns count each drop once (a
        # minute's slot and the 10-second slots after it do not overlap), and miss only the
        # drops of slots that had not closed.
        (lost, _), k = column_counts(page, key), truth_key(*key)
        unshown = UNSHOWN_SECONDS * PROBES_PER_SECOND // DROP_EVERY_B[key[1]] + 1
        assert lost <= after[k]["dropped"], \
            f"{key}: columns count {lost} lost, the responder dropped {after[k]['dropped']}"
        assert lost >= before[k]["dropped"] - unshown, \
            f"{key}: columns count {lost} lost, the responder had dropped {before[k]['dropped']}"
    a = truth("a")
    for key in set(PATHS) - LOSSY:
        assert a[truth_key(*key)]["dropped"] == 0
        assert page.loss_text(key) == "0.0 %", f"{key}: clean, but {page.loss_text(key)!r}"
        assert not page.elements(key, "rect", "loss"), f"{key}: clean, but loss columns"
    # The jitter the graphs' smoke shows is real: the lossy uplink's holds spread over 5 ms.
    b = truth("b")[truth_key("isp-b", "t1")]
    assert b["hold_max_ns"] - b["hold_min_ns"] > 5e6, b


def test_source_and_target_filter_the_paths(with_data, browser):
    for query, want in (("/?source=isp-b", {k for k in PATHS if k[0] == "isp-b"}),
                        ("/?target=t2", {k for k in PATHS if k[1] == "t2"}),
                        ("/?source=isp-a&target=t1&window=10m", {("isp-a", "t1")})):
        page = Page(browser.dom(with_data.url(query)))
        assert set(page.paths) == want, (query, sorted(page.paths))
        assert len(page.graphs()) == len(want), query
    for unknown in ("/?source=nobody", "/?target=nowhere"):
        code, _ = with_data.get(unknown)
        assert code == 404, f"GET {unknown}: {code}"


def test_the_path_page_shows_one_path_with_two_graphs(with_data, browser):
    """/path: 3 hours, then 10 minutes, both with the lossy path's loss columns."""
    page = Page(browser.dom(with_data.url("/path?source=isp-b&target=t2")))
    graphs = page.graphs()
    assert len(graphs) == 2, f"{len(graphs)} svg.rtt-graph"
    titles = [next((c.text() for c in g.children if c.tag == "title"), "") for g in graphs]
    assert re.search(r"\b3 ?h", titles[0]) and re.search(r"\b10 ?m", titles[1]), titles
    for g in graphs:
        assert g.find_all("rect", "loss") and g.find_all("path", "median")
        assert not g.find_all("text", "no-data")
    assert set(page.paths) <= {("isp-b", "t2")}, sorted(page.paths)  # other paths' divs: none
    assert_self_contained(page.markup, page.root)
    for unknown in ("/path?source=isp-b&target=nowhere", "/path?source=nobody&target=t1"):
        code, _ = with_data.get(unknown)
        assert code == 404, f"GET {unknown}: {code}"


def test_a_screenshot_of_the_page_is_a_picture_of_the_window(with_data, browser, workdir):
    path = os.path.join(workdir, "status-page.png")
    browser.screenshot(with_data.url("/"), path)
    assert os.path.getsize(path) > 10_000, f"{path}: {os.path.getsize(path)} bytes"
    width, height, bpp, rows = read_png(path)
    assert (width, height) == WINDOW
    # Not one colour: the background covers less than 99 % and some pixels are in colour (the
    # loss columns and median lines), not only the grey of text and axes.
    counts, coloured = {}, 0
    for row in rows[::2]:
        for x in range(0, width * bpp, bpp * 2):
            px = row[x:x + 3]
            counts[px] = counts.get(px, 0) + 1
            coloured += max(px) - min(px) > 80
    total = sum(counts.values())
    background = max(counts.values())
    assert background < 0.99 * total, f"{path}: {background} of {total} pixels alike"
    assert len(counts) >= 8, f"{path}: {len(counts)} colours"
    assert coloured >= 50, f"{path}: {coloured} coloured pixels"
    print(f"\nscreenshot of the status page: {path}")
