"""weights.toml parsing: the real file's pins, strict validation, cache location."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from autocolor import weights
from autocolor.errors import UnknownModelError, WeightsError
from autocolor.weights.manifest import parse_manifest

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
[models."toy.a"]
arch = "cic.tiny"
sources = [{url = "https://example.org/a.pth"}, {hf_repo = "org/repo", hf_file = "a.pth", revision = "v1"}]
sha256 = "%s"
bytes = 10
format = "pth"
licence = "MIT"
paper = "p"
input_size = 256
decoding = "annealed_mean"
temperature = 0.38
notes = "n"
""" % ("AB" * 32)


def test_real_manifest_pins_the_official_cic_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOCOLOR_WEIGHTS_TOML", raising=False)
    specs = weights.manifest()
    eccv, sig = specs["cic.eccv16"], specs["cic.siggraph17"]
    assert eccv.sources[0].url == (
        "https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth"
    )
    assert eccv.bytes == 128_976_165
    assert eccv.sha256 == "9b330a0bae53f4ded77b1e23defbf78beaa09c10ebc4c4999e8e4f4a160b93f9"
    assert (eccv.arch, eccv.format, eccv.licence) == ("cic.eccv16", "pth", "BSD-2-Clause")
    assert (eccv.input_size, eccv.decoding, eccv.temperature) == (256, "annealed_mean", 0.38)
    assert sig.sources[0].url == "https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth"
    assert sig.bytes == 136_787_426
    assert sig.sha256 == "df00044c0a4d7c3edcecf6f75437ce346a66e7a42612d9b968e1a7e17dbc6f66"
    assert (sig.arch, sig.decoding, sig.licence) == ("cic.siggraph17", "ab", "BSD-2-Clause")
    # The hash prefix in the official file names is the start of their sha256 (torch hub style).
    assert eccv.sha256.startswith("9b330a0b") and sig.sha256.startswith("df00044c")
    for s in specs.values():
        assert all(src.kind in {"url", "hf", "bundled", "manual"} for src in s.sources)


def test_packaged_manifest_is_the_top_level_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOCOLOR_WEIGHTS_TOML", raising=False)
    packaged = weights.manifest_path()
    assert packaged is not None and packaged.name == "weights.toml"
    assert packaged.read_bytes() == (ROOT / "weights.toml").read_bytes()


def test_full_entry_round_trips() -> None:
    s = parse_manifest(GOOD)["toy.a"]
    assert s.sha256 == "ab" * 32  # normalised to lower case
    assert s.bytes == 10 and s.temperature == 0.38 and s.input_size == 256
    assert [src.kind for src in s.sources] == ["url", "hf"]
    assert s.sources[1].describe() == "hf://org/repo/a.pth@v1"
    assert not s.bundled


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('notes = "n"', 'notes = "n"\nshaa256 = "x"'), "unknown key(s) ['shaa256']"),
        (lambda t: t.replace("AB" * 32, "AB" * 31), "sha256 must be 64 hexadecimal digits"),
        (lambda t: t.replace("AB" * 32, "zz" * 32), "sha256 must be 64 hexadecimal digits"),
        (lambda t: t.replace('format = "pth"', 'format = "onnx"'), "unknown format 'onnx'"),
        (lambda t: t.replace("bytes = 10", "bytes = -3"), "bytes must be a positive integer"),
        (lambda t: t.replace("temperature = 0.38", "temperature = 0"), "temperature must be a positive"),
        (lambda t: t.replace('licence = "MIT"\n', ""), "missing required key 'licence'"),
        (lambda t: t.replace('"toy.a"', '"Toy A"'), "invalid model name"),
        (lambda t: t.replace("https://example.org", "http://example.org"), "url must be https://"),
        (lambda t: t.replace('hf_repo = "org/repo"', 'hf_repo = "repo"'), "hf_repo must look like 'org/name'"),
        (lambda t: t.replace(', revision = "v1"', ', rev = "v1"'), "a hf source takes"),
        (lambda t: t + "\n[other]\nx = 1\n", "unknown top-level key(s) ['other']"),
        (lambda t: t.replace("arch = ", "arch = = "), "not valid TOML"),
    ],
)
def test_invalid_entries_are_rejected_with_a_clear_message(edit: Callable[[str], str], message: str) -> None:
    with pytest.raises(WeightsError) as info:
        parse_manifest(edit(GOOD), origin="my.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("my.toml")


def test_missing_and_empty_sources_are_rejected() -> None:
    lines = [line for line in GOOD.splitlines() if not line.startswith("sources")]
    with pytest.raises(WeightsError, match="missing required key 'sources'"):
        parse_manifest("\n".join(lines))
    with pytest.raises(WeightsError, match="non-empty list"):
        parse_manifest("\n".join(lines + ["sources = []"]))
    with pytest.raises(WeightsError, match="needs one of url, hf_repo"):
        parse_manifest("\n".join(lines + ['sources = [{mirror = "x"}]']))


def test_unpinned_files_need_a_size_and_bundled_files_a_hash() -> None:
    no_hash = GOOD.replace(f'sha256 = "{"AB" * 32}"\n', "")
    assert parse_manifest(no_hash)["toy.a"].sha256 is None  # size only: trust on first use
    with pytest.raises(WeightsError, match="at least bytes"):
        parse_manifest(no_hash.replace("bytes = 10\n", ""))
    bundled = no_hash.replace('sources = [{url = "https://example.org/a.pth"}', 'sources = [{bundled = "a.safetensors"}')
    with pytest.raises(WeightsError, match="bundled files must carry a sha256"):
        parse_manifest(bundled)
    with pytest.raises(WeightsError, match="plain file name"):
        parse_manifest(GOOD.replace('{url = "https://example.org/a.pth"}', '{bundled = "../x.safetensors"}'))


def test_loopback_http_is_allowed_for_local_mirrors() -> None:
    text = GOOD.replace("https://example.org", "http://127.0.0.1:8000")
    assert parse_manifest(text)["toy.a"].sources[0].url == "http://127.0.0.1:8000/a.pth"


def test_spec_lookup_and_reload_after_edit(use_manifest: Callable[[str], Path]) -> None:
    path = use_manifest(GOOD)
    assert weights.spec("toy.a").bytes == 10
    with pytest.raises(UnknownModelError, match="known: toy.a"):
        weights.spec("toy.b")
    path.write_text(GOOD.replace("bytes = 10", "bytes = 12"), encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # coarse clocks
    assert weights.spec("toy.a").bytes == 12


def test_missing_manifest_file_is_a_weights_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCOLOR_WEIGHTS_TOML", str(tmp_path / "nope.toml"))
    with pytest.raises(WeightsError, match="nope.toml: cannot read weights manifest"):
        weights.manifest()


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCOLOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.cache_dir() == tmp_path / "home"
    monkeypatch.delenv("AUTOCOLOR_HOME")
    assert weights.cache_dir() == tmp_path / "xdg" / "autocolor"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert weights.cache_dir() == tmp_path / "user" / ".cache" / "autocolor"


def test_real_manifest_archs_are_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    from autocolor.models import list_models

    monkeypatch.delenv("AUTOCOLOR_WEIGHTS_TOML", raising=False)
    from autocolor.metrics.fid import FID_WEIGHTS_NAME

    # Every entry is a registered colorizer, except the metric network that eval --fid loads.
    registered = set(list_models(include_tiny=True)) | {FID_WEIGHTS_NAME}
    assert {s.arch for s in weights.manifest().values()} <= registered


def test_reading_the_manifest_does_not_import_torch() -> None:
    code = "import sys, autocolor.weights as w; w.manifest(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
