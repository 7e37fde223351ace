"""``autocolor fetch-weights``: exit codes, one-line errors, --list/--verify/--from/--offline."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from autocolor.cli.fetch_weights import fetch_weights_command

# Loopback server and tiny checkpoints are shared with tests/weights.
_WEIGHTS_TESTS = str(Path(__file__).resolve().parents[1] / "weights")
if _WEIGHTS_TESTS not in sys.path:
    sys.path.insert(0, _WEIGHTS_TESTS)
from weights_testutil import (  # noqa: E402
    LoopbackServer,
    TinyCheckpoint,
    make_state,
    model_toml,
    save_pth,
    serve,
    url_source,
)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as s:
        yield s


@pytest.fixture
def ckpts(tmp_path: Path) -> tuple[TinyCheckpoint, TinyCheckpoint]:
    (tmp_path / "b").mkdir()
    return save_pth(tmp_path / "w.pth", make_state(0)), save_pth(tmp_path / "b" / "w.pth", make_state(1))


@pytest.fixture
def manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: LoopbackServer,
    ckpts: tuple[TinyCheckpoint, TinyCheckpoint],
) -> Path:  # fmt: skip
    """toy.good (served correctly), toy.bad (server sends other bytes), toy.offline (no server)."""
    good, other = ckpts
    text = model_toml("toy.good", [url_source(server.add("/good.pth", good.data))], sha256=good.sha256, size=good.size)
    text += model_toml("toy.bad", [url_source(server.add("/bad.pth", other.data))], sha256=good.sha256, size=good.size)
    text += model_toml(
        "toy.unpinned", ['{url = "https://example.invalid/u.pth"}'], sha256=None, size=123_456_789
    )
    path = tmp_path / "weights.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("AUTOCOLOR_WEIGHTS_TOML", str(path))
    return path


def run(*args: str):  # noqa: ANN201 - click Result
    return CliRunner().invoke(fetch_weights_command, list(args), catch_exceptions=False)


def test_fetch_ok_and_checksum_failure(manifest: Path, _isolated_home: Path) -> None:
    ok = run("toy.good")
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip() == f"toy.good: ok ({_isolated_home / 'toy.good.safetensors'})"
    mixed = run("toy.bad", "toy.good")
    assert mixed.exit_code == 1
    errors = mixed.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("autocolor: error: toy.bad: sha256 mismatch: expected")
    assert "toy.good: ok" in mixed.stdout
    assert not (_isolated_home / "toy.bad.safetensors").exists()


def test_list_shows_sizes_licences_and_cache_state(manifest: Path, ckpts: tuple[TinyCheckpoint, ...]) -> None:
    before = run("--list")
    assert before.exit_code == 0
    rows = {line.split()[1]: line for line in before.stdout.splitlines() if line.startswith("│ toy.")}
    assert set(rows) == {"toy.good", "toy.bad", "toy.unpinned"}
    assert "123.5 MB" in rows["toy.unpinned"] and "size*" in rows["toy.unpinned"]
    assert "sha256" in rows["toy.good"] and "recorded and enforced afterwards" in before.stdout
    assert "MIT" in rows["toy.good"] and " no " in rows["toy.good"]
    assert run("toy.good").exit_code == 0
    after = run("--list", "toy.good")
    row = next(line for line in after.stdout.splitlines() if line.startswith("│ toy.good"))
    assert " yes " in row and "toy.bad" not in after.stdout


def test_from_file_import(manifest: Path, ckpts: tuple[TinyCheckpoint, TinyCheckpoint]) -> None:
    good, other = ckpts
    wrong = run("toy.good", "--from", str(other.path))
    assert wrong.exit_code == 1 and "sha256 mismatch" in wrong.stderr and str(other.path) in wrong.stderr
    ok = run("toy.good", "--from", str(good.path))
    assert ok.exit_code == 0 and "toy.good: ok" in ok.stdout
    assert run("toy.good", "--offline").exit_code == 0  # cached now


def test_offline_miss_names_the_command(manifest: Path, server: LoopbackServer) -> None:
    result = run("toy.good", "--offline")
    assert result.exit_code == 1
    assert "run `autocolor fetch-weights toy.good`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert server.log == []


def test_verify_detects_corruption(manifest: Path, _isolated_home: Path) -> None:
    assert run("--verify").exit_code == 0  # nothing cached: nothing to fail
    assert run("--verify", "toy.good").exit_code == 1  # asked for explicitly: not cached is a failure
    assert run("toy.good").exit_code == 0
    ok = run("--verify")
    assert ok.exit_code == 0 and "toy.good: ok" in ok.stdout and "toy.bad: not cached" in ok.stdout
    cached = _isolated_home / "toy.good.safetensors"
    blob = bytearray(cached.read_bytes())
    blob[-2] ^= 0x01
    cached.write_bytes(bytes(blob))
    bad = run("--verify", "toy.good")
    assert bad.exit_code == 1 and "sha256 mismatch" in bad.stderr and "--force" in bad.stderr
    assert run("toy.good", "--force").exit_code == 0
    assert run("--verify", "toy.good").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give at least one model NAME"),
        (("toy.nope",), "unknown model(s): toy.nope"),
        (("toy.good", "toy.bad", "--from", "FILE"), "exactly one NAME"),
        (("--list", "--verify"), "either --list or --verify"),
        (("toy.good", "--from", "/definitely/not/here.pth"), "does not exist"),
    ],
)
def test_usage_errors_exit_2(manifest: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    args = tuple(str(manifest) if a == "FILE" else a for a in args)  # an existing file
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_help_has_examples() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "autocolor fetch-weights cic.eccv16 cic.siggraph17" in result.stdout
    assert "--from" in result.stdout and "--verify" in result.stdout


def test_registered_in_the_autocolor_group(manifest: Path) -> None:
    cli = pytest.importorskip("autocolor.cli")
    result = CliRunner().invoke(cli.main, ["fetch-weights", "toy.bad"])
    assert result.exit_code == 1 and "sha256 mismatch" in result.stderr
    assert CliRunner().invoke(cli.main, ["fetch-weights", "toy.good"]).exit_code == 0
