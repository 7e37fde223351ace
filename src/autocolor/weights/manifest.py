"""weights.toml -> validated :class:`WeightSpec` objects.

The manifest is the single place that says where a model's weights come from and how to
check them. Parsing is strict: an unknown key, a malformed sha256 or a model without a
source is an error naming the file and the table, so a typo never silently disables a
checksum. The file shipped in the package is used unless ``$AUTOCOLOR_WEIGHTS_TOML``
points elsewhere (tests, private mirrors).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from autocolor.errors import UnknownModelError, WeightsError
from autocolor.names import canonical_model_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "KNOWN_FORMATS",
    "Source",
    "WeightSpec",
    "manifest",
    "manifest_path",
    "parse_manifest",
    "spec",
]

ENV_MANIFEST = "AUTOCOLOR_WEIGHTS_TOML"

#: Formats a converter exists or is planned for; ``convert.register_converter`` adds more.
KNOWN_FORMATS: frozenset[str] = frozenset({"pth", "safetensors", "caffe_h5", "tf_ckpt", "gcp_pth"})

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_HF_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Plain http is only accepted for the local machine (test servers, a LAN-less local mirror).
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

_MODEL_KEYS = {
    "arch", "sources", "sha256", "bytes", "format", "licence", "paper",
    "input_size", "decoding", "temperature", "notes", "filename", "parts",
}  # fmt: skip
_REQUIRED_KEYS = ("arch", "sources", "format", "licence")
# A bundle (weights split over several files, e.g. GCP) lists its parts instead of a file.
_BUNDLE_REQUIRED_KEYS = ("arch", "parts", "licence")
_BUNDLE_FORBIDDEN_KEYS = ("sources", "sha256", "bytes", "format", "filename")
#: ``sha256 = "unpublished"`` says explicitly that the authors published no hash (and maybe no
#: size): the hash of the first verified import is recorded and enforced afterwards.
UNPUBLISHED = "unpublished"


@dataclass(frozen=True)
class Source:
    """One place a weights file can be had; sources of a model are tried in order.

    Attributes:
        kind: ``"url"`` (https download), ``"hf"`` (Hugging Face Hub file), ``"bundled"``
            (a file shipped in ``autocolor/bundled/``) or ``"manual"`` (a web page where the
            user downloads the file by hand, e.g. a Google Drive folder; never fetched).
        url: for ``"url"``.
        hf_repo, hf_file, revision: for ``"hf"``; ``revision`` pins a branch, tag or commit
            (``None`` means the repo's default branch).
        bundled: file name inside ``autocolor/bundled/`` for ``"bundled"``.
        manual: the download page for ``"manual"``.
    """

    kind: str
    url: str | None = None
    hf_repo: str | None = None
    hf_file: str | None = None
    revision: str | None = None
    bundled: str | None = None
    manual: str | None = None

    def describe(self) -> str:
        """Short human-readable location, used in messages (``hf://org/repo/file@rev``)."""
        if self.kind == "url":
            return str(self.url)
        if self.kind == "hf":
            rev = f"@{self.revision}" if self.revision else ""
            return f"hf://{self.hf_repo}/{self.hf_file}{rev}"
        if self.kind == "manual":
            return f"download by hand from {self.manual}"
        return f"bundled:{self.bundled}"


@dataclass(frozen=True)
class WeightSpec:
    """Everything weights.toml pins about one pretrained model.

    ``sha256`` is the hash of the *original* file (before conversion). It is ``None`` where
    the authors published none: then ``bytes`` must be given, and the hash seen on the first
    verified import is recorded in the cache and enforced afterwards (trust on first use).
    ``sha256 = "unpublished"`` in the TOML allows omitting ``bytes`` too (the size is then also
    recorded on first use). ``input_size`` is the side in pixels; ``temperature`` the default
    decoding temperature. ``filename`` is the official file name (how ``--from DIR`` finds it).
    A *bundle* has ``parts`` (names of other entries whose files together make the weights of
    ``arch``) and no file of its own: ``sources`` is empty and ``format`` is ``"bundle"``.
    """

    name: str
    arch: str
    sources: tuple[Source, ...]
    sha256: str | None
    bytes: int | None
    format: str
    licence: str
    paper: str = ""
    input_size: int | None = None
    decoding: str | None = None
    temperature: float | None = None
    notes: str = ""
    filename: str | None = None
    parts: tuple[str, ...] = ()

    @property
    def bundled(self) -> bool:
        """True when the weights ship inside the package (first source is ``bundled``)."""
        return bool(self.sources) and self.sources[0].kind == "bundled"


def manifest_path() -> Path | None:
    """``$AUTOCOLOR_WEIGHTS_TOML`` if set, else the packaged file (``None`` if not a real path)."""
    override = os.environ.get(ENV_MANIFEST)
    if override:
        return Path(override).expanduser()
    packaged = resources.files("autocolor").joinpath("weights.toml")
    return Path(str(packaged)) if isinstance(packaged, Path) else None


# (path, mtime_ns, size) -> parsed manifest; re-parsed when the file changes (tests, editing).
_CACHE: dict[tuple[str, int, int], dict[str, WeightSpec]] = {}


def manifest(path: str | Path | None = None) -> dict[str, WeightSpec]:
    """Parsed and validated manifest, keyed by model name (cached until the file changes).

    Args:
        path: a TOML file to read instead of :func:`manifest_path`.

    Raises:
        WeightsError: the file is missing, is not TOML, or fails validation.
    """
    target = Path(path) if path is not None else manifest_path()
    if target is None:  # package installed as a zip: no stat, read the resource once
        text = resources.files("autocolor").joinpath("weights.toml").read_text("utf-8")
        key = ("<package>", 0, len(text))
        if key not in _CACHE:
            _CACHE[key] = parse_manifest(text, origin="autocolor/weights.toml")
        return _CACHE[key]
    try:
        st = target.stat()
    except OSError as exc:
        raise WeightsError(f"{target}: cannot read weights manifest ({exc.strerror})") from None
    key = (str(target), st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        _CACHE[key] = parse_manifest(target.read_text(encoding="utf-8"), origin=str(target))
    return _CACHE[key]


def spec(name: str) -> WeightSpec:
    """The manifest entry for ``name``; :class:`UnknownModelError` lists the known names."""
    specs = manifest()
    try:
        return specs[canonical_model_name(name)]
    except KeyError:
        known = ", ".join(sorted(specs)) or "none"
        raise UnknownModelError(
            f"no pretrained weights known for {name!r}; known: {known}"
        ) from None


def parse_manifest(text: str, origin: str = "weights.toml") -> dict[str, WeightSpec]:
    """Parse and validate TOML text; ``origin`` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WeightsError(f"{origin}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"models"})
    if unknown:
        raise WeightsError(f"{origin}: unknown top-level key(s) {unknown}; expected [models.\"<name>\"]")
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise WeightsError(f"{origin}: 'models' must be a table of tables")
    specs = {name: _parse_model(name, table, origin) for name, table in models.items()}
    for s in specs.values():
        for part in s.parts:
            if part not in specs or specs[part].parts:
                raise WeightsError(f'{origin}: [models."{s.name}"]: part {part!r} must name another non-bundle entry')
    return specs


def _parse_model(name: str, table: Any, origin: str) -> WeightSpec:
    where = f'{origin}: [models."{name}"]'
    if not _NAME_RE.match(name):
        raise WeightsError(f"{where}: invalid model name (use lowercase letters, digits, '.', '_', '-')")
    if not isinstance(table, dict):
        raise WeightsError(f"{where}: must be a table")
    unknown = sorted(set(table) - _MODEL_KEYS)
    if unknown:
        raise WeightsError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_MODEL_KEYS)}")
    if "parts" in table:
        return _parse_bundle(name, table, where)
    for key in _REQUIRED_KEYS:
        if key not in table:
            raise WeightsError(f"{where}: missing required key '{key}'")

    arch = _typed(table, "arch", str, where)
    fmt = _typed(table, "format", str, where)
    if fmt not in KNOWN_FORMATS:
        raise WeightsError(f"{where}: unknown format {fmt!r}; known: {sorted(KNOWN_FORMATS)}")
    sources = _parse_sources(table["sources"], where)

    sha256 = table.get("sha256")
    unpublished = sha256 == UNPUBLISHED
    if unpublished:
        sha256 = None
    if sha256 is not None:
        if not isinstance(sha256, str) or not _SHA256_RE.match(sha256.lower()):
            raise WeightsError(f"{where}: sha256 must be 64 hexadecimal digits, got {sha256!r}")
        sha256 = sha256.lower()
    size = table.get("bytes")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise WeightsError(f"{where}: bytes must be a positive integer, got {size!r}")
    if sha256 is None and size is None and not unpublished:
        raise WeightsError(f"{where}: pin the file with sha256, or at least bytes where no hash is published")
    if sha256 is None and any(s.kind == "bundled" for s in sources):
        raise WeightsError(f"{where}: bundled files must carry a sha256")
    if any(s.kind == "bundled" for s in sources) and fmt != "safetensors":
        raise WeightsError(f"{where}: bundled files must be in safetensors format")

    input_size = table.get("input_size")
    if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int) or input_size <= 0):
        raise WeightsError(f"{where}: input_size must be a positive integer, got {input_size!r}")
    temperature = table.get("temperature")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature <= 0:
            raise WeightsError(f"{where}: temperature must be a positive number, got {temperature!r}")
        temperature = float(temperature)

    return WeightSpec(
        name=name,
        arch=arch,
        sources=sources,
        sha256=sha256,
        bytes=size,
        format=fmt,
        licence=_typed(table, "licence", str, where),
        paper=_typed(table, "paper", str, where, default=""),
        input_size=input_size,
        decoding=_typed(table, "decoding", str, where, default=None),
        temperature=temperature,
        notes=_typed(table, "notes", str, where, default=""),
        filename=_plain_filename(table, where),
    )


def _plain_filename(table: dict[str, Any], where: str) -> str | None:
    filename = _typed(table, "filename", str, where, default=None)
    if filename is not None and ("/" in filename or "\\" in filename or filename.startswith(".")):
        raise WeightsError(f"{where}: filename must be a plain file name, got {filename!r}")
    return filename


def _parse_bundle(name: str, table: dict[str, Any], where: str) -> WeightSpec:
    for key in _BUNDLE_REQUIRED_KEYS:
        if key not in table:
            raise WeightsError(f"{where}: missing required key '{key}'")
    present = [k for k in _BUNDLE_FORBIDDEN_KEYS if k in table]
    if present:
        raise WeightsError(f"{where}: a bundle (with 'parts') has no file of its own; remove {present}")
    parts = table["parts"]
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) and p for p in parts):
        raise WeightsError(f"{where}: 'parts' must be a non-empty list of model names")
    if len(set(parts)) != len(parts) or name in parts:
        raise WeightsError(f"{where}: 'parts' must list distinct other entries")
    input_size = table.get("input_size")
    if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int) or input_size <= 0):
        raise WeightsError(f"{where}: input_size must be a positive integer, got {input_size!r}")
    return WeightSpec(
        name=name,
        arch=_typed(table, "arch", str, where),
        sources=(),
        sha256=None,
        bytes=None,
        format="bundle",
        licence=_typed(table, "licence", str, where),
        paper=_typed(table, "paper", str, where, default=""),
        input_size=input_size,
        decoding=_typed(table, "decoding", str, where, default=None),
        notes=_typed(table, "notes", str, where, default=""),
        parts=tuple(parts),
    )


_MISSING = object()


def _typed(table: dict[str, Any], key: str, kind: type, where: str, default: Any = _MISSING) -> Any:
    value = table.get(key, default)
    if value is _MISSING or (value is not default and not isinstance(value, kind)):
        raise WeightsError(f"{where}: '{key}' must be a {kind.__name__}, got {value!r}")
    if kind is str and value is not default and not value.strip():
        raise WeightsError(f"{where}: '{key}' must not be empty")
    return value


_SOURCE_KEYS = {
    "url": ({"url"}, set()),
    "hf": ({"hf_repo", "hf_file"}, {"revision"}),
    "bundled": ({"bundled"}, set()),
    "manual": ({"manual"}, set()),
}


def _parse_sources(raw: Any, where: str) -> tuple[Source, ...]:
    if not isinstance(raw, list) or not raw:
        raise WeightsError(f"{where}: 'sources' must be a non-empty list of tables")
    out = []
    for i, item in enumerate(raw):
        at = f"{where}: sources[{i}]"
        if not isinstance(item, dict):
            raise WeightsError(f"{at}: must be a table like {{url = \"https://...\"}}")
        kind = "url" if "url" in item else "hf" if "hf_repo" in item or "hf_file" in item else (
            "bundled" if "bundled" in item else "manual" if "manual" in item else None
        )
        if kind is None:
            raise WeightsError(f"{at}: needs one of url, hf_repo + hf_file, bundled, manual; got keys {sorted(item)}")
        required, optional = _SOURCE_KEYS[kind]
        keys = set(item)
        if keys - required - optional or required - keys:
            raise WeightsError(
                f"{at}: a {kind} source takes {sorted(required)}"
                + (f" (optional {sorted(optional)})" if optional else "")
                + f", got {sorted(keys)}"
            )
        for key, value in item.items():
            if not isinstance(value, str) or not value.strip():
                raise WeightsError(f"{at}: '{key}' must be a non-empty string")
        if kind in ("url", "manual"):
            parts = urlsplit(item[kind])
            ok = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
            if not ok or not parts.hostname:
                raise WeightsError(f"{at}: {kind} must be https:// (plain http only for localhost), got {item[kind]!r}")
        if kind == "hf" and not _HF_REPO_RE.match(item["hf_repo"]):
            raise WeightsError(f"{at}: hf_repo must look like 'org/name', got {item['hf_repo']!r}")
        if kind == "bundled" and ("/" in item["bundled"] or "\\" in item["bundled"] or item["bundled"].startswith(".")):
            raise WeightsError(f"{at}: bundled must be a plain file name in autocolor/bundled/")
        out.append(Source(kind=kind, **item))
    return tuple(out)
