"""Helpers for the Windows tests under Wine (tests/wine): run Wine commands, keep one Wine session
alive for a whole test module, read the service's log file. Standard library only."""
import os
import signal
import subprocess
import tempfile

from reachmon_testlib import listen_port, read_text, wait_exit, wait_for


def wine(*args, timeout=60):
    """Runs a Wine command. Output goes through files, not pipes: Wine's helper processes
    (services.exe, ...) inherit the handles and would keep pipes open forever."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(["wine", *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                           timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


class WineSession:
    """Keeps one Wine session (wineserver, services.exe, our service) alive for a whole test.

    A wineserver exits once only system processes are left, and Wine then shuts its services
    down; "wineserver -p" alone did not always prevent that here (it races with the first wine
    command, which may start a server of its own). So: start a persistent one (start_server),
    and keep a user process (a cmd.exe waiting on its stdin) attached until the test ends."""

    def __enter__(self):
        self.server = start_server([])
        try:
            self.anchor = subprocess.Popen(["wine", "cmd"], stdin=subprocess.PIPE,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except BaseException:
            subprocess.run(["wineserver", "-k"], capture_output=True)
            raise
        return self

    def __exit__(self, *exc):
        self.anchor.stdin.close()
        try:
            self.anchor.wait(10)
        except subprocess.TimeoutExpired:
            self.anchor.kill()
        subprocess.run(["wineserver", "-k"], capture_output=True)
        self.server.wait(10)


def start_server(command_prefix):
    """Ends any wineserver of the prefix, starts a persistent one in the foreground
    (`command_prefix`, e.g. `ip netns exec NS`, runs it) and returns it once it accepts clients.
    What it says, and its exit status, go to server_log_path(): a server that dies mid-test
    shows why in the diagnostics."""
    subprocess.run(["wineserver", "-k"], capture_output=True)
    subprocess.run(["wineserver", "-w"], capture_output=True)
    prefix = os.environ["WINEPREFIX"]
    socket_path = server_socket_path(prefix)
    # scripts/test-windows names a wineserver that survives a known Wine bug: see there.
    script = ('"${REACHMON_WINESERVER:-wineserver}" -f -p; '
              'echo "wineserver exited with status $?" >&2')
    if os.path.exists(socket_path):  # left by a server that was killed (none runs now)
        os.unlink(socket_path)
    with open(server_log_path(prefix), "ab") as log:
        server = subprocess.Popen([*command_prefix, "sh", "-c", script], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=log)
    try:
        # A wine command started before the socket exists would start a server of its own.
        wait_for("the wineserver to accept clients",
                 lambda: server.poll() is not None or os.path.exists(socket_path), timeout=30,
                 interval=0.02)
        if server.poll() is not None:
            raise AssertionError("the wineserver exited at once: " + read_text(server_log_path(prefix))[-500:])
    except BaseException:
        subprocess.run(["wineserver", "-k"], capture_output=True)
        raise
    return server


def server_socket_path(prefix):
    """The socket a prefix's wineserver listens on: <dir>/server-<dev>-<inode>/socket, where
    <dir> is /tmp/.wine-<uid>, or the directory Debian's Wine names in <prefix>/wineserver."""
    st = os.stat(prefix)
    base = os.path.join(tempfile.gettempdir(), f".wine-{os.getuid()}")
    named = os.path.join(prefix, "wineserver")
    if os.path.exists(named):
        base = os.path.join(tempfile.gettempdir(), read_text(named).strip())
    return os.path.join(base, f"server-{st.st_dev:x}-{st.st_ino:x}", "socket")


def server_log_path(prefix=None):
    """Where the session's wineserver writes its own messages (a crash, an assertion): a file
    in the prefix, shown by diagnostics()."""
    return os.path.join(prefix or os.environ["WINEPREFIX"], "wineserver.log")


def windows_path(path):
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def program_data(prefix):
    """%ProgramData%\\reachmon of the Wine prefix, as a Linux path."""
    return os.path.join(prefix, "drive_c", "ProgramData", "reachmon")


class ServiceLog:
    """The service's log file (%ProgramData%\\reachmon\\logs\\reachmon.log), which accumulates
    across runs: mark() remembers where it ends, since() returns what was written after that."""

    def __init__(self, prefix):
        self.path = os.path.join(program_data(prefix), "logs", "reachmon.log")
        self.offset = 0

    def text(self):
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def mark(self):
        self.offset = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def since(self):
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size < self.offset:  # rotated meanwhile
                    self.offset = 0
                f.seek(self.offset)
                return f.read().decode("utf-8", errors="replace").replace("\r\n", "\n")
        except FileNotFoundError:
            return ""

    def wait_port(self, what, timeout=30):
        """The port of the latest start-up line ("... metrics on http://127.0.0.1:PORT/metrics")
        written since mark()."""
        return wait_for(f"{what} to log the port it listens on",
                        lambda: listen_port(self.since()), timeout)


def diagnostics(prefix):
    """What the SCM and the service said, and which processes run: attached to a failure."""
    parts = ["sc query: " + wine("sc", "query", "reachmon", timeout=30).stdout]
    log = ServiceLog(prefix).text()
    if log:
        parts.append("service log:\n" + log[-3000:])
    try:  # Debian's Wine names its server directory ($TMPDIR/wine-XXXXXX) in the prefix
        server_dir = os.path.join(tempfile.gettempdir(), read_text(os.path.join(prefix, "wineserver")).strip())
        listing = sorted(os.listdir(server_dir)) if os.path.isdir(server_dir) else "missing"
        parts.append(f"server directory {server_dir}: {listing}")
    except OSError as e:
        parts.append(f"server directory: {e}")
    server_messages = read_text(server_log_path(prefix)) if os.path.exists(
        server_log_path(prefix)) else ""
    if server_messages:
        parts.append("wineserver said:\n" + server_messages[-2000:])
    parts.append(subprocess.run(["ps", "-eo", "pid,ppid,etime,args"], capture_output=True,
                                text=True).stdout[-4000:])
    return "\n".join(parts)


class ConsoleRun:
    """`wine reachmon.exe run --config CONFIG` in the console (not under the SCM), its output in
    `out_path`. A context manager: leaving the block kills it if it still runs."""

    def __init__(self, reachmon_bin, config_path, out_path):
        self.out_path = out_path
        with open(out_path, "w") as out:
            self.proc = subprocess.Popen(
                ["wine", reachmon_bin, "run", "--config", windows_path(config_path)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def text(self):
        return read_text(self.out_path)

    def wait_port(self, what, timeout):
        """The port of its start-up line ("... metrics on http(s)://127.0.0.1:PORT/metrics")."""
        return wait_for(what, lambda: listen_port(self.text()), timeout=timeout)

    def ctrl_c(self, timeout):
        """SIGINT, which Wine turns into CTRL_C_EVENT; (exit code, seconds) as wait_exit."""
        self.proc.send_signal(signal.SIGINT)
        return wait_exit(self.proc, timeout)
