"""Keras model → .tflite (float32 / float16 / dynamic-range / full-int8) and output parity.

Owns the conversion settings this project measures latency with: batch fixed to 1 (a dynamic batch
leaves SHAPE/STRIDED_SLICE/PACK/RESHAPE ops that XNNPACK does not take), TFLite builtin ops only
(a graph that needs Flex/Select-TF or custom ops is refused with the op names), and the fast
concrete-function path (a `tf.function` that calls the model with `training=False`, frozen without
a `trackable_obj`: ~5× faster than `from_keras_model`, same graph and outputs). `slow=True` takes
the `from_keras_model` path, for parity checks and benchmarks.

Imports nothing from the project; works with any single-input Keras model.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from tflite_bench import files, runtime

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")
"""float32: no quantization; float16: fp16 weights; dynamic: int8 weights, float activations;
int8: full-integer (weights and activations), needs representative data."""

_REPRESENTATIVE_SAMPLES = 100
"""At most this many representative images calibrate an int8 model."""


@dataclasses.dataclass(frozen=True)
class ConversionResult:
    """A converted model.

    Attributes:
      content: the .tflite flatbuffer.
      path: where it was written, or None.
      seconds: wall time of the conversion.
      ops: operator names in graph order (builtins by name, e.g. 'CONV_2D'; custom ops by code).
      quantization: one of QUANTIZATIONS.
      input_shape: the fixed input shape, batch 1 first.
    """

    content: bytes
    path: str | None
    seconds: float
    ops: tuple[str, ...]
    quantization: str
    input_shape: tuple[int, ...]

    @property
    def op_counts(self) -> dict[str, int]:
        """How often each operator occurs, most frequent first."""
        return dict(collections.Counter(self.ops).most_common())

    @property
    def size_bytes(self) -> int:
        """Size of the flatbuffer in bytes."""
        return len(self.content)


@dataclasses.dataclass(frozen=True)
class Parity:
    """How closely a .tflite reproduces its Keras model on some inputs.

    Attributes:
      max_abs_diff: largest absolute output difference.
      max_rel_diff: max_abs_diff divided by the largest absolute Keras output.
      top1_agreement: share of inputs whose arg-max over the last axis agrees.
      n: number of inputs compared.
    """

    max_abs_diff: float
    max_rel_diff: float
    top1_agreement: float
    n: int


# ---- reading .tflite flatbuffers ----


def _builtin_names() -> dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema

    return {
        value: name
        for name, value in vars(schema.BuiltinOperator).items()
        if not name.startswith("_") and isinstance(value, int)
    }


def list_ops(model: str | os.PathLike[str] | bytes) -> list[str]:
    """Operator names of a .tflite (path or bytes) in graph order, over all subgraphs. Builtins
    read as their enum name ('CONV_2D'); custom and Flex ops as their custom code
    ('FlexMatrixInverse'). Reads the flatbuffer, so delegates do not hide ops."""
    from ai_edge_litert import schema_py_generated as schema

    content = model if isinstance(model, bytes) else runtime.read_model_file(model)
    source = "model bytes" if isinstance(model, bytes) else str(model)
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ValueError(f"{source} is not a .tflite flatbuffer (no 'TFL3' identifier)")
    try:
        flat = schema.Model.GetRootAs(content, 0)
        names = _builtin_names()
        codes = []
        for index in range(flat.OperatorCodesLength()):
            code = flat.OperatorCodes(index)
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin == schema.BuiltinOperator.CUSTOM:
                custom = code.CustomCode()
                codes.append(custom.decode() if custom else "CUSTOM")
            else:
                codes.append(names.get(builtin, f"BUILTIN_{builtin}"))
        ops = []
        for sub in range(flat.SubgraphsLength()):
            graph = flat.Subgraphs(sub)
            for op_index in range(graph.OperatorsLength()):
                ops.append(codes[graph.Operators(op_index).OpcodeIndex()])
    except Exception as error:  # flatbuffers raises assorted errors on corrupt data
        raise ValueError(f"{source} is not a readable .tflite flatbuffer: {error}") from None
    return ops


def non_builtin_ops(ops: Iterable[str]) -> list[str]:
    """The Flex/Select-TF and custom ops among `ops` (sorted, distinct)."""
    builtins = set(_builtin_names().values()) - {"CUSTOM", "DELEGATE"}
    return sorted({op for op in ops if op not in builtins})


# ---- conversion ----


def _input_spec(model: Any) -> tuple[tuple[int, ...], Any]:
    import tensorflow as tf

    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1:
        count = "no" if not inputs else len(inputs)
        raise ValueError(f"convert needs a built model with exactly one input; got {count} inputs")
    shape = tuple(inputs[0].shape)[1:]
    if any(dim is None for dim in shape):
        raise ValueError(
            f"convert needs a fixed input shape (batch aside); model {model.name!r} has "
            f"{(None, *shape)}: build it with input_shape=(H, W, C)"
        )
    dtype = tf.as_dtype(getattr(inputs[0], "dtype", "float32") or "float32")
    return (1, *(int(dim) for dim in shape)), dtype


def _representative(data: Any, input_shape: tuple[int, ...]) -> Any:
    """A re-iterable representative_dataset callable from an array or iterable of images."""
    if data is None:
        raise ValueError("quantization='int8' needs representative_data (images like the inputs)")
    images = []
    for item in data if not isinstance(data, np.ndarray) else list(data):
        array = np.asarray(item, dtype=np.float32)
        if array.shape == input_shape[1:]:
            array = array[None]
        if array.ndim != len(input_shape) or array.shape[1:] != input_shape[1:]:
            raise ValueError(
                f"representative_data items must have shape {input_shape[1:]} or "
                f"{(None, *input_shape[1:])}; got {array.shape}"
            )
        images.extend(array[i : i + 1] for i in range(array.shape[0]))
        if len(images) >= _REPRESENTATIVE_SAMPLES:
            break
    if not images:
        raise ValueError("representative_data is empty; int8 calibration needs some images")
    images = images[:_REPRESENTATIVE_SAMPLES]

    def dataset():
        for image in images:
            yield [image]

    return dataset


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """Raises the 'absl' logger to ERROR for the duration (the converter's routine warnings)."""
    logger = logging.getLogger("absl")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


_SELECT_LINE = re.compile(r"^(TF Select ops|Custom ops|Flex ops): (.+)$", re.MULTILINE)


def _refusal(error: Exception, model_name: str) -> ValueError | None:
    """A clear ValueError when the converter failed for want of Flex/custom ops, else None."""
    message = str(error)
    found = {
        op.strip()
        for match in _SELECT_LINE.finditer(message)
        for op in match.group(2).split(",")
        if op.strip()
    }
    found |= set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", message))
    if not found and "ERROR_NEEDS_FLEX_OPS" not in message:
        return None
    return ValueError(
        f"model {model_name!r} needs ops outside the TFLite builtins (Flex/Select-TF or custom), "
        f"which this project does not ship to devices: {', '.join(sorted(found)) or '?'}. "
        "Replace them with Keras layers that convert to builtin ops."
    )


def convert(
    model: Any,
    *,
    quantization: str = "float32",
    representative_data: Any = None,
    int8_io: bool = False,
    output_path: str | os.PathLike[str] | None = None,
    slow: bool = False,
) -> ConversionResult:
    """Converts a single-input Keras model to a batch-1 .tflite with TFLite builtin ops only.

    Args:
      model: a built keras.Model with a fixed input shape (batch aside).
      quantization: one of QUANTIZATIONS.
      representative_data: array or iterable of input images (each (H, W, C) or (N, H, W, C)),
        required for 'int8'; at most 100 images are used.
      int8_io: for 'int8', make the model's input and output int8 too (else float32).
      output_path: where to write the .tflite (parent directories are created).
      slow: use `TFLiteConverter.from_keras_model` (dynamic batch, ~5× slower) instead of the
        fixed-batch concrete-function path.

    Raises:
      ValueError: a bad argument, or a graph that needs Flex/Select-TF or custom ops (named).
    """
    import tensorflow as tf

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}; got {quantization!r}")
    if int8_io and quantization != "int8":
        raise ValueError(f"int8_io=True needs quantization='int8'; got {quantization!r}")
    input_shape, dtype = _input_spec(model)
    dataset = _representative(representative_data, input_shape) if quantization == "int8" else None

    start = time.perf_counter()
    if slow:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    else:

        @tf.function(input_signature=[tf.TensorSpec(input_shape, dtype, name="images")])
        def serve(images):
            return model(images, training=False)

        # No trackable_obj: with the Keras model as one the converter loses Keras 3 variables
        # (NaN outputs); without one it freezes the captured variables as constants (and logs
        # a deprecation warning on every call, silenced here: this is the path we want).
        with _quiet_absl():
            converter = tf.lite.TFLiteConverter.from_concrete_functions(
                [serve.get_concrete_function()]
            )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = False
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    try:
        with _quiet_absl(), warnings.catch_warnings():
            # Emitted for every int8 concrete-function conversion; calibration supplies the stats.
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            content = converter.convert()
    except Exception as error:
        refusal = _refusal(error, getattr(model, "name", "model"))
        if refusal is not None:
            raise refusal from None
        raise
    seconds = time.perf_counter() - start

    ops = list_ops(content)
    foreign = non_builtin_ops(ops)
    if foreign:
        raise ValueError(
            f"model {getattr(model, 'name', 'model')!r} converted with non-builtin ops "
            f"{foreign}; only TFLite builtins are allowed"
        )
    path = None
    if output_path is not None:
        path = os.fspath(output_path)
        files.atomic_write(path, content, make_dirs=True)
    return ConversionResult(
        content=content,
        path=path,
        seconds=seconds,
        ops=tuple(ops),
        quantization=quantization,
        input_shape=input_shape,
    )


def parity(
    model: Any, tflite_path: str | os.PathLike[str] | bytes, inputs: np.ndarray | Sequence[Any]
) -> Parity:
    """Compares the Keras model with its .tflite on `inputs` (N, H, W, C): largest absolute and
    relative output difference and top-1 (arg-max over the last axis) agreement."""
    batch = np.asarray(inputs, dtype=np.float32)
    if batch.ndim == len(model.inputs[0].shape) - 1:
        batch = batch[None]
    expected = np.asarray(model(batch, training=False), dtype=np.float32)
    interpreter = runtime.load_interpreter(tflite_path)
    got = runtime.run(interpreter, batch)
    if got.shape != expected.shape:
        raise ValueError(
            f"output shapes differ: Keras {expected.shape}, .tflite {got.shape} "
            f"({tflite_path if not isinstance(tflite_path, bytes) else 'model bytes'})"
        )
    diff = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    flat_expected = expected.reshape(expected.shape[0], -1, expected.shape[-1])
    flat_got = got.reshape(got.shape[0], -1, got.shape[-1])
    agreement = float(np.mean(flat_expected.argmax(-1) == flat_got.argmax(-1)))
    return Parity(
        max_abs_diff=diff,
        max_rel_diff=diff / scale if scale > 0 else diff,
        top1_agreement=agreement,
        n=int(batch.shape[0]),
    )
