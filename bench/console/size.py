"""What the browser downloads for the console, gzipped (``python bench/console/size.py``).

The first page (sign-in) is index.html with the entry script, style and the chunks it preloads;
the query page adds the lazily imported editor and chart chunks; /docs is the API reference.
Target: the first page under 300 KB gzipped. Run after ``make console``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import REPO, git_info, host_info

DIST = REPO / "console" / "dist"
_REFERENCED = re.compile(r'(?:src|href)="(/assets/[^"]+)"')
_IMPORTED = re.compile(r'"(?:\./|/assets/)([A-Za-z0-9_.-]+\.(?:js|css))"')


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def closure(entry_html: str) -> set[Path]:
    """Files the page references, and the chunks those statically import (not dynamic imports)."""
    files = {DIST / ref.lstrip("/") for ref in _REFERENCED.findall(entry_html)}
    pending = [f for f in files if f.suffix == ".js"]
    while pending:
        text = pending.pop().read_text()
        static = re.findall(r'import\s*(?:[^"\'()]*?from\s*)?"\./([A-Za-z0-9_.-]+\.js)"', text)
        for name in static:
            found = DIST / "assets" / name
            if found not in files:
                files.add(found)
                pending.append(found)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not (DIST / "index.html").is_file():
        print("console/dist is missing: run make console", file=sys.stderr)
        return 1
    index_html = (DIST / "index.html").read_text()
    first = closure(index_html) | {DIST / "index.html"}
    every = {p for p in DIST.rglob("*") if p.is_file()}
    docs = closure((DIST / "docs.html").read_text()) | {DIST / "docs.html"}
    lazy = every - first - docs
    result = {
        "git": git_info(),
        "host": host_info(),
        "first_page_gz_bytes": sum(gz(p) for p in first),
        "first_page_files": sorted(str(p.relative_to(DIST)) for p in first),
        "lazy_chunks_gz_bytes": sum(gz(p) for p in lazy),
        "docs_page_gz_bytes": sum(gz(p) for p in docs),
        "all_files_gz_bytes": sum(gz(p) for p in every),
        "target_first_page_gz_bytes": 300_000,
    }
    result["first_page_under_target"] = result["first_page_gz_bytes"] < result["target_first_page_gz_bytes"]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
