"""Fuzzing the per-file colorize path with damaged JPEG/PNG/TIFF/WebP/BMP/GIF/PPM/PCX files.

Each example takes a small valid file (:mod:`tests.fuzzimages`: 8/16-bit, palette, CMYK, alpha,
EXIF/ICC/XMP, multi-frame, 1x1 and 1xN), changes it (byte flips, truncation at a structural
boundary, a wrong length field, huge dimensions, damaged metadata) and runs the same per-file
function ``autocolor colorize`` runs, in-process with a tiny random-weight model. Every outcome
must be a complete, decodable output of the photo's size, or a one-line error naming the file
(never an internal error), with nothing else left in the output folder, within a bounded time.

Profiles (tests/conftest.py): CI runs ``ci`` (300 examples, seconds); ``--hypothesis-profile=long``
or ``AUTOCOLOR_FUZZ=long`` runs 10,000.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from autocolor.batch.item import process_one
from autocolor.batch.plan import InputFile, Job
from autocolor.batch.results import ItemResult
from autocolor.outputnames import output_suffix
from autocolor.pipeline import Colorizer
from tests.fuzzimages import Mutation, mutations, reason_class, suffix_of
from tests.reliabilitylog import record

#: Fuzzed headers can claim any size; decoding is bounded by this pixel limit (like --max-pixels),
#: small enough that a file claiming the most it may still takes well under a second.
MAX_PIXELS = 300_000
# Pillow warns about the damaged files it still reads; the CLI silences these (tested there).
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.*")
#: A file that takes longer than this is a hang for our purposes (typical: 10 ms).
SECONDS_PER_FILE = 20.0


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer("cic.tiny", "cpu", pretrained=False, seed=0)


def colorize_one(source: Path, out_dir: Path, colorizer: Colorizer) -> ItemResult:
    """What ``autocolor colorize SOURCE -o OUT_DIR/`` does for one file."""
    output = out_dir / f"{source.stem}{output_suffix(source, None)}"
    return process_one(Job(InputFile(str(source)), str(output), max_pixels=MAX_PIXELS), colorizer)


def check_case(name: str, mutation: Mutation, work: Path, colorizer: Colorizer) -> str:
    """Run one case and check every promise; returns the outcome class for the report."""
    from tests.fuzzimages import seed_files

    for old in work.rglob("*"):
        if old.is_file():
            old.unlink()
    source = work / f"case{suffix_of(name)}"
    source.write_bytes(mutation.apply(seed_files()[name]))
    out_dir = work / "out"
    out_dir.mkdir(exist_ok=True)
    started = time.monotonic()
    result = colorize_one(source, out_dir, colorizer)
    elapsed = time.monotonic() - started
    assert elapsed < SECONDS_PER_FILE, f"{name} {mutation}: {elapsed:.1f} s"
    left = sorted(out_dir.iterdir())
    if result.status == "ok":
        assert [p.name for p in left] == [Path(str(result.output)).name], left
        with Image.open(left[0]) as out:
            out.load()  # complete: decodes to the end
            assert out.size == (result.width, result.height)
        outcome = "ok"
    else:
        assert result.status == "failed" and result.error, result
        assert not result.error.startswith("internal error"), f"{name} {mutation}: {result.error}"
        assert "\n" not in result.error and "Traceback" not in result.error
        assert left == [], f"{name} {mutation}: left {left}"
        outcome = reason_class(result.error)
    record("fuzz", where="in-process", seed=name, mutation=mutation.kind, outcome=outcome,
           seconds=round(elapsed, 4))  # fmt: skip
    return outcome


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutations())
def test_damaged_files_give_an_output_or_a_one_line_error(
    case: tuple[str, Mutation], tmp_path: Path, colorizer: Colorizer
) -> None:
    check_case(*case, tmp_path, colorizer)


@pytest.mark.parametrize("kind", ["length", "dimensions", "metadata"])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_header_lengths_dimensions_and_metadata(
    kind: str, data: st.DataObject, tmp_path: Path, colorizer: Colorizer
) -> None:
    """The structural mutations on their own, so each gets its share of examples."""
    check_case(*data.draw(mutations(kind)), tmp_path, colorizer)


def test_every_truncation_boundary_of_every_seed(tmp_path: Path, colorizer: Colorizer) -> None:
    """Not random: a cut at each structural boundary of each seed file (~700 cases)."""
    from tests.fuzzimages import boundaries, seed_files

    outcomes = {}
    for name, data in seed_files().items():
        for cut in boundaries(data):
            outcomes[(name, cut)] = check_case(name, Mutation("truncate", (cut,)), tmp_path, colorizer)
    assert len(outcomes) > 300
    assert "ok" not in {o for (n, c), o in outcomes.items() if c < 8}  # a cut header never "works"
