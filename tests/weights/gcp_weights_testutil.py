"""Helpers for GCP weight tests: official-layout files from a network, and a manifest bundle."""

from __future__ import annotations

from pathlib import Path

import torch

from autocolor.models.gcp import GCPColorizer

PAGE = "https://example.org/gcp-folder"
# (part suffix, official file name), in the manifest's order.
PARTS = (
    ("colorization", "colorization_model.pth"),
    ("encoder", "biggan_E.pth"),
    ("generator", "biggan_G_ema_256.pth"),
    ("discriminator", "biggan_D_256.pth"),
    ("deformator", "deformator_for_biggan.pt"),
)


def official_objects(net: GCPColorizer) -> dict[str, object]:
    """What the official code's ``torch.save`` calls store, written out by hand (not via the
    converter's inverse): a dict of the two trainable nets, and plain module state_dicts."""
    return {
        "colorization_model.pth": {"net_corr": net.net_corr.state_dict(), "net_gen": net.net_gen.state_dict()},
        "biggan_E.pth": net.biggan_enc.state_dict(),
        "biggan_G_ema_256.pth": net.biggan_gen.state_dict(),
        "biggan_D_256.pth": net.biggan_dis.state_dict(),
        "deformator_for_biggan.pt": net.deformator.state_dict(),
    }


def write_official_files(net: GCPColorizer, folder: Path, *, legacy: bool = False) -> dict[str, Path]:
    """Save ``net``'s weights as the five official files in ``folder``; returns name -> path.

    ``legacy`` writes torch's pre-1.6 (non-zip) serialisation, as the 2019-2020 BigGAN-PyTorch /
    DGP era of ``torch.save`` did.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, obj in official_objects(net).items():
        paths[name] = folder / name
        torch.save(obj, paths[name], _use_new_zipfile_serialization=not legacy)
    return paths


def gcp_manifest(bundle: str = "gcp.tiny", arch: str = "gcp.tiny") -> str:
    """weights.toml text: the bundle ``bundle`` and its five parts, no hash published."""
    parts = ", ".join(f'"{bundle}.{suffix}"' for suffix, _ in PARTS)
    lines = [f'[models."{bundle}"]', f'arch = "{arch}"', f"parts = [{parts}]", 'licence = "Apache-2.0"', ""]
    for suffix, filename in PARTS:
        lines += [
            f'[models."{bundle}.{suffix}"]',
            f'arch = "{arch}"',
            f'sources = [{{ manual = "{PAGE}" }}]',
            'sha256 = "unpublished"',
            'format = "gcp_pth"',
            f'filename = "{filename}"',
            'licence = "Apache-2.0"',
            "",
        ]
    return "\n".join(lines)
