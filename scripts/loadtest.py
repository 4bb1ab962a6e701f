"""A class pressing Train at once: N real browser sessions against one app server, timed.

Starts ``streamlit run streamlit_app.py`` on a free 127.0.0.1 port with an empty
run store of its own (and ``MLP_LAB_RAY`` as ``--ray`` says: in-process when not
given), opens N sessions of Debian's Chromium through Playwright on the Train
page, each with its own seed (so N different runs), presses Train in all of
them one right after the other, and waits until every page shows its test
accuracy. It prints the time from the first press to the first and to the last
result, the longest any session waited, the errors, and the runs stored (must
equal N); with Ray, the memory of each worker process. Then it stops the server
and everything it started. Traffic goes only to the server it started.

    python scripts/loadtest.py --sessions 10 --epochs 5              # in-process
    python scripts/loadtest.py --sessions 10 --epochs 5 --ray local  # Ray, one worker per core

Needs Playwright (``pip install -r requirements-test.txt``) and Chromium
(``apt-get install -y chromium``; never ``playwright install``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MLP_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Report:
    """What one load test measured (seconds from the first press of Train)."""

    engine: str
    sessions: int
    epochs: int
    hidden: int
    first_result: float | None = None
    last_result: float | None = None
    longest_wait: float | None = None
    pressing: float = 0.0
    errors: list[str] = field(default_factory=list)
    stored_runs: int = 0
    worker_rss_mb: list[int] = field(default_factory=list)
    server_rss_mb: int = 0
    load_before: float = 0.0

    def lines(self) -> list[str]:
        """The report in words, one figure a line."""

        def sec(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f} s"

        out = [
            f"engine: {self.engine}; {self.sessions} sessions, 784-{self.hidden}-10, {self.epochs} epochs, "
            f"load average before: {self.load_before:.1f}",
            f"pressing Train in every session took {self.pressing:.1f} s",
            f"first result: {sec(self.first_result)} after the first press",
            f"last result:  {sec(self.last_result)} after the first press",
            f"longest wait: {sec(self.longest_wait)} (from a session's press to its result)",
            f"errors: {len(self.errors)}" + "".join(f"\n  {e}" for e in self.errors),
            f"stored runs: {self.stored_runs} (expected {self.sessions})",
            f"server process: {self.server_rss_mb} MB",
        ]
        if self.worker_rss_mb:
            out.append(f"Ray workers: {len(self.worker_rss_mb)}, resident memory {self.worker_rss_mb} MB")
        return out


def free_port() -> int:
    """A free TCP port on the loopback address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    """Whether Streamlit answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def serve(home: Path, ray: str, log_path: Path, startup: float = 180.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start the app on a free loopback port (its own process group); yield its URL and process; stop it all."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLP_LAB_HOME": str(home), "MLP_LAB_RAY": ray, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}",
        "--browser.gatherUsageStats=false", "--server.fileWatcherType=none",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + startup
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Stop the server, then whatever it started and left (an embedded Ray's processes), by group and by id.

    The server alone first: on its way out it shuts its embedded Ray down in
    order; a signal to the whole group at once would leave Ray's agents behind.
    """
    started = descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        deadline = time.monotonic() + grace
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not group_alive(proc.pid):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    # Ray's workers, in groups of their own, end when their raylet does; any left are ended by id.
    deadline = time.monotonic() + 15
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in [p for p in started if alive(p)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting to be reaped do not count)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def rss_mb(pid: int) -> int:
    """Resident memory of a process in MB (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc): Ray's workers run in process groups of their own."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def ray_workers(server: int) -> list[int]:
    """The Ray worker processes the server started (``ray::IDLE``, ``ray::train_on_worker`` ...)."""
    found = []
    for pid in descendants(server):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ray::") and not cmd.endswith(("Agent", "Coordinator")):
            found.append(pid)
    return sorted(found)


def run(args: argparse.Namespace) -> Report:
    """Start the app, drive the sessions, collect the figures."""
    from playwright.sync_api import sync_playwright  # imported here: the --help works without Playwright

    report = Report(args.ray or "in-process", args.sessions, args.epochs, args.hidden)
    report.load_before = os.getloadavg()[0]
    home = Path(tempfile.mkdtemp(prefix="mlp-lab-loadtest-"))
    with serve(home / "runs", args.ray, home / "server.log") as (url, server), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pages = []
        for i in range(args.sessions):
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            page = context.new_page()
            page.set_default_timeout(args.timeout * 1000)
            link = f"train?data=sample&hidden={args.hidden}&epochs={args.epochs}&seed={args.seed + i}"
            page.goto(f"{url}/{link}")
            pages.append(page)
        buttons = [page.get_by_role("button", name="Train", exact=True) for page in pages]
        for button in buttons:
            button.wait_for()
        print(f"{args.sessions} sessions open on the Train page; pressing Train in all of them", file=sys.stderr)
        pressed: list[float] = []
        for button in buttons:
            button.click()
            pressed.append(time.monotonic())
        t0 = pressed[0]
        report.pressing = pressed[-1] - t0
        finished: dict[int, float] = {}
        failed: set[int] = set()
        deadline = t0 + args.timeout
        while len(finished) < len(pages) and time.monotonic() < deadline:
            for i, page in enumerate(pages):
                if i in finished:
                    continue
                if page.locator("[data-testid=stMetric]", has_text="Test accuracy").count():
                    finished[i] = time.monotonic()
                elif page.locator("[data-testid=stException]").count() or page.get_by_text("Training failed").count():
                    finished[i] = time.monotonic()
                    failed.add(i)
                    report.errors.append(f"session {i}: {page.locator('[data-testid=stAlert]').first.inner_text()}")
            time.sleep(0.2)
        late = [i for i in range(len(pages)) if i not in finished]
        report.errors += [f"session {i}: no result after {args.timeout:.0f} s" for i in late]
        results = {i: t for i, t in finished.items() if i not in failed}
        if results:
            report.first_result = min(results.values()) - t0
            report.last_result = max(results.values()) - t0
            report.longest_wait = max(t - pressed[i] for i, t in results.items())
        if args.shots:
            args.shots.mkdir(parents=True, exist_ok=True)
            for i, page in enumerate(pages):
                page.screenshot(path=str(args.shots / f"session-{i:02d}.png"))
        report.worker_rss_mb = [rss_mb(pid) for pid in ray_workers(server.pid)]
        report.server_rss_mb = rss_mb(server.pid)
        browser.close()
    # A stored run is a folder with its result.json (written last; see lab.runs.store).
    report.stored_runs = sum(1 for f in (home / "runs").glob("*/result.json") if not f.parent.name.startswith("."))
    return report


def run_direct(args: argparse.Namespace) -> Report:
    """No browser, no server: N trainings submitted at once to a job manager in this process, timed.

    What the engine alone gives: in-process one after another (each using every
    core), or on Ray workers in parallel (one core each). Both warm first
    (TensorFlow imported, the sample prepared), so only training is timed.
    """
    # This checkout's lab, not an installed copy: the figures are for the code beside this script.
    sys.path.insert(0, str(ROOT))
    from lab.data.prepare import prepare
    from lab.runs.engines import make_executor
    from lab.runs.jobs import JobManager
    from lab.runs.store import RunStore
    from lab.spec import ExperimentSpec

    report = Report((args.ray or "in-process") + " (direct)", args.sessions, args.epochs, args.hidden)
    report.load_before = os.getloadavg()[0]
    specs = [
        ExperimentSpec(data="sample", hidden=(args.hidden,), epochs=args.epochs, seed=args.seed + i)
        for i in range(args.sessions)
    ]
    executor = make_executor(args.ray)
    if executor.notice:
        raise RuntimeError(executor.notice)
    if executor.engine == "in-process":
        import lab.nn.trainer  # noqa: F401 - warm: TensorFlow imported before the clock starts

        prepare(specs[0])
    else:
        import ray

        ray.get(executor.warm_up())
    store = RunStore(Path(tempfile.mkdtemp(prefix="mlp-lab-loadtest-")))
    jobs = JobManager(store, executor)
    t0 = time.monotonic()
    submitted = [jobs.submit(spec) for spec in specs]
    ended: dict[int, float] = {}
    while len(ended) < len(submitted) and time.monotonic() - t0 < args.timeout:
        for i, job in enumerate(submitted):
            if i not in ended and job.finished:
                ended[i] = time.monotonic()
                if job.state == "failed":
                    report.errors.append(f"run {i}: {job.error}")
        time.sleep(0.05)
    if ended:
        report.first_result = min(ended.values()) - t0
        report.last_result = report.longest_wait = max(ended.values()) - t0
    report.stored_runs = len(store.list())
    report.worker_rss_mb = [rss_mb(pid) for pid in ray_workers(os.getpid())]
    report.server_rss_mb = rss_mb(os.getpid())
    executor.close()
    return report


def main(argv: list[str] | None = None) -> int:
    """``python scripts/loadtest.py``: exit status 0 when every session got its result and every run was stored."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="browser sessions pressing Train at once")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=64, help="width of the one hidden layer (784-H-10)")
    parser.add_argument("--seed", type=int, default=1000, help="session i trains seed SEED+i")
    parser.add_argument("--ray", default="", help="MLP_LAB_RAY for the server: '' in-process (default), local ...")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for every result")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--shots", type=Path, help="save a screenshot of every session at the end in this folder")
    parser.add_argument(
        "--direct", action="store_true", help="no browser, no server: submit the trainings to a job manager here"
    )
    args = parser.parse_args(argv)
    report = run_direct(args) if args.direct else run(args)
    print(json.dumps(asdict(report)) if args.json else "\n".join(report.lines()))
    ok = not report.errors and report.stored_runs == args.sessions
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
