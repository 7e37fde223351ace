"""``autocolor sample`` end to end with tiny networks (random weights, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner, Result
from PIL import Image

from autocolor.cli import main
from autocolor.contactsheet import sheet_layout
from autocolor.imagefile import read_photo
from autocolor.sampling import FALLBACK_METHOD, fallback_note

CPU = ["--random-weights", "--device", "cpu"]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["sample", *args], catch_exceptions=False)


def gray_image(path: Path, size: tuple[int, int] = (60, 40), *, alpha: bool = False) -> Path:
    """An 8-bit gray PNG (width, height): a ramp plus texture, optionally with an alpha ramp."""
    width, height = size
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, width)[None, :] * np.ones((height, 1))
    pixels = np.clip(0.7 * ramp + 0.3 * rng.uniform(0, 255, (height, width)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if alpha:
        opacity = np.linspace(0, 255, height).astype(np.uint8)[:, None].repeat(width, axis=1)
        Image.fromarray(np.stack((pixels, opacity), axis=-1), mode="LA").save(path)
    else:
        Image.fromarray(pixels, mode="L").save(path)
    return path


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img).astype(np.int16)


def sample_paths(folder: Path, stem: str, n: int) -> list[Path]:
    return [folder / f"{stem}_sample{i:02d}.png" for i in range(1, n + 1)]


def test_fallback_model_writes_samples_sheet_and_json(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png")
    out = tmp_path / "out"
    result = run(str(src), "--n", "3", "-o", str(out), "--model", "cic.tiny", "--json", *CPU)
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == fallback_note("cic.tiny")
    record = json.loads(result.stdout)
    paths = sample_paths(out, "old", 3)
    assert record["input"] == str(src) and record["status"] == "ok" and record["model"] == "cic.tiny"
    assert record["method"] == FALLBACK_METHOD and record["temperature"] == 0.38
    assert record["samples"] == [{"path": str(p), "seed": i, "status": "ok"} for i, p in enumerate(paths)]
    assert record["sheet"] == str(out / "old_samples.png")

    source_lightness = read_photo(src).lightness
    for path in paths:
        with Image.open(path) as img:
            assert img.size == (60, 40) and img.mode == "RGB"
        # Full-resolution L* of the input is kept; only colour is sampled.
        assert np.abs(read_photo(path).lightness - source_lightness).max() < 0.6
    assert not np.array_equal(pixels(paths[0]), pixels(paths[1]))
    # Sheet: gray input + 3 samples, 2 columns, 256 px cells (60x40 -> 256x171), labelled.
    layout = sheet_layout([(40, 60)] * 4, cell=256)
    with Image.open(out / "old_samples.png") as sheet:
        assert (sheet.height, sheet.width) == layout.shape
        top, left, height, width = layout.cell_box(0)
        first = np.asarray(sheet.convert("RGB"))[top : top + height, left : left + width].astype(int)
    assert np.array_equal(first[..., 0], first[..., 2])  # the first cell is the gray input


def test_same_seed_same_bytes_and_seed_per_sample(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png")
    base = ["--model", "cic.tiny", "-q", *CPU]
    assert run(str(src), "--n", "3", "--seed", "7", "-o", str(tmp_path / "a"), *base).exit_code == 0
    assert run(str(src), "--n", "3", "--seed", "7", "-o", str(tmp_path / "b"), *base).exit_code == 0
    for name in ["old_sample01.png", "old_sample02.png", "old_sample03.png", "old_samples.png"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # Sample i is seed + i on its own: seed 8 alone gives the second sample of seed 7.
    assert run(str(src), "--n", "1", "--seed", "8", "-o", str(tmp_path / "c"), *base).exit_code == 0
    assert (tmp_path / "c" / "old_sample01.png").read_bytes() == (tmp_path / "a" / "old_sample02.png").read_bytes()
    # ... and what `colorize --decoding sample` gives with that seed and the model's temperature.
    colorized = tmp_path / "colorized.png"
    code = CliRunner().invoke(main, ["colorize", str(src), "-o", str(colorized), "--model", "cic.tiny",
                                     "--decoding", "sample", "--temperature", "0.38", "--seed", "8", *CPU])  # fmt: skip
    assert code.exit_code == 0
    # colorize renders straight to codes (autocolor.render): the same colours to within one code.
    same = np.asarray(Image.open(colorized), np.int16) - np.asarray(Image.open(tmp_path / "c" / "old_sample01.png"))
    assert np.abs(same).max() <= 1
    # Other seeds: other samples.
    assert run(str(src), "--n", "1", "--seed", "100", "-o", str(tmp_path / "d"), *base).exit_code == 0
    assert not np.array_equal(pixels(tmp_path / "d" / "old_sample01.png"), pixels(tmp_path / "a" / "old_sample01.png"))


def test_generative_model_samples_natively(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png", (48, 32))
    args = [str(src), "--n", "2", "--model", "pic.tiny", "--json", *CPU]
    first = run(*args, "-o", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output
    assert first.stderr == ""  # no fallback note
    record = json.loads(first.stdout)
    assert record["method"] == "sample" and record["temperature"] == 1.0
    assert record["mixture_temperature"] == 1.0  # pic.tiny has no default of its own
    assert [s["seed"] for s in record["samples"]] == [0, 1]
    bits = [s["bits_per_dim"] for s in record["samples"]]  # each sample's likelihood under the model
    assert all(b > 0 for b in bits) and bits[0] != bits[1]
    again = run(*args, "-o", str(tmp_path / "b"))
    assert [s["bits_per_dim"] for s in json.loads(again.stdout)["samples"]] == bits
    a, b = sample_paths(tmp_path / "a", "old", 2), sample_paths(tmp_path / "b", "old", 2)
    assert again.exit_code == 0
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_bytes() == b[1].read_bytes()
    assert not np.array_equal(pixels(a[0]), pixels(a[1]))
    with Image.open(a[0]) as img:
        assert img.size == (48, 32)
    # The two were drawn as one batch; seed 1 drawn alone is the second, file and score.
    alone = run(str(src), "--n", "1", "--seed", "1", "--model", "pic.tiny", "--json", *CPU, "-o", str(tmp_path / "c"))
    assert alone.exit_code == 0, alone.output
    assert [s["bits_per_dim"] for s in json.loads(alone.stdout)["samples"]] == bits[1:]
    assert sample_paths(tmp_path / "c", "old", 1)[0].read_bytes() == a[1].read_bytes()


def test_temperature_zero_is_the_mode(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png", (32, 32))
    result = run(str(src), "--n", "2", "--model", "pic.tiny", "--temperature", "0", "--json", "-o", str(tmp_path), *CPU)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["method"] == "mode"
    first, second = sample_paths(tmp_path, "old", 2)
    assert first.read_bytes() == second.read_bytes()


def test_larsson_is_a_fallback(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png")
    result = run(str(src), "--n", "2", "--model", "larsson.tiny", "--json", "-o", str(tmp_path / "o"), *CPU)
    assert result.exit_code == 0, result.output
    assert fallback_note("larsson.tiny") in result.stderr
    assert json.loads(result.stdout)["method"] == FALLBACK_METHOD
    first, second = sample_paths(tmp_path / "o", "old", 2)
    assert not np.array_equal(pixels(first), pixels(second))


def test_alpha_is_kept(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "cut.png", alpha=True)
    assert run(str(src), "--n", "1", "--model", "cic.tiny", "-q", "-o", str(tmp_path / "o"), *CPU).exit_code == 0
    with Image.open(tmp_path / "o" / "cut_sample01.png") as img:
        assert img.mode == "RGBA"
        assert np.array_equal(np.asarray(img)[..., 3], np.asarray(Image.open(src))[..., 1])


def test_regression_model_and_gcp_options_are_usage_errors(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png")
    out = tmp_path / "o"
    result = run(str(src), "--model", "cic.tiny_regression", "-o", str(out), *CPU)
    assert result.exit_code == 2
    assert "cannot draw samples" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    for option in (["--class", "207"], ["--class", "goldfish"], ["--direction", "1"], ["--strength", "2"]):
        refused = run(str(src), "--model", "cic.tiny", "-o", str(out), *option, *CPU)
        assert refused.exit_code == 2, option
        assert f"{option[0]} applies only to GCP models" in refused.stderr
    assert not out.exists()  # nothing written on a usage error


def test_mixture_temperature_option(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png", (32, 32))
    sharp = run(str(src), "--n", "1", "--model", "pic.tiny", "--mixture-temperature", "0.5", "--json",
                "-o", str(tmp_path / "a"), *CPU)  # fmt: skip
    assert sharp.exit_code == 0, sharp.output
    assert json.loads(sharp.stdout)["mixture_temperature"] == 0.5
    official = run(str(src), "--n", "1", "--model", "pic.tiny", "-q", "-o", str(tmp_path / "b"), *CPU)
    assert official.exit_code == 0
    assert not np.array_equal(pixels(sample_paths(tmp_path / "a", "old", 1)[0]), pixels(sample_paths(tmp_path / "b", "old", 1)[0]))
    for args, message in (
        (["--model", "cic.tiny", "--mixture-temperature", "0.5"], "--mixture-temperature applies only to PIC models"),
        (["--model", "pic.tiny", "--mixture-temperature", "0"], "--mixture-temperature"),
    ):
        refused = run(str(src), *args, "-o", str(tmp_path / "c"), *CPU)
        assert refused.exit_code == 2, args
        assert message in refused.stderr
    assert not (tmp_path / "c").exists()


def test_bad_input_is_one_line_and_exit_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    for path in (broken, tmp_path / "missing.png"):
        result = run(str(path), "--model", "cic.tiny", "-q", "-o", str(tmp_path / "o"), *CPU)
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0], result.stderr
    assert list(tmp_path.glob("o/*")) == []  # nothing written for a photo that failed


def test_existing_outputs_are_skipped_unless_overwrite(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png")
    base = [str(src), "--n", "2", "--model", "cic.tiny", *CPU]
    assert run(*base, "-q").exit_code == 0  # no -o: beside the input
    first, second = sample_paths(tmp_path, "old", 2)
    sheet = tmp_path / "old_samples.png"
    assert first.is_file() and second.is_file() and sheet.is_file()
    original = second.read_bytes()

    for path in (first, second, sheet):
        path.write_bytes(b"sentinel")
    skipped = run(*base)
    assert skipped.exit_code == 0 and "skipped" in skipped.stderr
    assert first.read_bytes() == second.read_bytes() == sheet.read_bytes() == b"sentinel"

    # A missing sample is drawn again; the others are kept; the sheet is redrawn with it.
    second.unlink()
    partial = run(*base, "--json")
    assert partial.exit_code == 0
    statuses = [s["status"] for s in json.loads(partial.stdout)["samples"]]
    assert statuses == ["skipped", "ok"]
    assert first.read_bytes() == b"sentinel" and second.read_bytes() == original
    assert sheet.read_bytes()[:4] == b"\x89PNG"

    assert run(*base, "--overwrite", "-q").exit_code == 0
    assert first.read_bytes()[:4] == b"\x89PNG"


def test_folder_input_skips_earlier_outputs(tmp_path: Path) -> None:
    gray_image(tmp_path / "in" / "a.png")
    gray_image(tmp_path / "in" / "sub" / "b.png")
    assert run(str(tmp_path / "in"), "--n", "1", "--model", "cic.tiny", "-q", *CPU).exit_code == 0
    assert (tmp_path / "in" / "sub" / "b_sample01.png").is_file()
    # Again, with -o: the earlier outputs inside the folder are not taken for inputs.
    result = run(str(tmp_path / "in"), "--n", "1", "--model", "cic.tiny", "--json", "-o", str(tmp_path / "o"), *CPU)
    assert result.exit_code == 0
    inputs = sorted(json.loads(line)["input"] for line in result.stdout.splitlines())
    assert inputs == [str(tmp_path / "in" / "a.png"), str(tmp_path / "in" / "sub" / "b.png")]
    assert (tmp_path / "o" / "sub" / "b_samples.png").is_file()


def test_two_inputs_with_one_stem_do_not_overwrite_each_other(tmp_path: Path) -> None:
    first = gray_image(tmp_path / "photo.png")
    second = gray_image(tmp_path / "photo.tif")
    result = run(str(first), str(second), "--n", "1", "--model", "cic.tiny", "-q", "-o", str(tmp_path / "o"), *CPU)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"autocolor: error: {second}: output {tmp_path / 'o' / 'photo_sample01.png'} is also an output of {first}"
    )
    assert (tmp_path / "o" / "photo_sample01.png").is_file()


def test_help_has_examples_and_names_the_fallback() -> None:
    result = CliRunner().invoke(main, ["sample", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "autocolor sample old.jpg" in result.output
    assert "FALLBACK" in result.output and "--random-weights" not in result.output


def test_best_of_keeps_the_most_probable_seeds_in_order(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png", (40, 40))
    every = run(str(src), "--n", "5", "--model", "pic.tiny", "--json", "-o", str(tmp_path / "all"), *CPU)
    assert every.exit_code == 0, every.output
    scores = {s["seed"]: s["bits_per_dim"] for s in json.loads(every.stdout)["samples"]}
    best = run(str(src), "--n", "2", "--best-of", "5", "--model", "pic.tiny", "--json", "-o", str(tmp_path / "best"), *CPU)
    assert best.exit_code == 0, best.output
    kept = json.loads(best.stdout)["samples"]
    assert [s["seed"] for s in kept] == sorted(scores, key=lambda seed: scores[seed])[:2]
    assert [s["bits_per_dim"] for s in kept] == [scores[s["seed"]] for s in kept]  # the same draws, scored alike
    # sample01 of the ranked run is the most probable draw: the same file as that seed's sample.
    first_seed = kept[0]["seed"]
    same = sample_paths(tmp_path / "all", "old", 5)[first_seed]
    assert sample_paths(tmp_path / "best", "old", 2)[0].read_bytes() == same.read_bytes()


def test_best_of_usage_errors(tmp_path: Path) -> None:
    src = gray_image(tmp_path / "old.png", (32, 32))
    fewer = run(str(src), "--n", "3", "--best-of", "2", "--model", "pic.tiny", "-o", str(tmp_path), *CPU)
    assert fewer.exit_code == 2 and "fewer than the 3 samples" in fewer.stderr
    no_likelihood = run(str(src), "--n", "2", "--best-of", "4", "--model", "cic.tiny", "-o", str(tmp_path), *CPU)
    assert no_likelihood.exit_code == 2 and "ranks samples by likelihood" in no_likelihood.stderr
    mode = run(str(src), "--best-of", "8", "--temperature", "0", "--model", "pic.tiny", "-o", str(tmp_path), *CPU)
    assert mode.exit_code == 2
