"""``autocolor train``: train a registered network with its objective from a TOML recipe."""

from __future__ import annotations

import click


@click.command("train")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML recipe (see configs/).")
@click.option("--model", "model_name", default=None, help="Override [model].name, e.g. pic.small.")
@click.option("--out", default=None, help="Override [train].out, the run folder.")
@click.option("--resume", is_flag=True, help="Continue the run in --out exactly where its last checkpoint stopped.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override one config value (repeatable).")
@click.option("--stop-after", type=int, default=None, help="Stop (with a checkpoint) at this step; resume later.")
@click.option("--quiet", is_flag=True, help="No progress bar; plain log lines only.")
def train_command(
    config_path: str | None,
    model_name: str | None,
    out: str | None,
    resume: bool,
    overrides: tuple[str, ...],
    stop_after: int | None,
    quiet: bool,
) -> None:
    """Train a model (CIC, PIC or Larsson objective, chosen by the network's output).

    \b
    Examples:
      autocolor train --config configs/cic_lite.toml
      autocolor train --config configs/cic_lite.toml --resume
      autocolor train --config configs/cic_lite.toml --set train.steps=200 --out runs/try
      torchrun --nproc_per_node 2 -m autocolor train --config configs/cic_lite.toml
      torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29400 -m autocolor train --config configs/cic_lite.toml --out /shared/runs/cic

    Writes OUT/latest.pt (checkpoint), OUT/log.jsonl (metrics per step) and, at the end,
    OUT/model.safetensors (rank 0 only under torchrun; --resume also works with another number
    of processes; train.batch_size is per process).
    """
    from autocolor.train.config import TrainConfig, apply_overrides, load_config
    from autocolor.train.loop import train
    from autocolor.train.progress import progress_reporter

    extra = list(overrides)
    if model_name:
        extra.append(f'model.name="{model_name}"')
    if out:
        extra.append(f'train.out="{out}"')
    config = load_config(config_path, extra) if config_path else apply_overrides(TrainConfig(), extra)
    with progress_reporter(config.train.steps, enabled=not quiet) as (on_step, log):
        result = train(config, resume=resume, stop_after=stop_after, on_step=on_step, log=log)
    click.echo(f"stopped at step {result.step} in {result.run_dir}", err=True)
