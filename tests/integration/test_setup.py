"""scripts/setup --build-only, what scripts/demo installs, is light and enough: the packages it
would install on a bare Debian 12 (apt's own resolution, dependencies included) contain no Wine,
MinGW-w64, wixl or clang, while the full set does; and every file the Linux build in BUILD_DIR
used (the headers in the compiler's dependency files, the libraries and tools it linked and ran,
the CMake files its configuration read, pytest, and the same for scripts/build-deps' civetweb
build) belongs to a package of that set, its dependencies, or Debian's required base.

Run by ctest (setup_build_only): pytest test_setup.py --build-dir=BUILD_DIR
"""
import glob
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SETUP = os.path.join(ROOT, "scripts", "setup")
# What the demo must not pull in: the Windows build's tools and the fuzzing/lint compilers.
HEAVY = re.compile(r"^(wine|libwine|fonts-wine|wixl|msitools|clang|libclang|llvm|libllvm)"
                   r"|mingw")


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, **kw)


def setup_list(*args):
    r = run("bash", SETUP, "--list", *args)
    assert r.returncode == 0, r.stderr
    packages = r.stdout.split()
    assert packages, f"scripts/setup --list {' '.join(args)} printed nothing"
    return packages


def closure(packages):
    """The packages apt would install for `packages` on a system with nothing installed."""
    if run("apt-cache", "show", "build-essential").returncode != 0:
        pytest.skip("apt has no package lists here (apt-get update, or scripts/setup, first)")
    r = run("apt-get", "install", "--simulate", "-o", "Dir::State::Status=/dev/null",
            "-o", "APT::Install-Recommends=false", "-o", "Debug::NoLocking=1", *packages)
    assert r.returncode == 0, f"apt cannot resolve {packages}:\n{r.stdout[-2000:]}{r.stderr}"
    return {m[1] for m in re.finditer(r"^Inst (\S+)", r.stdout, re.M)}


@pytest.fixture(scope="module")
def build_set():
    return setup_list("--build-only")


@pytest.fixture(scope="module")
def build_closure(build_set):
    return closure(build_set)


def test_the_build_set_is_part_of_the_full_set(build_set):
    missing = set(build_set) - set(setup_list())
    assert not missing, f"scripts/setup without --build-only does not install {missing}"


def test_the_build_set_pulls_in_no_wine_mingw_wixl_or_clang(build_closure):
    heavy = sorted(p for p in build_closure if HEAVY.search(p))
    assert not heavy, f"scripts/setup --build-only would install {heavy}"


def test_the_full_set_does_pull_them_in():
    """The pattern above matches what the Windows build and fuzzing need (so it can fail)."""
    heavy = {p for p in closure(setup_list()) if HEAVY.search(p)}
    for expected in ("wine64", "wixl", "clang", "g++-mingw-w64-x86-64-posix"):
        assert expected in heavy, f"{expected} not in the full set's packages: {sorted(heavy)}"


def cache_value(build, name):
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    return None


def files_of_build_tree(build):
    """Absolute paths outside the tree that the build of `build` read or ran."""
    paths = set()
    with open(os.path.join(build, "CMakeFiles", "Makefile.cmake")) as f:
        paths.update(re.findall(r'"(/[^"]+)"', f.read()))  # every CMake file configure read
    for depfile in glob.glob(os.path.join(build, "**", "*.o.d"), recursive=True):
        with open(depfile) as f:
            paths.update(t for t in f.read().split() if t.startswith("/"))
    for link in glob.glob(os.path.join(build, "**", "link.txt"), recursive=True):
        with open(link) as f:
            paths.update(t for t in f.read().split() if t.startswith("/"))
    with open(os.path.join(build, "CMakeCache.txt")) as f:  # compilers, archiver, pkg-config
        paths.update(m[1] for m in re.finditer(
            r"^(?:CMAKE_\w+|PKG_CONFIG_EXECUTABLE):FILEPATH=(/\S+)$", f.read(), re.M))
    return {os.path.normpath(p.rstrip(":")) for p in paths}


@pytest.fixture(scope="module")
def build_files(path_option):
    build = path_option("build-dir")
    if not os.path.exists(os.path.join(build, "CMakeFiles", "Makefile.cmake")):
        pytest.skip("reads a build tree of CMake's Makefile generator (what scripts/build makes)")
    paths = files_of_build_tree(build)
    # scripts/build-deps: civetweb built with CMake next to the prefix it installs into, from the
    # source that `apt-get source` unpacked with dpkg-source.
    prefix = cache_value(build, "CMAKE_PREFIX_PATH")
    civetweb = os.path.join(os.path.dirname(prefix or ""), "build-civetweb")
    assert prefix and os.path.isdir(civetweb), \
        f"no civetweb build tree of scripts/build-deps at {civetweb} (CMAKE_PREFIX_PATH={prefix})"
    paths |= files_of_build_tree(civetweb)
    paths.add("/usr/bin/dpkg-source")
    # The build registers the pytest tests only with a python3 that has pytest.
    python = cache_value(build, "REACHMON_PYTEST_PYTHON")
    r = run(python, "-c", "import pytest; print(pytest.__file__)")
    assert r.returncode == 0, r.stderr
    paths.add(r.stdout.strip())
    # System files only: the cache also names programs CMake merely looked at (a python3 of
    # pyenv, say), and the tree's own files.
    return {p for p in paths if p.startswith(("/usr/", "/bin/", "/sbin/", "/lib")) and
            os.path.isfile(p)}


def owners(paths):
    """{path: set of packages} from dpkg; unowned paths map to an empty set."""
    found = {}

    def query(candidates):
        r = run("dpkg-query", "-S", *candidates)
        for line in r.stdout.splitlines():
            if line.startswith("diversion "):
                continue
            pkgs, _, path = line.rpartition(": ")
            found.setdefault(path, set()).update(p.strip().split(":")[0] for p in pkgs.split(","))
    query(sorted(paths))
    result = {}
    for path in paths:
        # Symlinks (alternatives such as /usr/bin/c++) belong to no package: their targets do;
        # merged /usr: dpkg may know a file under /lib instead of /usr/lib.
        alternatives = [os.path.realpath(path)]
        alternatives += [a[4:] for a in list(alternatives) + [path] if a.startswith("/usr/")]
        result[path] = found.get(path) or set()
        missing = [a for a in alternatives if a not in found]
        if not result[path] and missing:
            query(missing)
        for a in alternatives:
            if not result[path]:
                result[path] = found.get(a) or set()
    return result


def base_packages(packages):
    """Those of `packages` that every Debian system has (Priority required, or Essential)."""
    r = run("dpkg-query", "-W", "-f=${Package} ${Priority} ${Essential}\n", *packages)
    return {line.split()[0] for line in r.stdout.splitlines()
            if " required " in line + " " or line.endswith(" yes")}


def test_every_file_the_build_used_comes_from_the_build_set(build_closure, build_files):
    assert len(build_files) > 200, f"too few files found to judge: {sorted(build_files)}"
    by_path = owners(build_files)
    used = set().union(*by_path.values())
    # The harvest reaches what matters: headers, libraries, CMake modules, tools, pytest.
    for expected in ("nlohmann-json3-dev", "libssl-dev", "libspdlog-dev", "cmake-data",
                     "python3-pytest", "dpkg-dev"):
        assert expected in used, f"no file of {expected} found among the build's files"
    unowned = sorted(p for p, o in by_path.items() if not o)
    assert not unowned, f"files the build used that no package owns: {unowned}"
    allowed = build_closure | base_packages(used - build_closure)
    missing = {}
    for path, pkgs in sorted(by_path.items()):
        if not pkgs & allowed:
            missing.setdefault(", ".join(sorted(pkgs)), []).append(path)
    assert not missing, "the Linux build used files of packages that scripts/setup --build-only " \
        "does not install:\n" + "\n".join(f"  {p}: {paths[:3]}" for p, paths in missing.items())
