"""What the exported best model of a search is worth, checked before anyone ships it.

Owns `ExportedFile` and `ExportCheck` (the `export` section of summary.json and the lines of the
printed summary) and `check_exports`: each exported .tflite file is run with LiteRT on the
held-out split the proxy accuracy is measured on (its top-1, and the share of images on which the
int8 file predicts what the float32 file predicts), and its latency is measured on this host at
its own input size. The check also says what the files are not: the search's latency is the
architecture's at the deployment resolution, while these files are the proxy model, trained at
the proxy resolution; `train_command` is the `mnasnet-train` command that trains the
architecture for shipping.

Imports the LiteRT runtime and the local latency backend (tflite_bench) lazily; no TensorFlow,
tuner or oracle.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class ExportedFile:
    """One exported .tflite file: its quantization, path and input size (pixels per side), its
    top-1 on the held-out split, `agreement` (the share of held-out images on which its top-1
    prediction equals the float32 file's; 1.0 for the float32 file) and its median latency on
    this host at its input size."""

    quantization: str
    path: str
    input_size: int
    top1: float
    agreement: float
    latency_ms: float


@dataclasses.dataclass(frozen=True)
class ExportCheck:
    """The exported files of the best trial, checked (see the module docstring).

    Attributes:
      trial: the best trial, whose proxy model was exported.
      files: one `ExportedFile` per exported file.
      examples: held-out images each file was evaluated on.
      search_latency_ms: the trial's latency as the search measured it.
      deployment_image_size: the resolution the search measured latency at.
      latency_backend: the search's latency backend (the files are timed on this host).
      train_command: the `mnasnet-train` command that trains the architecture for shipping.
    """

    trial: str
    files: tuple[ExportedFile, ...]
    examples: int
    search_latency_ms: float
    deployment_image_size: int
    latency_backend: str
    train_command: str

    @property
    def int8_agreement(self) -> float | None:
        """The share of held-out images on which the int8 and float32 files agree (None
        without an int8 file)."""
        return next((f.agreement for f in self.files if f.quantization == "int8"), None)

    def note(self) -> str:
        """What the search's latency and the exported files each are, and how to ship."""
        sizes = sorted({f.input_size for f in self.files})
        size = "/".join(f"{s}²" for s in sizes)
        return (
            f"The search's latency ({self.search_latency_ms:.2f} ms on {self.latency_backend}) is "
            f"the architecture's at the deployment resolution {self.deployment_image_size}²; the "
            f"exported files are its proxy model, trained briefly at {size}. To train the "
            f"architecture for shipping: {self.train_command}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The `export` section of summary.json."""
        return {
            "trial": self.trial,
            "files": [dataclasses.asdict(f) for f in self.files],
            "held_out_examples": self.examples,
            "int8_float32_agreement": self.int8_agreement,
            "search_latency_ms": self.search_latency_ms,
            "deployment_image_size": self.deployment_image_size,
            "latency_backend": self.latency_backend,
            "file_latency_backend": "local (this host, LiteRT)",
            "train_command": self.train_command,
            "note": self.note(),
        }

    def lines(self) -> list[str]:
        """The printed summary: a line per file, then the note."""
        lines = [f"Exported trial {self.trial} (held-out split, {self.examples} images):"]
        for f in self.files:
            agreement = (
                ""
                if f.quantization == "float32"
                else f", same top-1 as float32 on {100 * f.agreement:.1f}%"
            )
            lines.append(
                f"  {f.quantization:<8} {f.input_size}²  top-1 {100 * f.top1:.1f}%{agreement}, "
                f"{f.latency_ms:.2f} ms on this host  {f.path}"
            )
        lines.append(self.note())
        return lines


def train_command(
    arch_json: str, *, dataset: str, image_size: int, data_dir: str | None, export_dir: str
) -> str:
    """The `mnasnet-train` command that trains the architecture in `arch_json` on `dataset` at
    `image_size` and exports it to `export_dir`."""
    parts = [
        "mnasnet-train",
        f"--model={arch_json}",
        f"--dataset={dataset}",
        f"--image_size={image_size}",
    ]
    if data_dir:
        parts.append(f"--data_dir={data_dir}")
    parts.append(f"--export_dir={export_dir}")
    return shlex.join(parts)


def predictions(interpreter: Any, held_out: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(top-1 predictions, labels) of a LiteRT interpreter on `(images, labels)` batches."""
    from tflite_bench import runtime

    predicted, labels = [], []
    for images, batch_labels in held_out:
        scores = np.asarray(runtime.run(interpreter, np.asarray(images)))
        predicted.append(scores.reshape(len(scores), -1).argmax(axis=1))
        labels.append(np.asarray(batch_labels).reshape(-1))
    if not predicted:
        raise ValueError("no held-out examples to evaluate the exported files on")
    return np.concatenate(predicted), np.concatenate(labels)


def check_exports(
    exported: Mapping[str, str],
    *,
    held_out: Iterable[Any],
    trial: str,
    search_latency_ms: float,
    deployment_image_size: int,
    latency_backend: str,
    train_command: str,
    backend: Any = None,
) -> ExportCheck:
    """Evaluates each exported file (quantization → .tflite path; a float32 one included) on
    `held_out` (`(images, labels)` batches: the proxy's validation split) and times it with
    `backend` (default: `tflite_bench.backends.LocalBackend()`), interleaved."""
    from tflite_bench import runtime
    from tflite_bench.backends import LocalBackend

    if "float32" not in exported:
        raise ValueError(f"no float32 file to compare with among {sorted(exported)}")
    held_out = list(held_out)  # iterated once per file
    outputs, sizes = {}, {}
    for quantization, path in exported.items():
        interpreter = runtime.load_interpreter(path)
        sizes[quantization] = runtime.input_shape(interpreter)[1]
        outputs[quantization] = predictions(interpreter, held_out)
    backend = backend or LocalBackend()
    stats = backend.measure_many(list(exported.values()))
    reference, labels = outputs["float32"]
    files = tuple(
        ExportedFile(
            quantization=quantization,
            path=path,
            input_size=int(sizes[quantization]),
            top1=float(np.mean(outputs[quantization][0] == labels)),
            agreement=float(np.mean(outputs[quantization][0] == reference)),
            latency_ms=float(latency.latency_ms),
        )
        for (quantization, path), latency in zip(exported.items(), stats, strict=True)
    )
    return ExportCheck(
        trial=str(trial),
        files=files,
        examples=int(len(labels)),
        search_latency_ms=float(search_latency_ms),
        deployment_image_size=int(deployment_image_size),
        latency_backend=latency_backend,
        train_command=train_command,
    )
