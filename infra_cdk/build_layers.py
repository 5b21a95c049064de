"""Build the dependency layer: ``python -m infra_cdk.build_layers`` from the repository root.

Installs ``requirements/runtime.txt`` into ``layers/deps/python`` as Linux wheels for the
Lambda runtime (CPython 3.12, x86_64; matches ``RUNTIME``/``ARCHITECTURE`` in
``infra_cdk/components/runtime.py``), whatever machine runs it. No Docker: pip only takes
prebuilt manylinux wheels (``--only-binary=:all:``), which every pinned package ships.

boto3 and botocore are left out by default: the Lambda Python runtime already has them,
and they would add ~25 MB zipped (~100 MB unpacked) to a layer that counts against the
250 MB unzipped limit. ``--with-boto3`` ships the pinned version instead.

The core layer (``layers/core``) needs no build step: its asset is the source folder.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from infra_cdk.config import DEPS_LAYER_DIR, REPO_ROOT

log = logging.getLogger("build_layers")

# The Lambda python3.11 runtime runs on Amazon Linux 2 (glibc 2.26): manylinux2014
# (glibc 2.17) wheels load there, manylinux_2_28 wheels do not. Runtimes from python3.12
# on run Amazon Linux 2023 (glibc 2.34) and could add "manylinux_2_28_x86_64".
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
PYTHON_VERSION = "3.12"  # docs/adr/0004-lambda-python-3-12.md
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
IN_LAMBDA_RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath"}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(line: str) -> str | None:
    """The normalized project name a requirements line pins, or None for comments/options."""
    stripped = line.split("#", 1)[0].strip()
    if not stripped or stripped.startswith("-"):
        return None
    match = _NAME.match(stripped)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


def layer_requirements(text: str, *, with_boto3: bool) -> str:
    """``text`` without the packages the Lambda runtime provides (unless ``with_boto3``)."""
    if with_boto3:
        return text
    kept = [line for line in text.splitlines() if requirement_name(line) not in IN_LAMBDA_RUNTIME]
    return "\n".join(kept) + "\n"


def pip_command(requirements: Path, target: Path, platforms: tuple[str, ...] = PLATFORMS) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-compile",  # Lambda writes no .pyc next to layer files; ship sources only
        *(arg for platform in platforms for arg in ("--platform", platform)),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]


def build(target: Path, requirements: Path, *, with_boto3: bool, platforms: tuple[str, ...] = PLATFORMS) -> int:
    """Replace ``target`` with a fresh install; return its size in bytes."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        filtered = Path(tmp) / "layer-requirements.txt"
        filtered.write_text(layer_requirements(requirements.read_text(), with_boto3=with_boto3))
        subprocess.run(pip_command(filtered, target, platforms), check=True)  # noqa: S603 (fixed argv, our interpreter)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: never run in Lambda
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    if not with_boto3 and (target / "boto3").exists():
        log.warning("a dependency pulled boto3 into the layer anyway")
    return sum(f.stat().st_size for f in target.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=DEPS_LAYER_DIR / "python")
    parser.add_argument("--requirements", type=Path, default=REPO_ROOT / "requirements" / "runtime.txt")
    parser.add_argument("--with-boto3", action="store_true", help="ship the pinned boto3 in the layer")
    parser.add_argument(
        "--platform",
        action="append",
        dest="platforms",
        help=f"wheel platform tag, repeatable (default: {' '.join(PLATFORMS)}; must suit the Lambda runtime)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    platforms = tuple(args.platforms or PLATFORMS)
    try:
        size = build(
            args.target.resolve(), args.requirements.resolve(), with_boto3=args.with_boto3, platforms=platforms
        )
    except subprocess.CalledProcessError:
        log.error(  # pip has printed the cause above
            "pip could not install every pin as a %s wheel for CPython %s; a pin that ships only newer "
            "manylinux wheels cannot load on the Lambda runtime (see PLATFORMS in this file)",
            "/".join(platforms),
            PYTHON_VERSION,
        )
        return 1
    log.info("dependency layer: %s (%.1f MB unpacked; Lambda allows 250 MB in all)", args.target, size / 1e6)
    if size > LAMBDA_UNZIPPED_LIMIT:
        log.error("the layer alone exceeds Lambda's 250 MB unzipped limit for a function and its layers")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
