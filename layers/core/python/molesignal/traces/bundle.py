"""Reading a trace bundle: a ``.zip`` or ``.tar.gz`` of ``summary.json``, ``events.ndjson`` and
any other files (video, a Playwright ``trace.zip``, an rrweb recording, a report).

Nothing is extracted to disk: members are read into memory under caps on their count and
unpacked size, so a zip bomb or a path like ``../../etc`` is refused or merely a name.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import posixpath
import tarfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from molesignal.errors import Invalid
from molesignal.settings import get_settings
from molesignal.traces.events import normalize_events
from molesignal.traces.model import FINISHED, STATUSES

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_GZIP_MAGIC = b"\x1f\x8b"
_VIDEO_SUFFIXES = (".webm", ".mp4")
_CONTENT_TYPES = {
    ".ndjson": "application/x-ndjson",
    ".webm": "video/webm",
    ".mp4": "video/mp4",
    ".md": "text/markdown",
    ".zip": "application/zip",
    ".json": "application/json",
}


def invalid(message: str, **details: Any) -> Invalid:
    return Invalid(f"invalid bundle: {message}", code="invalid_bundle", details=details or None)


@dataclass(frozen=True)
class BundleFile:
    name: str
    data: bytes = field(repr=False)
    sha256: str
    content_type: str

    @classmethod
    def of(cls, name: str, data: bytes) -> BundleFile:
        return cls(name, data, hashlib.sha256(data).hexdigest(), content_type_for(name))

    @property
    def size(self) -> int:
        return len(self.data)


def content_type_for(name: str) -> str:
    suffix = posixpath.splitext(name)[1].lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def read_members(data: bytes) -> list[BundleFile]:
    """The bundle's files (directories dropped, one shared top folder stripped)."""
    if data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
        members = _zip_members(data)
    elif data.startswith(_GZIP_MAGIC):
        members = _tar_members(data)
    else:
        raise invalid("expected a .zip or .tar.gz archive")
    if not members:
        raise invalid("the archive holds no files")
    names = [name for name, _ in members]
    if len(set(names)) != len(names):
        raise invalid("the archive names a file twice")
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):
        members = [(name.split("/", 1)[1], content) for name, content in members]
    return [BundleFile.of(name, content) for name, content in members]


def _clean_name(raw: str) -> str | None:
    name = posixpath.normpath(raw.replace("\\", "/")).lstrip("/")
    if name in ("", ".") or name.startswith("../") or name == "..":
        return None
    return name


class _Budget:
    def __init__(self) -> None:
        settings = get_settings()
        self.files_left = settings.trace_bundle_max_files
        self.bytes_left = settings.trace_bundle_max_unpacked_bytes

    def take(self, size: int) -> None:
        self.files_left -= 1
        self.bytes_left -= size
        if self.files_left < 0:
            raise invalid(f"more than {get_settings().trace_bundle_max_files} files")
        if self.bytes_left < 0:
            raise invalid(f"unpacks to more than {get_settings().trace_bundle_max_unpacked_bytes} bytes")


def _zip_members(data: bytes) -> list[tuple[str, bytes]]:
    budget = _Budget()
    out: list[tuple[str, bytes]] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                name = _clean_name(info.filename)
                if info.is_dir() or name is None:
                    continue
                budget.take(info.file_size)
                with archive.open(info) as member:
                    # Read one byte past the declared size: a lying header cannot unpack more.
                    content = member.read(info.file_size + 1)
                if len(content) != info.file_size:
                    raise invalid(f"{name}: size differs from its header")
                out.append((name, content))
    except (zipfile.BadZipFile, EOFError, NotImplementedError, ValueError) as exc:
        raise invalid(f"unreadable zip: {exc}") from exc
    return out


def _tar_members(data: bytes) -> list[tuple[str, bytes]]:
    budget = _Budget()
    out: list[tuple[str, bytes]] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for info in archive:
                name = _clean_name(info.name)
                if not info.isfile() or name is None:
                    continue  # directories, links and devices carry no content
                budget.take(info.size)
                member = archive.extractfile(info)
                content = member.read() if member is not None else b""
                out.append((name, content))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise invalid(f"unreadable tar.gz: {exc}") from exc
    return out


def is_playwright_trace(file: BundleFile) -> bool:
    if not file.data.startswith(_ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(file.data)) as archive:
            return any(name.endswith(".trace") for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


def artifact_roles(files: list[BundleFile]) -> dict[str, BundleFile]:
    """Which file plays each role of spec 003's ``signed_urls`` (the first that fits)."""
    roles: dict[str, BundleFile] = {}
    for file in sorted(files, key=lambda f: (f.name.count("/"), f.name)):
        base = posixpath.basename(file.name).lower()
        role = None
        if file.name == "summary.json":
            role = "summary"
        elif file.name == "events.ndjson":
            role = "ndjson"
        elif base.endswith(_VIDEO_SUFFIXES):
            role = "video"
        elif base.endswith(".zip") and is_playwright_trace(file):
            role = "playwright"
        elif "rrweb" in base and base.endswith((".json", ".ndjson")):
            role = "rrweb"
        elif base in ("report.md", "report.html"):
            role = "report"
        if role is not None:
            roles.setdefault(role, file)
    return roles


@dataclass(frozen=True)
class Summary:
    scenario_slug: str | None
    scenario_title: str | None
    status: str | None
    duration_ms: int | None
    code_sha: str | None
    failure_signature: str | None
    started_at_ms: int | None
    extra: dict[str, Any]


def _text(body: dict[str, Any], name: str, limit: int = 500) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(f"summary.json: {name} must be text of at most {limit} characters", field=name)
    return value


def parse_summary(file: BundleFile | None) -> Summary:
    if file is None:
        return Summary(None, None, None, None, None, None, None, {})
    try:
        body = orjson.loads(file.data)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"summary.json is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise invalid("summary.json must be a JSON object")
    status = _text(body, "status")
    if status is not None and status not in STATUSES:
        raise invalid(f"summary.json: status must be one of {', '.join(STATUSES)}", field="status")
    duration = body.get("duration_ms")
    if duration is not None and (not isinstance(duration, int | float) or isinstance(duration, bool) or duration < 0):
        raise invalid("summary.json: duration_ms must be a non-negative number", field="duration_ms")
    started = _text(body, "started_at")
    started_ms = None
    if started is not None:
        try:
            started_ms = int(datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError as exc:
            raise invalid("summary.json: started_at must be ISO 8601", field="started_at") from exc
    known = {"scenario_slug", "scenario_title", "status", "duration_ms", "code_sha", "failure_signature", "started_at"}
    return Summary(
        scenario_slug=_text(body, "scenario_slug", 200),
        scenario_title=_text(body, "scenario_title"),
        status=status,
        duration_ms=int(duration) if duration is not None else None,
        code_sha=_text(body, "code_sha", 64),
        failure_signature=_text(body, "failure_signature", 200),
        started_at_ms=started_ms,
        extra={k: v for k, v in body.items() if k not in known},
    )


def parse_events_ndjson(file: BundleFile) -> list[dict[str, Any]]:
    raw: list[Any] = []
    for number, line in enumerate(file.data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise invalid(f"events.ndjson line {number} is not JSON: {exc}", line=number) from exc
    return normalize_events(raw, source="events.ndjson")


def finished_status(declared: str | None, events: list[dict[str, Any]]) -> str:
    """The status a finished bundle reports, or the one its events imply."""
    if declared in FINISHED:
        return declared
    return "failed" if any(e.get("ok") is False for e in events) else "passed"
