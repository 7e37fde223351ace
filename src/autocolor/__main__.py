"""``python -m autocolor`` runs the ``autocolor`` command."""

from __future__ import annotations

from autocolor.cli import main

if __name__ == "__main__":
    main(prog_name="autocolor")
