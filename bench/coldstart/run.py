"""Cold-start benchmark: the import time of every Lambda handler module, in a fresh
interpreter, against a bare ``import fastapi, mangum, boto3`` measured in the same run.

For each target a child interpreter is spawned (``<python> -X frozen_modules=on -c ...``,
this interpreter unless ``--python`` names another); the child times its one import
statement with ``time.perf_counter`` and prints the figure, and the parent also times the
whole process (start-up + import + exit). Targets are interleaved round-robin so that
noise on a shared machine hits all of them alike, and medians are reported. Each
function's figure is a ratio to the baseline's median import time; API functions
(``REGISTRY.http``) must stay within ``--target`` (1.3x by default).

The functions are read from ``functions/registry.py`` at run time, so a new function is
measured without touching this script.

    .venv/bin/python bench/coldstart/run.py                # 7 rounds, writes bench/results/
    .venv/bin/python bench/coldstart/run.py --check        # exit 1 when an API function misses
    .venv/bin/python bench/coldstart/run.py --importtime   # + the heaviest imports per function
    .venv/bin/python bench/coldstart/run.py --python /tmp/rt/bin/python  # runtime-only venv
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))

from bench.common import CODE_PATHS, git_info, host_info, loadavg  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"

BASELINE = "baseline"
BASELINE_MODULES = ("fastapi", "mangum", "boto3")
DEFAULT_ROUNDS = 7
DEFAULT_TARGET = 1.3
CHILD_TIMEOUT_S = 120
MARKER = "@@COLDSTART@@"
MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

# The child: time the import statement alone, then check the handler attribute exists
# (outside the timed span) and report on one marked line, so that anything the module
# prints or logs while importing cannot be mistaken for the result.
CHILD_TEMPLATE = """\
import time as _t
_t0 = _t.perf_counter()
import {modules}
_t1 = _t.perf_counter()
import sys as _s
{check}
_s.stdout.write("\\n{marker}%r\\n" % ((_t1 - _t0) * 1000.0))
"""
HANDLER_CHECK = """\
_h = getattr(_s.modules[{module!r}], {attr!r}, None)
if not callable(_h):
    raise SystemExit("{module}.{attr} is missing or not callable")
"""

# Stand-ins so no import can reach for real credentials or the instance-metadata service.
CHILD_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Variables that would change what is measured (no bytecode cache, import profiling,
# start-up scripts, a different interpreter mode) or point boto at real accounts.
CHILD_ENV_DROP = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONSTARTUP",
    "PYTHONINSPECT",
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONPYCACHEPREFIX",
    "PYTHONNODEBUGRANGES",
    "PYTHONWARNINGS",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


@dataclass
class Target:
    name: str
    kind: str  # baseline | api | authorizer | worker | schedule
    modules: tuple[str, ...]
    handler: str = ""  # "<module>.<attr>", empty for the baseline
    import_ms: list[float] = field(default_factory=list)
    process_ms: list[float] = field(default_factory=list)
    error: str = ""
    importtime: dict[str, Any] = field(default_factory=dict)

    @property
    def statement(self) -> str:
        return "import " + ", ".join(self.modules)

    def child_code(self) -> str:
        check = ""
        if self.handler:
            module, _, attr = self.handler.rpartition(".")
            check = HANDLER_CHECK.format(module=module, attr=attr)
        return CHILD_TEMPLATE.format(modules=", ".join(self.modules), check=check, marker=MARKER)


class ChildError(RuntimeError):
    pass


def ensure_code_paths() -> None:
    """The venv's .pth file puts the code on sys.path; do it here too for other interpreters."""
    for path in reversed(CODE_PATHS):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def load_targets() -> list[Target]:
    ensure_code_paths()
    from registry import REGISTRY  # read at run time: new functions are measured automatically

    entries: list[tuple[str, str, str]] = [("authorizer", REGISTRY.authorizer.name, REGISTRY.authorizer.handler)]
    entries += [("api", fn.name, fn.handler) for fn in REGISTRY.http]
    entries += [("worker", fn.name, fn.handler) for fn in REGISTRY.workers]
    entries += [("schedule", fn.name, fn.handler) for fn in REGISTRY.schedules]

    targets = [Target(BASELINE, "baseline", BASELINE_MODULES)]
    seen: set[str] = {BASELINE}
    for kind, name, handler in entries:
        module, _, attr = handler.rpartition(".")
        if not module or not attr or not MODULE_RE.match(handler):
            raise SystemExit(f"registry: {name}: handler {handler!r} is not '<module>.<attr>'")
        if name in seen:
            raise SystemExit(f"registry: function name {name!r} appears twice")
        seen.add(name)
        targets.append(Target(name, kind, (module,), handler=handler))
    return targets


@dataclass(frozen=True)
class Child:
    """How the children are started: which interpreter, with which environment."""

    python: str
    env: dict[str, str]
    info: dict[str, Any]


# Versions recorded with the results: the figures depend on them. cryptography is not a
# runtime dependency, but PyJWT imports it whenever it is installed.
RECORDED_PACKAGES = (
    "fastapi",
    "starlette",
    "pydantic",
    "pydantic-core",
    "pydantic-settings",
    "mangum",
    "boto3",
    "botocore",
    "aws-lambda-powertools",
    "pyjwt",
    "cryptography",
)
PROBE_PACKAGES = f"""\
from importlib import metadata as _m
pk = {{}}
for _n in {RECORDED_PACKAGES!r}:
    try:
        pk[_n] = _m.version(_n)
    except _m.PackageNotFoundError:
        pk[_n] = None
"""


def make_child(python: str) -> Child:
    env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV_DROP}
    env.update(CHILD_ENV)
    probe_code = (
        "import json, os, platform, sys; print(json.dumps({'sys_path': sys.path, 'python': platform.python_version(), "
        "'implementation': platform.python_implementation(), 'executable': sys.executable, 'prefix': sys.prefix, "
        "'packages': pk}))"
    )
    probe_code = PROBE_PACKAGES + probe_code
    try:
        probe = subprocess.run(
            [python, "-c", probe_code], capture_output=True, text=True, env=env, check=True, cwd=REPO, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(f"cannot run {python}: {exc}") from exc
    info = json.loads(probe.stdout)
    # Only needed when the interpreter lacks the venv's .pth file; entries that are already
    # on its sys.path are left where they are so lookup order matches the real set-up.
    child_path = set(info.pop("sys_path"))
    missing = [str(p) for p in CODE_PATHS if str(p) not in child_path]
    if missing:
        env["PYTHONPATH"] = os.pathsep.join([*missing, *filter(None, [env.get("PYTHONPATH", "")])])
    info["added_to_pythonpath"] = missing
    return Child(python=python, env=env, info=info)


def run_child(target: Target, child: Child, *extra_flags: str) -> tuple[float, float, str]:
    """Spawn one fresh interpreter; return (import ms measured inside, process wall ms, stderr)."""
    cmd = [child.python, "-X", "frozen_modules=on", *extra_flags, "-c", target.child_code()]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=child.env, cwd=REPO, timeout=CHILD_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ChildError(f"timed out after {CHILD_TIMEOUT_S}s") from exc
    wall_ms = (time.perf_counter() - start) * 1000.0
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise ChildError(f"exit {proc.returncode}: {tail}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise ChildError(f"no result line in child output: {proc.stdout[-500:]!r}")
    return float(lines[-1][len(MARKER) :]), wall_ms, proc.stderr


def measure(targets: list[Target], rounds: int, child: Child, *, quiet: bool) -> None:
    def log(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    # One unmeasured run per target: compiles the .pyc files and warms the page cache.
    log(f"warm-up: {len(targets)} targets")
    for target in targets:
        try:
            run_child(target, child)
        except ChildError as exc:
            target.error = str(exc)
            log(f"  {target.name}: FAILED {exc}")

    live = [t for t in targets if not t.error]
    for rnd in range(rounds):
        # Round-robin, with the starting point rotated each round so no target always
        # runs first (or right after the same neighbour).
        shift = rnd % len(live) if live else 0
        order = live[shift:] + live[:shift]
        for target in order:
            if target.error:
                continue
            try:
                import_ms, wall_ms, _ = run_child(target, child)
            except ChildError as exc:
                target.error = f"round {rnd + 1}: {exc}"
                log(f"  {target.name}: FAILED {target.error}")
                continue
            target.import_ms.append(import_ms)
            target.process_ms.append(wall_ms)
        log(f"round {rnd + 1}/{rounds} done")


# ---------------------------------------------------------------- -X importtime

IMPORTTIME_RE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def parse_importtime(stderr: str) -> list[dict[str, Any]]:
    """Rows of ``-X importtime`` output, in order, with nesting depth (0 = imported directly)
    and the index of the row that imported each one (None at depth 0).

    importtime prints a module after everything it imported, so a row's parent is the
    next row below it with a smaller depth.
    """
    rows: list[dict[str, Any]] = []
    for line in stderr.splitlines():
        m = IMPORTTIME_RE.match(line)
        if m:
            rows.append(
                {
                    "module": m.group(4),
                    "self_us": int(m.group(1)),
                    "cumulative_us": int(m.group(2)),
                    "depth": (len(m.group(3)) - 1) // 2,
                    "parent": None,
                }
            )
    pending: list[int] = []  # rows still waiting for their parent
    for i, row in enumerate(rows):
        while pending and rows[pending[-1]]["depth"] > row["depth"]:
            rows[pending.pop()]["parent"] = i
        pending.append(i)
    return rows


IMPORTTIME_RUNS = 3
MIN_BODY_MS = 2.0


def importtime_rows(target: Target, child: Child) -> list[dict[str, Any]]:
    """``-X importtime`` rows of the run, out of IMPORTTIME_RUNS, whose total is the median."""
    runs = []
    for _ in range(IMPORTTIME_RUNS):
        _, _, stderr = run_child(target, child, "-X", "importtime")
        rows = parse_importtime(stderr)
        runs.append((sum(r["cumulative_us"] for r in rows if r["depth"] == 0), rows))
    runs.sort(key=lambda run: run[0])
    return runs[len(runs) // 2][1]


def heavy_imports(target: Target, baseline_modules: set[str], child: Child, top: int) -> dict[str, Any]:
    """What makes this target cost more than the baseline, heaviest first.

    ``libraries``: modules from outside this repository that the baseline does not import.
    ``extra_ms`` is a module's cumulative time minus the time of everything under it that
    the baseline imports as well (fastapi, boto3, ...: that part is the floor). Only
    independent costs are listed: a module under one already listed is folded into it.
    Each row carries the chain of imports that pulled it in, outermost first.

    ``module_bodies``: this repository's modules by their own (self) time, which is the
    work their bodies do at import: building FastAPI routes and pydantic models, etc.
    """
    rows = importtime_rows(target, child)
    in_base = [row["module"] in baseline_modules for row in rows]
    extra = [row["cumulative_us"] for row in rows]
    for j, row in enumerate(rows):
        if not in_base[j]:
            continue
        a = row["parent"]
        while a is not None and not in_base[a]:
            extra[a] -= row["cumulative_us"]
            a = rows[a]["parent"]

    def ancestors(i: int) -> list[int]:
        chain = []
        a = rows[i]["parent"]
        while a is not None:
            chain.append(a)
            a = rows[a]["parent"]
        return chain

    def chain_of(i: int) -> list[str]:
        return [rows[a]["module"] for a in reversed(ancestors(i))] + [rows[i]["module"]]

    first_party = first_party_names()
    own = {i for i, row in enumerate(rows) if row["module"].split(".")[0] in first_party}
    candidates = sorted((i for i in range(len(rows)) if not in_base[i] and i not in own), key=lambda i: -extra[i])
    libraries: list[dict[str, Any]] = []
    picked: set[int] = set()
    for i in candidates:
        if len(libraries) >= top or extra[i] <= 0:
            break
        if picked.intersection(ancestors(i)):
            continue
        libraries.append(
            {
                "module": rows[i]["module"],
                "extra_ms": round(extra[i] / 1000.0, 1),
                "cumulative_ms": round(rows[i]["cumulative_us"] / 1000.0, 1),
                "chain": chain_of(i),
            }
        )
        picked.add(i)

    bodies = sorted(own, key=lambda i: -rows[i]["self_us"])
    module_bodies = [
        {"module": rows[i]["module"], "self_ms": round(rows[i]["self_us"] / 1000.0, 1)}
        for i in bodies[:top]
        if rows[i]["self_us"] >= MIN_BODY_MS * 1000
    ]
    total = round(sum(r["cumulative_us"] for r in rows if r["depth"] == 0) / 1000.0, 1)
    return {"total_ms": total, "libraries": libraries, "module_bodies": module_bodies}


def first_party_names() -> set[str]:
    """Top-level packages and modules of this repository (layers/core/python and functions/).

    They are left out of the heavy-import list so it names the libraries a function pulls
    in, each with the first-party chain that imports it; their own time shows in the total.
    """
    names: set[str] = set()
    for base in CODE_PATHS[:2]:
        for p in base.iterdir():
            if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py":
                names.add(p.stem)
    return names


def baseline_module_set(child: Child) -> set[str]:
    _, _, stderr = run_child(Target(BASELINE, "baseline", BASELINE_MODULES), child, "-X", "importtime")
    return {row["module"] for row in parse_importtime(stderr)}


def explain(targets: list[Target], child: Child, top: int) -> None:
    """Attach the -X importtime breakdown to every function that imported cleanly."""
    try:
        base_mods = baseline_module_set(child)
    except ChildError as exc:
        print(f"-X importtime of the baseline failed: {exc}", file=sys.stderr)
        return
    for t in targets[1:]:
        if t.error:
            continue
        try:
            t.importtime = heavy_imports(t, base_mods, child, top)
        except ChildError as exc:  # a diagnostic: report it and keep the measurements
            t.importtime = {"error": str(exc), "total_ms": None, "libraries": [], "module_bodies": []}


# ---------------------------------------------------------------- report


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def r2(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def summarise(targets: list[Target], target_ratio: float) -> dict[str, Any]:
    base = targets[0]
    base_med = median(base.import_ms)
    rows = []
    for t in targets:
        med = median(t.import_ms)
        ratio = med / base_med if med is not None and base_med else None
        if t.kind == "api":
            status = "FAIL" if t.error or ratio is None or ratio > target_ratio else "PASS"
        else:
            status = "ERROR" if t.error else "-"
        rows.append(
            {
                "name": t.name,
                "kind": t.kind,
                "import": t.statement,
                "handler": t.handler or None,
                "import_ms_median": r2(med),
                "import_ms_min": r2(min(t.import_ms)) if t.import_ms else None,
                "import_ms_max": r2(max(t.import_ms)) if t.import_ms else None,
                "process_ms_median": r2(median(t.process_ms)),
                "ratio": r2(ratio, 3),
                # Noise on a shared machine only ever adds time, so the fastest samples are a
                # second, steadier view; the target is judged on the medians.
                "ratio_of_min": r2(min(t.import_ms) / min(base.import_ms), 3)
                if t.import_ms and base.import_ms
                else None,
                "process_ratio": r2(
                    median(t.process_ms) / median(base.process_ms) if t.process_ms and base.process_ms else None, 3
                ),
                "status": status,
                "error": t.error or None,
                "samples": {"import_ms": [r2(x) for x in t.import_ms], "process_ms": [r2(x) for x in t.process_ms]},
                **({"heavy_imports": t.importtime} if t.importtime else {}),
            }
        )
    return {"baseline_import_ms_median": r2(base_med), "rows": rows}


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_table(summary: dict[str, Any], target_ratio: float) -> None:
    header = f"{'target':<22} {'kind':<10} {'import ms':>10} {'min':>8} {'max':>8} {'process ms':>11}"
    header += f" {'ratio':>6} {'min/min':>7}  status"
    print(header)
    print("-" * len(header))
    for r in summary["rows"]:
        ratio = "1.00" if r["kind"] == "baseline" else fmt(r["ratio"], ".2f")
        ratio_min = "1.00" if r["kind"] == "baseline" else fmt(r["ratio_of_min"], ".2f")
        print(
            f"{r['name']:<22} {r['kind']:<10} {fmt(r['import_ms_median'], '.1f'):>10} "
            f"{fmt(r['import_ms_min'], '.1f'):>8} {fmt(r['import_ms_max'], '.1f'):>8} "
            f"{fmt(r['process_ms_median'], '.1f'):>11} {ratio:>6} {ratio_min:>7}  {r['status']}"
        )
        if r["error"]:
            print("    error: " + r["error"].replace("\n", "\n           "))
    print(
        f"\nbaseline = {' + '.join(BASELINE_MODULES)}; ratio = median import / median baseline import, "
        f"min/min = fastest / fastest;\ntarget: API functions' ratio <= {target_ratio:.2f}"
    )
    for r in summary["rows"]:
        heavy = r.get("heavy_imports")
        if not heavy:
            continue
        if heavy.get("error"):
            print(f"\n{r['name']}: -X importtime failed: {heavy['error']}")
            continue
        print(f"\n{r['name']}: -X importtime ({heavy['total_ms']:.0f} ms with profiling overhead)")
        for h in heavy["libraries"]:
            print(
                f"  +{h['extra_ms']:6.1f} ms (cum {h['cumulative_ms']:6.1f})  {h['module']:<24} "
                f"via {' -> '.join(h['chain'])}"
            )
        for b in heavy["module_bodies"]:
            print(f"  {b['self_ms']:7.1f} ms self          {b['module']:<24} (module body)")


def machine_info(child: Child) -> dict[str, Any]:
    """The machine, and the interpreter the children ran (which may not be this one)."""
    return {**child.info, **host_info(), "processor": platform.processor() or None}


def main(argv: list[str] | None = None) -> int:
    now = dt.datetime.now(dt.UTC)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="measured rounds (default %(default)s)")
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR / f"coldstart-{now:%Y-%m-%d}.json",
        help="JSON results file (default bench/results/coldstart-<UTC date>.json)",
    )
    parser.add_argument("--target", type=float, default=DEFAULT_TARGET, help="max ratio for API functions")
    parser.add_argument("--check", action="store_true", help="exit 1 when an API function misses the target")
    parser.add_argument(
        "--importtime",
        action="store_true",
        help="also run each function under -X importtime (median of 3 runs) and list its heaviest imports "
        "beyond the baseline",
    )
    parser.add_argument("--top", type=int, default=8, help="rows per function for --importtime (default 8)")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter for the children, e.g. a venv with only requirements/runtime.txt (default: this one)",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="measure only these functions (and the baseline)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    targets = load_targets()
    if args.only:
        unknown = set(args.only) - {t.name for t in targets}
        if unknown:
            parser.error(f"unknown function(s): {', '.join(sorted(unknown))}")
        targets = [t for t in targets if t.kind == "baseline" or t.name in args.only]

    child = make_child(args.python)
    load_start = loadavg()
    started = time.perf_counter()
    measure(targets, args.rounds, child, quiet=args.quiet)
    if targets[0].error:
        print(f"baseline import failed: {targets[0].error}", file=sys.stderr)
        return 2

    if args.importtime:
        explain(targets, child, args.top)

    summary = summarise(targets, args.target)
    print()
    print_table(summary, args.target)

    info = machine_info(child)
    info["loadavg_start"], info["loadavg_end"] = load_start, loadavg()
    result = {
        "benchmark": "coldstart",
        "date": now.isoformat(timespec="seconds"),
        "rounds": args.rounds,
        "target_ratio": args.target,
        "baseline": {"name": BASELINE, "import": targets[0].statement},
        "method": (
            "fresh interpreter per sample (<python> -X frozen_modules=on -c), warm .pyc; import timed "
            "inside the child with perf_counter; process_ms is spawn-to-exit from the parent; targets "
            "interleaved round-robin; medians"
        ),
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": info,
        "git": git_info(),
        **summary,
    }
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {out}")

    failed_api = [r["name"] for r in summary["rows"] if r["kind"] == "api" and r["status"] != "PASS"]
    errors = [r["name"] for r in summary["rows"] if r["error"]]
    if errors:
        print(f"import errors: {', '.join(errors)}", file=sys.stderr)
    if args.check and failed_api:
        print(f"over target ({args.target:.2f}x): {', '.join(failed_api)}", file=sys.stderr)
        return 1
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
