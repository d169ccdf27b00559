"""One benchmark at two revisions of simcase, alternating, with the before/after ratio.

A refactoring must not make the product slower: this runs ``bench/<name>.py`` from a
checkout of each revision (``git worktree add --detach`` into a temporary folder, the
same venv, each revision's own shipped weights), in the order A B A B ... so both meet
the same load, pulls the figures each run prints, and reports the median per revision
and the ratio after / before. Run from the repository root:

    make bench BENCH=revisions ARGS="--bench e2e_latency --before 509d90b^1 --after 509d90b \\
        --rounds 2 -- --cases 3 --archive-cases 10"

The figures pulled from the output (the benchmark's own lines, unchanged since the
benchmarks were written):

- ``e2e_latency``: the median ack -> SR queryable latency, s (lower is better), and the
  median raw transfer to dcmtk's storescp (the in-run peer);
- ``bulk_index``: simcase's and nibabel's cases/s for each worker count.

The load average is printed beside every run, and the CPU seconds the run used (the
benchmark process and the processes it waited for), which a shared machine's load
disturbs much less than the wall-clock figures.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# benchmark -> {figure name: regex with one group}; "higher" figures are rates.
FIGURES: dict[str, dict[str, str]] = {
    "e2e_latency": {
        "ack->SR s": r"median ack -> SR queryable \(simcase[^)]*\): ([\d.]+) s",
        "storescp raw transfer s": r"median storescu -> dcmtk storescp \(peer[^)]*\): ([\d.]+) s",
    },
    "bulk_index": {
        "simcase cases/s (w{0})": r"workers=(\d+): simcase ([\d.]+) cases/s",
        "nibabel cases/s (w{0})": r"workers=(\d+): simcase [\d.]+ cases/s \([\d.]+ s\), "
        r"nibabel ([\d.]+) cases/s",
    },
}
HIGHER_IS_BETTER = ("cases/s",)


def checkout(rev: str, into: Path) -> Path:
    """A detached worktree of ``rev`` (its commit id printed), removed by :func:`drop`."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", f"{rev}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    path = into / sha
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(path), sha], cwd=ROOT, check=True
    )
    return path


def drop(path: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


def run_once(tree: Path, bench: str, args: list[str]) -> tuple[dict[str, float], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SIMCASE_MODEL_DIR",)}
    env["PYTHONPATH"] = str(tree)
    load = f"{os.getloadavg()[0]:.1f}"
    started = time.perf_counter()
    cpu_before = _children_cpu()
    proc = subprocess.run(
        [sys.executable, f"bench/{bench}.py", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{bench} at {tree.name} failed (exit {proc.returncode})")
    load += f" -> {os.getloadavg()[0]:.1f}, {time.perf_counter() - started:.0f} s"
    figures = parse(bench, proc.stdout)
    # CPU seconds of the whole run (the benchmark and what it waited for as children):
    # the same work at both revisions, and much less sensitive to a shared machine's
    # load than wall-clock figures. Daemons it starts (PostgreSQL) are not counted.
    figures["CPU s of the whole run"] = _children_cpu() - cpu_before
    return figures, load


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse(bench: str, output: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, pattern in FIGURES[bench].items():
        for match in re.finditer(pattern, output):
            groups = match.groups()
            key = name.format(*groups[:-1]) if len(groups) > 1 else name
            figures[key] = float(groups[-1])
    if not figures:
        raise SystemExit(f"no figures found in the output of {bench}:\n{output[-2000:]}")
    return with_peer_ratios(figures)


def with_peer_ratios(figures: dict[str, float]) -> dict[str, float]:
    """Add simcase's figure over its in-run peer's: the load-normalised comparison."""
    out = dict(figures)
    if "ack->SR s" in figures and figures.get("storescp raw transfer s"):
        out["ack->SR / raw transfer"] = figures["ack->SR s"] / figures["storescp raw transfer s"]
    for name, value in figures.items():
        peer = name.replace("simcase", "nibabel")
        if name.startswith("simcase cases/s") and figures.get(peer):
            workers = name.removeprefix("simcase cases/s ")
            out[f"simcase / nibabel cases/s {workers}"] = value / figures[peer]
    return out


def report(before: str, after: str, runs: dict[str, list[dict[str, float]]]) -> None:
    names = sorted({k for r in runs[before] + runs[after] for k in r})
    print(f"\n| figure | before {before} | after {after} | after / before | better |")
    print("|---|---|---|---|---|")
    for name in names:
        b = statistics.median(r[name] for r in runs[before] if name in r)
        a = statistics.median(r[name] for r in runs[after] if name in r)
        higher = any(h in name for h in HIGHER_IS_BETTER)
        ratio = a / b
        better = "after" if (ratio > 1) == higher and ratio != 1 else "before"
        print(f"| {name} | {b:.3f} | {a:.3f} | {ratio:.3f} | {better} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", choices=sorted(FIGURES), required=True)
    parser.add_argument("--before", required=True, help="the revision before the change")
    parser.add_argument("--after", default="HEAD", help="the revision after it")
    parser.add_argument("--rounds", type=int, default=2, help="runs per revision, alternating")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="-- then the benchmark's own")
    ns = parser.parse_args()
    bench_args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    work = Path(tempfile.mkdtemp(prefix="bench-revs-"))
    trees = {rev: checkout(rev, work) for rev in (ns.before, ns.after)}
    runs: dict[str, list[dict[str, float]]] = {ns.before: [], ns.after: []}
    try:
        for i in range(ns.rounds):
            for rev, tree in trees.items():
                figures, load = run_once(tree, ns.bench, bench_args)
                runs[rev].append(figures)
                shown = ", ".join(f"{k} {v:g}" for k, v in sorted(figures.items()))
                print(f"round {i + 1} {rev} ({tree.name}): {shown} [load {load}]", flush=True)
        report(ns.before, ns.after, runs)
    finally:
        for tree in trees.values():
            drop(tree)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
