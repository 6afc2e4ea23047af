"""How the project draws and saves its figures: matplotlib without a screen, PNGs written whole.

Owns `pyplot()` (matplotlib.pyplot on the Agg backend, imported on first use so that the modules
that draw stay light to import) and `save_figure(figure, path)` (an atomic PNG at 120 dpi). The
reports of all three searches and the benchmarks draw through it.
"""

from __future__ import annotations

from typing import Any

from tflite_bench import files


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: str) -> None:
    """Writes `figure` to the PNG at `path` whole or not at all (120 dpi)."""
    files.atomic_save(path, lambda tmp: figure.savefig(tmp, dpi=120), suffix=".png")
