"""fetch / import_file / verify / load_state_dict end to end, against loopback and local caches."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from weights_testutil import LoopbackServer, TinyCheckpoint, model_toml, url_source

from autocolor import weights
from autocolor.errors import ChecksumMismatchError, UnknownModelError, WeightsError
from autocolor.weights import cache, store

Manifest = Callable[[str], Path]


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _cache_files() -> list[str]:
    """Files in the cache, except the empty per-model lock files (kept on purpose: flock)."""
    root = weights.cache_dir()
    files = root.rglob("*") if root.exists() else []
    return sorted(str(p.relative_to(root)) for p in files if p.is_file() and p.suffix != ".lock")


def test_fetch_verifies_converts_and_caches(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    url = http_server.add("/tiny.pth", tiny_pth.data)
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    path = weights.fetch("toy.net", progress=False)
    assert path == weights.cache_dir() / "toy.net.safetensors"
    assert _equal(load_file(str(path)), tiny_pth.state)
    sidecar = json.loads((weights.cache_dir() / "toy.net.safetensors.json").read_text())
    assert sidecar["source_sha256"] == tiny_pth.sha256
    assert sidecar["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sidecar["origin"] == url and sidecar["created"].endswith("+00:00")
    assert _cache_files() == ["toy.net.safetensors", "toy.net.safetensors.json"]  # .part removed
    # Second call: a cache hit, no request; load_state_dict returns the same tensors.
    assert weights.fetch("toy.net", progress=False) == path
    assert _equal(weights.load_state_dict("toy.net"), tiny_pth.state)
    assert len(http_server.log) == 1


def test_wrong_checksum_is_refused_and_nothing_is_cached(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, other_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    url = http_server.add("/tiny.pth", other_pth.data)  # same size, different bytes
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    with pytest.raises(ChecksumMismatchError) as info:
        weights.fetch("toy.net", progress=False)
    assert str(info.value) == (
        f"toy.net: sha256 mismatch: expected {tiny_pth.sha256}, got {other_pth.sha256} (from {url})"
    )
    assert _cache_files() == []


def test_wrong_size_is_refused_before_hashing(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    url = http_server.add("/tiny.pth", tiny_pth.data + b"extra")
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    with pytest.raises(ChecksumMismatchError, match=rf"^toy.net: size mismatch: expected {tiny_pth.size:,} bytes"):
        weights.fetch("toy.net", progress=False)
    assert _cache_files() == []


def test_mirrors_are_tried_in_order(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, other_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    denied = http_server.add("/denied.pth", tiny_pth.data, mode="forbidden")
    wrong = http_server.add("/wrong.pth", other_pth.data)
    good = http_server.add("/good.pth", tiny_pth.data)
    sources = [url_source(u) for u in (denied, wrong, good)]
    use_manifest(model_toml("toy.net", sources, sha256=tiny_pth.sha256, size=tiny_pth.size))
    path = weights.fetch("toy.net", progress=False)
    assert _equal(load_file(str(path)), tiny_pth.state)
    assert [p for p, _ in http_server.log] == ["/denied.pth", "/wrong.pth", "/good.pth"]
    assert json.loads(cache.sidecar_path("toy.net").read_text())["origin"] == good


def test_all_sources_failing_names_each(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    a = http_server.add("/a.pth", b"", mode="forbidden")
    b = http_server.base_url + "/missing.pth"
    use_manifest(model_toml("toy.net", [url_source(a), url_source(b)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    with pytest.raises(WeightsError, match=r"toy.net: no source could be fetched: .*a\.pth: HTTP 403.*missing\.pth: HTTP 404"):
        weights.fetch("toy.net", progress=False)


def test_interrupted_download_resumes_on_the_next_fetch(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    url = http_server.add("/tiny.pth", tiny_pth.data)
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    part = cache.download_path("toy.net")
    part.parent.mkdir(parents=True)
    part.write_bytes(tiny_pth.data[:300])  # what an earlier, interrupted run left
    path = weights.fetch("toy.net", progress=False)
    assert _equal(load_file(str(path)), tiny_pth.state)
    assert http_server.requests_for("/tiny.pth") == ["bytes=300-"]
    assert not part.exists()


def test_dropped_connection_during_fetch(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    url = http_server.add("/tiny.pth", tiny_pth.data, mode="drop_once")
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    assert _equal(load_file(str(weights.fetch("toy.net", progress=False))), tiny_pth.state)
    assert http_server.requests_for("/tiny.pth") == [None, f"bytes={tiny_pth.size // 2}-"]


def test_offline_without_cache_says_which_command_to_run(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    url = http_server.add("/tiny.pth", tiny_pth.data)
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    with pytest.raises(WeightsError, match="run `autocolor fetch-weights toy.net`"):
        weights.fetch("toy.net", offline=True, progress=False)
    assert http_server.log == []
    weights.fetch("toy.net", progress=False)
    assert weights.fetch("toy.net", offline=True) == cache.cached_path("toy.net")
    assert _equal(weights.load_state_dict("toy.net", offline=True), tiny_pth.state)


def test_force_fetches_again_and_a_new_pin_invalidates_the_cache(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, other_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    url = http_server.add("/tiny.pth", tiny_pth.data)
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    weights.fetch("toy.net", progress=False)
    weights.fetch("toy.net", progress=False, force=True)
    assert len(http_server.log) == 2
    # The manifest now pins other bytes: the cached file no longer counts.
    http_server.routes["/tiny.pth"].data = other_pth.data
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=other_pth.sha256, size=other_pth.size))
    assert weights.cached_weights("toy.net") is None
    assert _equal(load_file(str(weights.fetch("toy.net", progress=False))), other_pth.state)


def _hub_cache(root: Path, repo: str, filename: str, data: bytes, revision: str = "c" * 40) -> Path:
    """A Hugging Face cache in the hub layout: models--org--name/{refs/main, snapshots/<rev>/file}."""
    repo_dir = root / ("models--" + repo.replace("/", "--"))
    (repo_dir / "snapshots" / revision).mkdir(parents=True)
    (repo_dir / "snapshots" / revision / filename).write_bytes(data)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(revision)
    return root


def test_hf_source_from_an_offline_hub_cache(
    tmp_path: Path, tiny_pth: TinyCheckpoint, use_manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = _hub_cache(tmp_path / "hub", "org/colorizers", "eccv16.pth", tiny_pth.data)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src = '{hf_repo = "org/colorizers", hf_file = "eccv16.pth"}'
    use_manifest(model_toml("toy.net", [src], sha256=tiny_pth.sha256, size=tiny_pth.size))
    path = weights.fetch("toy.net", progress=False)
    assert _equal(load_file(str(path)), tiny_pth.state)
    assert json.loads(cache.sidecar_path("toy.net").read_text())["origin"] == "hf://org/colorizers/eccv16.pth"


def test_hf_source_with_wrong_bytes_or_missing_file(
    tmp_path: Path, tiny_pth: TinyCheckpoint, other_pth: TinyCheckpoint, use_manifest: Manifest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    hub = _hub_cache(tmp_path / "hub", "org/colorizers", "eccv16.pth", other_pth.data)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src = '{hf_repo = "org/colorizers", hf_file = "eccv16.pth"}'
    use_manifest(model_toml("toy.net", [src], sha256=tiny_pth.sha256, size=tiny_pth.size))
    with pytest.raises(ChecksumMismatchError, match=r"sha256 mismatch: .* \(from hf://org/colorizers/eccv16.pth\)"):
        weights.fetch("toy.net", progress=False)
    assert weights.cached_weights("toy.net") is None and not cache.cached_path("toy.net").exists()
    missing = '{hf_repo = "org/colorizers", hf_file = "absent.pth"}'
    use_manifest(model_toml("toy.net", [missing], sha256=tiny_pth.sha256, size=tiny_pth.size))
    with pytest.raises(WeightsError, match="absent.pth: not in the local Hugging Face cache"):
        weights.fetch("toy.net", progress=False)
    with pytest.raises(WeightsError, match="offline mode forbids downloading"):
        weights.fetch("toy.net", offline=True, progress=False)


def test_import_file(tiny_pth: TinyCheckpoint, other_pth: TinyCheckpoint, use_manifest: Manifest) -> None:
    use_manifest(model_toml("toy.net", ['{url = "https://example.invalid/x.pth"}'], sha256=tiny_pth.sha256, size=tiny_pth.size))
    with pytest.raises(ChecksumMismatchError, match=f"got {other_pth.sha256} \\(from {other_pth.path}\\)"):
        weights.import_file("toy.net", other_pth.path)
    assert _cache_files() == []
    with pytest.raises(WeightsError, match="no such file"):
        weights.import_file("toy.net", tiny_pth.path.with_name("absent.pth"))
    path = weights.import_file("toy.net", tiny_pth.path)
    assert _equal(load_file(str(path)), tiny_pth.state)
    assert weights.fetch("toy.net", offline=True) == path  # usable without network now
    with pytest.raises(UnknownModelError):
        weights.import_file("toy.other", tiny_pth.path)


def test_verify_detects_a_corrupted_cache_file(tiny_pth: TinyCheckpoint, use_manifest: Manifest) -> None:
    use_manifest(model_toml("toy.net", ['{url = "https://example.invalid/x.pth"}'], sha256=tiny_pth.sha256, size=tiny_pth.size))
    missing = weights.verify("toy.net")
    assert not missing.ok and missing.path is None and "not cached" in missing.message
    path = weights.import_file("toy.net", tiny_pth.path)
    good = weights.verify("toy.net")
    assert good.ok and good.actual == good.expected == hashlib.sha256(path.read_bytes()).hexdigest()
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF  # same size: only the hash can tell
    path.write_bytes(bytes(blob))
    bad = weights.verify("toy.net")
    assert not bad.ok and bad.actual != bad.expected
    assert "sha256 mismatch" in bad.message and "--force" in bad.message


def test_unpublished_hash_is_recorded_on_first_use_and_enforced(
    tiny_pth: TinyCheckpoint, other_pth: TinyCheckpoint, use_manifest: Manifest, caplog: pytest.LogCaptureFixture
) -> None:
    use_manifest(model_toml("toy.net", ['{url = "https://example.invalid/x.pth"}'], sha256=None, size=tiny_pth.size))
    with pytest.raises(ChecksumMismatchError, match="size mismatch"):
        weights.import_file("toy.net", _truncated(other_pth, tiny_pth.size - 1))
    with caplog.at_level(logging.WARNING, logger="autocolor.weights"):
        weights.import_file("toy.net", tiny_pth.path)
    assert "no sha256" in caplog.text and tiny_pth.sha256 in caplog.text
    assert cache.recorded_sha256("toy.net") == tiny_pth.sha256
    with pytest.raises(ChecksumMismatchError, match="recorded on first use"):
        weights.import_file("toy.net", other_pth.path)
    # The original import is still the cached one.
    assert _equal(weights.load_state_dict("toy.net", offline=True), tiny_pth.state)


def _truncated(ckpt: TinyCheckpoint, size: int) -> Path:
    path = ckpt.path.with_name("short.pth")
    path.write_bytes(ckpt.data[:size])
    return path


def test_bundled_file_is_verified_once_per_change(
    tmp_path: Path, tiny_pth: TinyCheckpoint, use_manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled_dir = tmp_path / "bundled"
    bundled_dir.mkdir()
    monkeypatch.setattr(store, "bundled_path", lambda name: bundled_dir / name)
    target = bundled_dir / "toy.safetensors"
    save_file(tiny_pth.state, str(target))
    sha = hashlib.sha256(target.read_bytes()).hexdigest()
    toml = model_toml("toy.lite", ['{bundled = "toy.safetensors"}'], sha256=sha, size=None, fmt="safetensors")
    use_manifest(toml)
    assert weights.fetch("toy.lite") == target
    assert weights.verify("toy.lite").ok
    # Remembered by size + mtime: no re-hash while the file is unchanged.
    with monkeypatch.context() as patched:
        patched.setattr(cache, "file_sha256", lambda *a, **k: pytest.fail("re-hashed"))
        assert weights.fetch("toy.lite") == target
    save_file({k: v + 1 if v.is_floating_point() else v for k, v in tiny_pth.state.items()}, str(target))
    with pytest.raises(ChecksumMismatchError, match="from bundled file"):
        weights.fetch("toy.lite")
    assert not weights.verify("toy.lite").ok


def test_concurrent_fetches_download_once(
    http_server: LoopbackServer, tiny_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    url = http_server.add("/tiny.pth", tiny_pth.data, mode="slow")
    use_manifest(model_toml("toy.net", [url_source(url)], sha256=tiny_pth.sha256, size=tiny_pth.size))
    results: list[Path | BaseException] = []

    def worker() -> None:
        try:
            results.append(weights.fetch("toy.net", progress=False))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [cache.cached_path("toy.net")] * 3
    assert len(http_server.log) == 1  # the others waited on the lock and found the cache


def test_verify_flags_a_cache_converted_from_another_pin(
    tiny_pth: TinyCheckpoint, other_pth: TinyCheckpoint, use_manifest: Manifest
) -> None:
    src = '{url = "https://example.invalid/x.pth"}'
    use_manifest(model_toml("toy.net", [src], sha256=tiny_pth.sha256, size=tiny_pth.size))
    weights.import_file("toy.net", tiny_pth.path)
    path = use_manifest(model_toml("toy.net", [src], sha256=other_pth.sha256, size=other_pth.size))
    path.touch()
    result = weights.verify("toy.net")
    assert not result.ok and "other than the one weights.toml pins" in result.message


def test_create_model_pretrained_loads_the_verified_weights(tmp_path: Path, use_manifest: Manifest) -> None:
    from autocolor.models.registry import create_model

    reference = create_model("cic.tiny")
    torch.save(reference.state_dict(), tmp_path / "cic_tiny.pth")
    ckpt = (tmp_path / "cic_tiny.pth").read_bytes()
    src = '{url = "https://example.invalid/cic_tiny.pth"}'
    use_manifest(model_toml("cic.tiny", [src], sha256=hashlib.sha256(ckpt).hexdigest(), size=len(ckpt)))
    with pytest.raises(WeightsError, match="offline"):
        create_model("cic.tiny", pretrained=True, offline=True)
    weights.import_file("cic.tiny", tmp_path / "cic_tiny.pth")
    loaded = create_model("cic.tiny", pretrained=True, offline=True)
    assert _equal(loaded.state_dict(), reference.state_dict())
