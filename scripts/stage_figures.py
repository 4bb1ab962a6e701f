"""The README's stage figures: what redrawing the network's inside costs while a network trains.

1. Per redraw, side by side on one film (the stage browser test's training: 784-24-10, 40 epochs on
   the sample): the map, confusion matrix and output weights as the stage drew them before
   (an Altair chart built, validated and serialised for each: ``before``) and now
   (``inside.LiveSpecs``: each spec built once, each redraw only new rows: ``after``), both through
   Streamlit's element calls; and the filter picture. Fastest and median of ``--repeats`` redraws.
2. The page's Python work beside the training, in this process (no browser): the training alone, and
   with ``follow``'s redraws (curves and inside, from the newest report and snapshot) the old way and
   the new, alternating.
3. With ``--browser``: that training's wall time (its ``train_seconds``) watched in Chromium at
   1280x720 on the Train page of an app server on ``--port`` (and of the app at ``--before DIR``, an
   older checkout, on ``--port + 1``), against the same spec trained in this process, unwatched;
   alternating, one seed per round (a new run each time), after one warm-up of each, and the CPU
   seconds Chromium used meanwhile (all its processes, from ``/proc``). Then one more
   watched training whose map is photographed every ~0.15 s: the seconds between its changes.

Usage: ``python scripts/stage_figures.py [--browser] [--before DIR] [--port 8651] [--rounds 3]``
Needs Playwright and Chromium for ``--browser`` (as ``scripts/loadtest.py``); each server gets an
empty run store of its own, and is stopped with everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import loadtest  # noqa: E402  (its server helpers: health check, stopping a process group)

FIELDS = {"data": "sample", "hidden": (24,), "epochs": 40, "batch_size": 64}
LINK = "train?data=sample&hidden=24&epochs=40&batch_size=64&seed={seed}"
MAP = ".st-key-stage [data-testid=stVegaLiteChart]"


def spec(seed: int):
    from lab.spec import ExperimentSpec

    return ExperimentSpec(**FIELDS, seed=seed)


# ------------------------------------------------------------------ 1. per redraw
def per_redraw(repeats: int) -> dict[str, float]:
    """Seconds per redraw of the charts under the curves, the old way and the new, alternating on one film."""
    logging.disable(logging.WARNING)  # Streamlit's "no script run context" warnings
    import streamlit as st

    from lab.architecture import check_network
    from lab.data.prepare import prepare
    from lab.nn.trainer import fit_prepared
    from ui.app import stage
    from ui.charts import inside

    checked = check_network(spec(23))
    film = fit_prepared(checked, prepare(checked.spec)).film
    names = [str(d) for d in range(10)]

    def before(shot) -> None:  # the stage's views as they were drawn before LiveSpecs
        maps = inside.feature_map_pictures(shot)
        tabs = st.tabs(["Map and confusion matrix", "Output weights"] + ["Feature maps"] * bool(maps))
        with tabs[0]:
            c1, c2 = st.columns(2)
            c1.altair_chart(stage.map_view(shot, None, names), width="content")
            c1.caption(inside.MAP_SUBTITLE)
            c2.altair_chart(stage.confusion_view(shot, names), width="content")
        stage.draw(tabs[1], inside.output_weights_chart(shot), "stretch")

    live = inside.LiveSpecs(names, stage.VIEW_SIDE)
    ways = {
        "before": before,
        "after": lambda shot: stage.views(shot, live),
        "filters": stage.filters_view,
    }
    times: dict[str, list[float]] = {way: [] for way in ways}
    for i in range(repeats):
        shot = film.snapshots[i % len(film)]
        for way, draw in ways.items():
            start = time.perf_counter()
            draw(shot)
            times[way].append(time.perf_counter() - start)
    out = {}
    for way, seconds in times.items():
        out[f"{way}_fastest_s"] = round(min(seconds), 4)
        out[f"{way}_median_s"] = round(statistics.median(seconds), 4)
    out["ratio_median"] = round(out["before_median_s"] / out["after_median_s"], 1)
    return out


# ------------------------------------------------------------------ 2. the page's work beside the training
def followed(rounds: int) -> dict[str, object]:
    """The training's ``train_seconds`` in this process: alone, and with the stage's redraws done beside it.

    The page's Python work without a browser: a thread trains while this one does what ``follow`` does
    (every ``POLL_SECONDS``, the live curves from the newest report and the inside from the newest
    snapshot, through ``stage_render``: the server's share of watching), the old way and the new.
    Alternating, one seed per round, after one warm-up.
    """
    import threading

    import streamlit as st

    from lab.architecture import check_network
    from lab.nn.observer import TrainingObserver
    from lab.nn.trainer import train
    from ui.app import jobs, stage
    from ui.charts import inside

    names = [str(d) for d in range(10)]

    class Latest(TrainingObserver):
        def __init__(self) -> None:
            self.report, self.shots = None, []

        def on_progress(self, report) -> None:
            self.report = report

        def on_epoch(self, report) -> None:
            self.report = report

        def on_snapshot(self, snapshot) -> None:
            self.shots.append(snapshot)

    def old_render():  # stage_render as it was: every view an Altair chart built anew
        curves = jobs.live_curves(st.empty(), stage=True)
        drawn = {"charts": 0.0}

        def snapshot(shot) -> None:
            stage.filters_view(shot)
            now = time.monotonic()
            if now - drawn["charts"] >= stage.CHARTS_SECONDS:
                drawn["charts"] = now
                tabs = st.tabs(["Map and confusion matrix", "Output weights"])
                c1, c2 = tabs[0].columns(2)
                c1.altair_chart(stage.map_view(shot, None, names), width="content")
                c2.altair_chart(stage.confusion_view(shot, names), width="content")
                stage.draw(tabs[1], inside.output_weights_chart(shot), "stretch")

        curves.snapshot = snapshot
        return curves

    def new_render():
        return stage.stage_render(stage.Stage(st.empty(), st.empty(), st.empty(), st.empty()), "softmax_ce", names)

    def run(seed: int, render) -> float:
        observer = Latest()
        result = {}
        thread = threading.Thread(target=lambda: result.update(r=train(check_network(spec(seed)), observer)))
        thread.start()
        shown, shots = None, 0
        while thread.is_alive():
            if render is not None:
                if observer.report is not None and observer.report is not shown:
                    shown = observer.report
                    render(shown)
                if len(observer.shots) > shots:
                    shots = len(observer.shots)
                    render.snapshot(observer.shots[-1])
            time.sleep(jobs.POLL_SECONDS)
        thread.join()
        return float(result["r"].train_seconds)

    ways = {"alone": lambda: None, "followed_before": old_render, "followed_after": new_render}
    run(22, None)
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    for seed in range(23, 23 + rounds):
        for way, make in ways.items():
            seconds[way].append(run(seed, make()))
    out: dict[str, object] = {}
    for way, values in seconds.items():
        out[f"{way}_s"] = [round(v, 2) for v in values]
        out[f"{way}_median_ratio"] = round(statistics.median(values) / statistics.median(seconds["alone"]), 2)
    return out


# ------------------------------------------------------------------ 3. watched vs not
@contextlib.contextmanager
def serve(root: Path, port: int, home: Path, log: Path) -> Iterator[str]:
    """The app at ``root`` on ``port`` with the run store ``home``; stopped with all it started."""
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLP_LAB_HOME": str(home), "MLP_LAB_RAY": "", "PYTHONPATH": str(root)}
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless=true",
        "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while not loadtest.healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        loadtest.stop(proc)


def stored_seconds(home: Path, seed: int) -> float:
    """The stored run's ``train_seconds`` (the one run of that seed in ``home``)."""
    for result in home.rglob("result.json"):
        data = json.loads(result.read_text())
        spec_file = result.with_name("spec.json")
        if spec_file.exists() and json.loads(spec_file.read_text()).get("seed") == seed:
            return float(data["metrics"]["train_seconds"])
    raise RuntimeError(f"no stored run of seed {seed} in {home}")


def watch(browser, url: str, seed: int, photograph: bool = False) -> list[float]:
    """Press Train on the link, wait for the training's end; with ``photograph``, the seconds between map changes."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(120_000)
    changes: list[float] = []
    try:
        page.goto(f"{url}/{LINK.format(seed=seed)}")
        train = page.get_by_role("button", name="Train", exact=True)
        train.wait_for()
        page.wait_for_timeout(1000)
        train.click()
        page.mouse.move(1260, 700)
        stop = page.get_by_role("button", name="Stop training")
        stop.wait_for()
        cpu = browser_cpu()
        if photograph:
            page.locator(MAP).nth(2).wait_for()
            last = None
            while stop.count():
                with contextlib.suppress(Exception):
                    picture = page.locator(MAP).nth(2).screenshot(timeout=2000)
                    if picture != last:
                        changes.append(time.monotonic())
                        last = picture
                time.sleep(0.1)
        stop.wait_for(state="detached", timeout=180_000)  # the training ended (its run stored)
        BROWSER_CPU.append(browser_cpu() - cpu)
    finally:
        context.close()
    return [b - a for a, b in zip(changes, changes[1:], strict=False)]


BROWSER_CPU: list[float] = []  # CPU seconds Chromium used from Stop's appearance to the training's end, per watch


def browser_cpu() -> float:
    """CPU seconds (user + system) used so far by every Chromium process on this machine (from ``/proc``)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
            if "chrom" in name.lower():
                total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def unwatched(seed: int) -> float:
    """The same spec trained in this process, nobody watching: its ``train_seconds``."""
    from lab.architecture import check_network
    from lab.nn.trainer import train

    return float(train(check_network(spec(seed))).train_seconds)


def watched_vs_not(port: int, before: Path | None, rounds: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    apps = {"after": ROOT} | ({"before": before} if before else {})
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack, sync_playwright() as pw:
        urls, homes = {}, {}
        for i, (name, root) in enumerate(apps.items()):
            homes[name] = Path(tmp) / name
            urls[name] = stack.enter_context(serve(root, port + i, homes[name], Path(tmp) / f"{name}.log"))
        browser = pw.chromium.launch(executable_path=loadtest.CHROMIUM, headless=True, args=loadtest.CHROMIUM_ARGS)
        seconds: dict[str, list[float]] = {"unwatched": [], **{f"watched_{name}": [] for name in apps}}
        cpu: dict[str, list[float]] = {}
        unwatched(22)  # warm-ups: the first training of a shape builds its compiled loop
        for name in apps:
            watch(browser, urls[name], 22)
        for seed in range(23, 23 + rounds):
            seconds["unwatched"].append(unwatched(seed))
            for name in apps:
                watch(browser, urls[name], seed)
                seconds[f"watched_{name}"].append(stored_seconds(homes[name], seed))
                cpu.setdefault(name, []).append(round(BROWSER_CPU[-1], 2))
        for name in apps:
            gaps = watch(browser, urls[name], 23 + rounds, photograph=True)
            out[f"map_redraw_gaps_{name}_s"] = {
                "median": round(statistics.median(gaps), 2) if gaps else None,
                "max": round(max(gaps), 2) if gaps else None,
                "redraws": len(gaps) + 1,
            }
        browser.close()
    for name, values in cpu.items():
        out[f"chromium_cpu_s_{name}"] = values
    base = min(seconds["unwatched"])
    for way, values in seconds.items():
        out[f"{way}_s"] = [round(v, 2) for v in values]
        out[f"{way}_fastest_ratio"] = round(min(values) / base, 2)
        out[f"{way}_median_ratio"] = round(statistics.median(values) / statistics.median(seconds["unwatched"]), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="redraws timed each way")
    parser.add_argument("--browser", action="store_true", help="also time the training watched in Chromium")
    parser.add_argument("--before", type=Path, help="an older checkout to watch too (its app on --port + 1)")
    parser.add_argument("--port", type=int, default=8651)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps({"per_redraw": per_redraw(args.repeats)}), flush=True)
    print(json.dumps({"in_process": followed(args.rounds)}), flush=True)
    if args.browser:
        print(json.dumps({"training": watched_vs_not(args.port, args.before, args.rounds)}), flush=True)


if __name__ == "__main__":
    main()
