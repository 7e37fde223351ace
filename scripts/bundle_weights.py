"""Copy a finished run's weights into the package as a bundled model and print its pin.

    python scripts/bundle_weights.py runs/cic_lite/model.safetensors cic.lite
    python scripts/bundle_weights.py runs/pic_small/model.safetensors pic.small --half

Writes ``src/autocolor/bundled/<name with . -> _>.safetensors`` (optionally as float16, which
halves the file; ``load_state_dict`` casts back to float32) and prints the ``bytes`` and
``sha256`` lines for that model's table in weights.toml.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

BUNDLED = Path(__file__).resolve().parents[1] / "src" / "autocolor" / "bundled"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, help="model.safetensors written by autocolor train")
    parser.add_argument("name", help="registry name, e.g. cic.lite")
    parser.add_argument("--half", action="store_true", help="store floating-point tensors as float16")
    args = parser.parse_args()
    tensors = load_file(str(args.weights))
    if args.half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    BUNDLED.mkdir(parents=True, exist_ok=True)
    target = BUNDLED / (args.name.replace(".", "_") + ".safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(target), metadata={"arch": args.name})
    data = target.read_bytes()
    print(f"{target}\nbytes = {len(data)}\nsha256 = \"{hashlib.sha256(data).hexdigest()}\"")
    floats = [v for v in tensors.values() if v.is_floating_point()]
    print(f"# {sum(v.numel() for v in floats)} floating-point values, {torch.finfo(floats[0].dtype).bits}-bit")


if __name__ == "__main__":
    main()
