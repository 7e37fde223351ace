"""Fetch, import, verify and load pinned weights: the orchestration over manifest, download,
cache and convert.

The life of a file: an original (``.pth`` from a URL or the Hub, or one the user already has)
is checked against the pin in weights.toml (size, then sha256) *before* anything reads it,
converted to safetensors, and written atomically into the cache with a JSON sidecar. Loading
later reads only safetensors. Bundled files are used in place, after the same sha256 check.

A manifest *bundle* (an entry with ``parts``, e.g. GCP's five official files) is fetched,
imported (``--from DIR``: each part's ``filename`` in that folder), verified and loaded part by
part; its state_dict is the union of its parts' (the converters give them disjoint prefixes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from autocolor import __version__
from autocolor.errors import AutocolorError, ChecksumMismatchError, WeightsError
from autocolor.weights import cache
from autocolor.weights.convert import convert_to_safetensors, read_state_dict_file
from autocolor.weights.download import DownloadError, download_url, hf_download
from autocolor.weights.manifest import Source, WeightSpec, spec
from autocolor.weights.manifest import manifest as manifest_specs

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["VerifyResult", "bundled_path", "cached_weights", "fetch", "import_file", "load_state_dict", "verify"]

log = logging.getLogger("autocolor.weights")


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of re-hashing one model's weights.

    ``ok`` is False for a corrupted file *and* for weights that are not there; ``path`` is
    ``None`` in the latter case. ``expected``/``actual`` are sha256 hex strings when hashed.
    """

    name: str
    ok: bool
    path: Path | None
    expected: str | None
    actual: str | None
    message: str


def bundled_path(filename: str) -> Path:
    """Location of a file shipped in ``autocolor/bundled/`` (package data)."""
    return Path(str(resources.files("autocolor").joinpath("bundled", filename)))


def cached_weights(name: str) -> Path | None:
    """The cached safetensors of ``name`` if its sidecar says it came from the pinned file.

    Cheap (no hashing): checks the sidecar names the same model and original hash as the
    manifest (so a changed pin invalidates the cache) and the file size. ``verify`` re-hashes.
    """
    s = spec(name)
    if s.parts:  # a bundle is cached when every part is; its "path" is the cache folder
        return cache.cache_dir() if all(cached_weights(p) is not None for p in s.parts) else None
    path, meta = cache.cached_path(name), cache.read_json(cache.sidecar_path(name))
    if meta is None or not path.is_file() or meta.get("name") != name:
        return None
    pinned = s.sha256 or cache.recorded_sha256(name)
    if pinned is not None and meta.get("source_sha256") != pinned:
        return None
    if meta.get("bytes") != path.stat().st_size:
        return None
    return path


def fetch(name: str, *, offline: bool = False, progress: bool = True, force: bool = False) -> Path:
    """Verified safetensors weights of ``name``: cached, bundled, or fetched now.

    Sources are tried in manifest order as mirrors. A file whose size or sha256 differs
    from the pin is deleted and the next source is tried; if every source fails and one of
    them served wrong bytes, :class:`ChecksumMismatchError` is raised.

    Args:
        offline: never touch the network. (``$HF_HUB_OFFLINE`` makes only the Hub sources
            offline, as it does for huggingface_hub itself.)
        progress: show a download progress bar on stderr.
        force: ignore the cached copy (and bundled-hash memo) and fetch/verify again.

    For a bundle every part is fetched and the cache folder is returned.

    Raises:
        UnknownModelError, ChecksumMismatchError, WeightsError (offline miss: names the command).
    """
    s = spec(name)
    if s.parts:
        for part in s.parts:
            fetch(part, offline=offline, progress=progress, force=force)
        return cache.cache_dir()
    if not force and (hit := cached_weights(name)) is not None:
        return hit
    if s.bundled and not force:
        try:  # the common start-up path: no lock file, no cache directory needed
            return _verified_bundled(s, s.sources[0], force=False)
        except DownloadError:
            pass  # missing from this installation: fall through to the other sources
    with cache.model_lock(name):
        # Another process may have fetched it while we waited for the lock.
        if not force and (hit := cached_weights(name)) is not None:
            return hit
        return _fetch_sources(s, offline=offline, progress=progress, force=force)


def _fetch_sources(s: WeightSpec, *, offline: bool, progress: bool, force: bool) -> Path:
    name = s.name
    failures: list[str] = []
    mismatches: list[ChecksumMismatchError] = []
    for source in s.sources:
        if source.kind == "manual":
            failures.append(_manual_hint(s, source))
            continue
        try:
            if source.kind == "bundled":
                return _verified_bundled(s, source, force=force)
            if source.kind == "url":
                if offline:
                    failures.append(f"{source.url}: skipped (offline)")
                    continue
                return _fetch_url(s, source, progress)
            original = hf_download(source, offline=offline)
            return _store(s, original, origin=source.describe())
        except ChecksumMismatchError as exc:
            mismatches.append(exc)
        except DownloadError as exc:
            failures.append(str(exc))
    if mismatches:
        more = f" ({len(mismatches) - 1} more source(s) also mismatched)" if len(mismatches) > 1 else ""
        raise ChecksumMismatchError(f"{mismatches[0]}{more}")
    if offline:
        raise WeightsError(
            f"{name}: weights are not cached in {cache.cache_dir()} and offline mode forbids downloading; "
            f"run `autocolor fetch-weights {name}` while online, "
            f"or `autocolor fetch-weights {name} --from FILE` with a copy you have"
        )
    raise WeightsError(f"{name}: no source could be fetched: " + "; ".join(failures))


def load_state_dict(name: str, *, offline: bool = False) -> dict[str, torch.Tensor]:
    """CPU state_dict of the pinned weights of ``name`` (fetching them first if needed).

    A bundle's state_dict is the union of its parts'; a key found in two parts is an error.
    """
    s = spec(name)
    if not s.parts:
        return read_state_dict_file(_checked_at_load(name, fetch(name, offline=offline)))
    merged: dict[str, torch.Tensor] = {}
    for part in s.parts:
        state = read_state_dict_file(_checked_at_load(part, fetch(part, offline=offline)))
        clash = next((k for k in state if k in merged), None)
        if clash is not None:
            raise WeightsError(f"{name}: parts overlap (key {clash!r} appears twice; last part {part})")
        merged.update(state)
    return merged


def repair_command(name: str) -> str:
    """The command that replaces damaged cached weights of ``name`` with verified ones."""
    s = spec(name)
    bundle = next((b for b in manifest_specs().values() if name in b.parts), None)
    if any(src.kind != "manual" for src in s.sources):
        return f"autocolor fetch-weights {bundle.name if bundle else name} --force"
    if bundle is not None:
        return f"autocolor fetch-weights {bundle.name} --from DIR"
    return f"autocolor fetch-weights {name} --from FILE"


def _checked_at_load(name: str, path: Path) -> Path:
    """``path`` once its sha256 matches the one recorded when it was cached.

    Cached files are re-hashed at every load (cheap next to reading them: the pages are then
    in memory for the load), so a bit flipped on disk since the download is caught here, not
    turned into wrong colours. Bundled files are checked by :func:`fetch` itself.
    """
    if path != cache.cached_path(name):
        return path
    expected = (cache.read_json(cache.sidecar_path(name)) or {}).get("sha256")
    actual = cache.file_sha256(path)
    if actual != expected:
        raise ChecksumMismatchError(
            f"{path}: the cached weights of {name} are corrupted (sha256 {actual}, recorded {expected}); "
            f"run `{repair_command(name)}` to replace them"
        )
    return path


def _manual_hint(s: WeightSpec, source: Source) -> str:
    bundle = next((b for b in manifest_specs().values() if s.name in b.parts), None)
    what = s.filename or "the file"
    how = (
        f"`autocolor fetch-weights {bundle.name} --from DIR` with the folder holding all its files"
        if bundle is not None
        else f"`autocolor fetch-weights {s.name} --from FILE`"
    )
    return f"{s.name}: no direct download; get {what} by hand from {source.manual}, then run {how}"


def import_file(name: str, path: Path) -> Path:
    """Verify a file the user already has against the pin of ``name``, convert and cache it.

    ``path`` may be a folder holding the entry's official ``filename``. For a bundle it must be
    a folder: every part found there is imported, then missing or refused parts are reported.

    Returns the cached safetensors path (the cache folder for a bundle). Raises
    :class:`ChecksumMismatchError` (nothing is cached) when the size or sha256 differs,
    :class:`WeightsError` when ``path`` is missing.
    """
    s = spec(name)
    path = Path(path).expanduser()
    if s.parts:
        return _import_bundle(s, path)
    if path.is_dir() and s.filename:
        path = path / s.filename
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    with cache.model_lock(name):
        return _store(s, path, origin=str(path.resolve()))


def _import_bundle(s: WeightSpec, folder: Path) -> Path:
    if not folder.is_dir():
        raise WeightsError(f"{folder}: {s.name} has several files ({', '.join(_part_files(s))}); give the folder holding them")
    problems: list[AutocolorError] = []
    for part in s.parts:
        try:
            import_file(part, folder)
        except AutocolorError as exc:
            problems.append(exc)
    if problems:
        message = f"{s.name}: {len(s.parts) - len(problems)} of {len(s.parts)} files imported; " + "; ".join(
            str(p) for p in problems
        )
        if any(isinstance(p, ChecksumMismatchError) for p in problems):
            raise ChecksumMismatchError(message)
        raise WeightsError(message)
    return cache.cache_dir()


def _part_files(s: WeightSpec) -> list[str]:
    return [spec(p).filename or p for p in s.parts]


def verify(name: str) -> VerifyResult:
    """Re-hash the weights ``fetch`` would use for ``name`` (cached file, else bundled file)."""
    s = spec(name)
    if s.parts:
        results = [verify(p) for p in s.parts]
        ok = all(r.ok for r in results)
        message = "; ".join(r.message for r in results if not r.ok) or f"{name}: all {len(results)} parts ok"
        return VerifyResult(name, ok, cache.cache_dir() if ok else None, None, None, message)
    path, meta = cache.cached_path(name), cache.read_json(cache.sidecar_path(name))
    if path.is_file():
        expected = meta.get("sha256") if meta else None
        if meta is None or expected is None:
            return VerifyResult(name, False, path, None, None, f"{path}: no sidecar record to verify against")
        pinned = s.sha256 or cache.recorded_sha256(name)
        if pinned is not None and meta.get("source_sha256") != pinned:
            return VerifyResult(
                name, False, path, pinned, meta.get("source_sha256"),
                f"{path}: converted from a file other than the one weights.toml pins "
                f"(run `autocolor fetch-weights {name} --force`)",
            )  # fmt: skip
        actual = cache.file_sha256(path)
        if actual != expected:
            return VerifyResult(
                name, False, path, expected, actual,
                f"{path}: sha256 mismatch: expected {expected}, got {actual} (cached file is corrupted; "
                f"run `autocolor fetch-weights {name} --force`)",
            )  # fmt: skip
        return VerifyResult(name, True, path, expected, actual, f"{path}: ok")
    bundled = next((src for src in s.sources if src.kind == "bundled"), None)
    if bundled is not None and s.sha256 is not None:
        bpath = bundled_path(str(bundled.bundled))
        if not bpath.is_file():
            return VerifyResult(name, False, None, s.sha256, None, f"{bpath}: bundled file is missing")
        actual = cache.file_sha256(bpath)
        if actual != s.sha256:
            return VerifyResult(
                name, False, bpath, s.sha256, actual,
                f"{bpath}: sha256 mismatch: expected {s.sha256}, got {actual} (bundled file)",
            )  # fmt: skip
        cache.remember_bundled_hash(bpath, actual)
        return VerifyResult(name, True, bpath, s.sha256, actual, f"{bpath}: ok (bundled)")
    return VerifyResult(
        name, False, None, s.sha256, None, f"{name}: not cached; run `autocolor fetch-weights {name}`"
    )


# -- internals ----------------------------------------------------------------------------


def _verified_bundled(s: WeightSpec, source: Source, *, force: bool) -> Path:
    path = bundled_path(str(source.bundled))
    if not path.is_file():
        raise DownloadError(f"{path}: bundled file is missing from the installation")
    assert s.sha256 is not None  # the manifest requires a hash for bundled files
    if not force and cache.bundled_hash_known(path, s.sha256):
        return path
    _check_pin(s, path, origin=f"bundled file {path}")
    cache.remember_bundled_hash(path, s.sha256)
    return path


def _fetch_url(s: WeightSpec, source: Source, progress: bool) -> Path:
    part = cache.download_path(s.name)
    url = str(source.url)
    # A DownloadError (network) keeps the part for resuming; wrong bytes are deleted.
    download_url(url, part, expected_bytes=s.bytes, progress=progress, label=s.name)
    try:
        return _store(s, part, origin=url)
    finally:
        # Verified and converted, or refused: either way the original is no longer needed.
        part.unlink(missing_ok=True)


def _check_pin(s: WeightSpec, path: Path, origin: str) -> str:
    """Size then sha256 of ``path`` against the pin (or the hash recorded on first use).

    Returns the sha256. The message names model, expected and actual values, and origin.
    """
    size = path.stat().st_size
    if s.bytes is not None and size != s.bytes:
        raise ChecksumMismatchError(
            f"{s.name}: size mismatch: expected {s.bytes:,} bytes, got {size:,} (from {origin})"
        )
    actual = cache.file_sha256(path)
    expected = s.sha256 or cache.recorded_sha256(s.name)
    if expected is not None and actual != expected:
        what = "sha256 mismatch" if s.sha256 else "sha256 mismatch with the hash recorded on first use"
        raise ChecksumMismatchError(f"{s.name}: {what}: expected {expected}, got {actual} (from {origin})")
    return actual


def _store(s: WeightSpec, original: Path, origin: str) -> Path:
    """Verify ``original``, convert it to the cache and write the sidecar; return the cache path."""
    source_sha = _check_pin(s, original, origin)
    target, sidecar = cache.cached_path(s.name), cache.sidecar_path(s.name)
    # Drop the old record first: a file without a sidecar is a cache miss, never a false hit.
    sidecar.unlink(missing_ok=True)
    convert_to_safetensors(
        original, s, target, metadata={"autocolor_model": s.name, "source_sha256": source_sha}
    )
    if s.sha256 is None and cache.recorded_sha256(s.name) is None:
        cache.record_sha256(s.name, source_sha, original.stat().st_size, origin)
        checked = "only the size was checked" if s.bytes is not None else "neither size nor hash could be checked"
        log.warning(
            "%s: the authors published no sha256; recorded %s from %s on first use "
            "(%s this time; this hash is enforced from now on)",
            s.name, source_sha, origin, checked,
        )  # fmt: skip
    cache.write_json(
        sidecar,
        {
            "name": s.name,
            "origin": origin,
            "format": s.format,
            "source_sha256": source_sha,
            "source_bytes": original.stat().st_size,
            "sha256": cache.file_sha256(target),
            "bytes": target.stat().st_size,
            "created": cache.utc_now(),
            "autocolor_version": __version__,
        },
    )
    return target
