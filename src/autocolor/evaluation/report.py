"""Reports of an :class:`autocolor.evaluation.EvalResult`: JSON, CSV, a rich table and a PNG plot.

Every output carries the protocol with the numbers: the JSON has a ``protocol`` object, the
summary CSV repeats the protocol fields on every row, the table has it as a caption and the plot
in its title. In JSON, infinite PSNRs (identical images) are written as the string ``"inf"``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from autocolor.errors import AutocolorError, OutputError
from autocolor.evaluation.config import GROUND_TRUTH, EvalResult
from autocolor.metrics.auc import THRESHOLDS

ROW_FIELDS = (
    "file", "method", "width", "height", "auc_raw", "auc_rebalanced", "rmse_ab", "psnr", "ssim",
    "colorfulness", "colorfulness_abs", "gt_colorfulness", "gt_colorfulness_abs", "bits_per_dim",
    "neutral_tinted", "neutral_pixels",
)
SUMMARY_FIELDS = (
    "kind", "source", "images", "pixels", "auc_raw", "auc_rebalanced", "rmse_ab", "rmse_ab_image_mean",
    "psnr", "psnr_pooled", "ssim", "colorfulness", "colorfulness_abs", "delta_colorfulness",
    "delta_colorfulness_abs", "fid", "bits_per_dim", "neutral_tinted", "neutral_pixels",
)
PROTOCOL_FIELDS = ("autocolor_version", "resolution", "images_scored", "images_skipped", "dataset_fingerprint")
PLOT_INSTALL_HINT = "pip install 'autocolor[plot]'"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@contextmanager
def _atomic_text(path: Path) -> Iterator[IO[str]]:
    """Write beside ``path`` and move into place, so a failed run leaves no half file."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    except OSError as exc:
        raise OutputError(path, f"cannot write ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_json_dict(result: EvalResult) -> dict[str, Any]:
    """``{"protocol", "summary", "images", "skipped"}`` with JSON-safe values."""
    return _jsonable(
        {"protocol": result.protocol, "summary": result.summary, "images": result.rows, "skipped": result.skipped}
    )


def write_json(result: EvalResult, path: Path) -> None:
    with _atomic_text(path) as fh:
        json.dump(to_json_dict(result), fh, indent=2, allow_nan=False)
        fh.write("\n")


def summary_csv_path(path: Path) -> Path:
    """``scores.csv`` -> ``scores_summary.csv`` (beside the per-image file)."""
    path = Path(path)
    return path.with_name(f"{path.stem}_summary{path.suffix or '.csv'}")


def _cell(value: Any) -> Any:
    return "" if value is None else value


def write_csv(result: EvalResult, path: Path) -> Path:
    """Per-image rows to ``path``, one row per method to :func:`summary_csv_path`; returns the latter."""
    with _atomic_text(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=ROW_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in result.rows:
            writer.writerow({k: _cell(row.get(k)) for k in ROW_FIELDS})
    summary_path = summary_csv_path(path)
    rebal = result.protocol.get("auc_rebalanced", {})
    protocol_cells = {k: result.protocol.get(k) for k in PROTOCOL_FIELDS}
    protocol_cells.update(
        prior=rebal.get("prior"),
        prior_sha256=rebal.get("prior_sha256"),
        prior_smoothing_sigma=rebal.get("prior_smoothing_sigma"),
    )
    fields = ("method", *SUMMARY_FIELDS, *protocol_cells)
    with _atomic_text(summary_path) as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for name, summary in result.summary.items():
            cells = {"method": name, **{k: summary.get(k) for k in SUMMARY_FIELDS}, **protocol_cells}
            writer.writerow({k: _cell(v) for k, v in cells.items()})
    return summary_path


def _fmt(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def render_table(result: EvalResult) -> Any:
    """A ``rich.table.Table`` of the summary, the protocol as its caption.

    FID and bits/dim columns appear only when some method has them. ``colourful`` is the paper
    form, ``abs`` the absolute-value form and ``Δabs`` its distance to the ground truth's; the
    paper-form delta is in the JSON and CSV outputs.
    """
    from rich.table import Table

    protocol = result.protocol
    prior = protocol.get("auc_rebalanced", {})
    prior_text = Path(prior["prior"]).name if "unavailable" not in prior else "none"
    table = Table(
        title=f"autocolor {protocol['autocolor_version']} eval: {protocol['images_scored']} images "
        f"({protocol['images_skipped']} skipped)",
        caption=f"resolution: {protocol['resolution']}; AuC: e <= 0..150, pooled; rebalanced prior: "
        f"{prior_text}; RMSE in Lab ab units; PSNR (dB), SSIM on 8-bit RGB; colourfulness (Hasler & "
        "Suesstrunk): colour = paper form, abs = absolute-value form, Δabs = |mean(pred) - mean(gt)| in abs form; "
        "tinted = % of near-neutral ground-truth pixels (chroma < 5) predicted with chroma > 15",
    )
    summaries = result.summary.values()
    optional = [key for key in ("fid", "bits_per_dim") if any(s.get(key) is not None for s in summaries)]
    headers = ["method", "AuC %", "rebal %", "RMSE", "PSNR", "SSIM", "colour", "abs", "Δabs", "tinted %"]
    headers += [{"fid": "FID", "bits_per_dim": "bits/dim"}[key] for key in optional]
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i == 0)
    gt = (protocol["ground_truth_colorfulness"], protocol["ground_truth_colorfulness_abs"])
    table.add_row(GROUND_TRUTH, *["-"] * 5, f"{gt[0]:.1f}", f"{gt[1]:.1f}", "-", "-", *["-"] * len(optional))
    for name, s in result.summary.items():
        table.add_row(
            name, _fmt(s["auc_raw"], 2), _fmt(s["auc_rebalanced"], 2), _fmt(s["rmse_ab"], 2), _fmt(s["psnr"], 2),
            _fmt(s["ssim"], 3), f"{s['colorfulness']:.1f}", f"{s['colorfulness_abs']:.1f}",
            f"{s['delta_colorfulness_abs']:.1f}", _fmt(s.get("neutral_tinted"), 1),
            *[_fmt(s[key], 2 if key == "fid" else 3) for key in optional],
        )
    return table


def require_matplotlib() -> None:
    """Raise a one-line error naming the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise AutocolorError(f"--plot needs matplotlib, which is not installed: {PLOT_INSTALL_HINT}") from None


def write_plot(result: EvalResult, path: Path) -> None:
    """PNG with the raw and rebalanced CMF curves of every method and a colourfulness histogram."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    protocol = result.protocol
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, key, label in ((axes[0], "cmf_raw", "raw"), (axes[1], "cmf_rebalanced", "class-rebalanced")):
        for name, summary in result.summary.items():
            curve, auc = summary.get(key), summary.get(key.replace("cmf", "auc"))
            if curve is not None:
                ax.plot(THRESHOLDS, [100.0 * v for v in curve], label=f"{name} (AuC {auc:.2f})")
        ax.set(title=f"CMF of ab error, {label}", xlabel="threshold t (Lab ab units)",
               ylabel="pixels with error <= t (%)", xlim=(0, 150), ylim=(0, 100))
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(loc="lower right", fontsize="small")
        else:
            ax.text(75, 50, "no prior: not computed", ha="center")
    values = result.colorfulness_values
    top = max((max(v) for v in values.values() if v), default=1.0)
    bins = [top * i / 30 for i in range(31)] if top > 0 else 30
    for name, vals in values.items():
        axes[2].hist(vals, bins=bins, histtype="step", linewidth=1.5, label=name)
    axes[2].set(title="colourfulness per image (Hasler & Suesstrunk, paper form)", xlabel="M", ylabel="images")
    axes[2].legend(fontsize="small")
    _save_figure(fig, protocol, path, dpi=110)


def _save_figure(fig: Any, protocol: dict[str, Any], path: Path, *, dpi: int) -> None:
    """Title ``fig`` with the run's protocol, write it as PNG to ``path`` and close it."""
    import matplotlib.pyplot as plt

    fig.suptitle(
        f"autocolor {protocol['autocolor_version']}: {protocol['images_scored']} images of "
        f"{protocol['data_dir']}, {protocol['resolution']}",
        fontsize="medium",
    )
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=dpi, format="png")
    except OSError as exc:
        raise OutputError(path, f"cannot write ({exc.strerror or exc})") from exc
    finally:
        plt.close(fig)


def hint_sweep(result: EvalResult) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """``{model: [(hint points, summary), ...]}`` for the ``NAME:hints=N`` methods, by N."""
    curves: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for name, summary in result.summary.items():
        if "hint_points" in summary:
            curves.setdefault(name.rsplit(":hints=", 1)[0], []).append((int(summary["hint_points"]), summary))
    return {model: sorted(points, key=lambda p: p[0]) for model, points in curves.items()}


def write_hints_plot(result: EvalResult, path: Path) -> None:
    """PNG of PSNR and raw AuC against the number of ground-truth hints, one line per hint-aware
    model; methods without hints (the gray baseline, automatic models) as horizontal lines.

    As in the SIGGRAPH17 paper's sweep the x axis is logarithmic and 0 hints sits at 0.4.
    """
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    zero_at = 0.4
    curves = hint_sweep(result)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ticks = sorted({n for points in curves.values() for n, _ in points})
    references = [name for name, summary in result.summary.items() if "hint_points" not in summary]
    for ax, key, label in ((axes[0], "psnr", "PSNR (dB)"), (axes[1], "auc_raw", "AuC of ab error (%)")):
        for i, (model, points) in enumerate(curves.items()):
            xs = [n if n > 0 else zero_at for n, _ in points]
            ax.plot(xs, [s[key] for _, s in points], "o-", color=f"C{i}", label=model)
        for i, name in enumerate(references, start=len(curves)):
            value = result.summary[name].get(key)
            if value is not None:
                ax.axhline(value, linestyle="--", linewidth=1, color="gray" if name == "gray" else f"C{i}",
                           label=f"{name} (no hints)")
        ax.set_xscale("log")
        ax.set_xticks([n if n > 0 else zero_at for n in ticks], ["auto" if n == 0 else str(n) for n in ticks])
        ax.minorticks_off()
        ax.set(xlabel="ground-truth hints (6x6 patches)", ylabel=label, title=label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    _save_figure(fig, result.protocol, path, dpi=90)
