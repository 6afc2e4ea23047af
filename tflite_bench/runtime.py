"""The host LiteRT runtime: load a .tflite into an interpreter and run it on float images.

Owns loading (`ai_edge_litert.interpreter.Interpreter`, XNNPACK by default, a given thread count)
with clear errors for a missing, empty or corrupt file — always naming the path — and running a
batch through a batch-1 model, quantizing int8/uint8 inputs and dequantizing outputs.

Imports nothing from the project.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from typing import Any

import numpy as np

RUNTIME_NAME = "ai-edge-litert"
# XNNPACK takes a quantized conv/dense only when input_scale * weight_scale / output_scale lies in
# [2^-32, 256); outside it delegation fails, and LiteRT 2.3 then aborts the process.
_XNNPACK_RATIO = (2.0**-32, 256.0)
_QUANTIZED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
log = logging.getLogger(__name__)


def runtime_version() -> str:
    """Version of the installed LiteRT package."""
    try:
        return importlib.metadata.version(RUNTIME_NAME)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def load_interpreter(
    model: str | os.PathLike[str] | bytes, *, num_threads: int = 1, use_xnnpack: bool = True
) -> Any:
    """An allocated LiteRT interpreter for a .tflite path or its bytes.

    Raises:
      FileNotFoundError: the path does not exist (the message names it).
      ValueError: the file is empty, a directory, not a .tflite, or cannot be allocated (named).
    """
    from ai_edge_litert import interpreter as litert

    if not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive integer; got {num_threads!r}")
    if isinstance(model, (bytes, bytearray)):
        content, source = bytes(model), "model bytes"
        if not content:
            raise ValueError("model bytes are empty")
    else:
        source = os.fspath(model)
        content = read_model_file(source)
    # Checked here because the flatbuffer reader trusts the identifier of what it maps.
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ValueError(f"not a .tflite model (no 'TFL3' identifier): {source}")
    builtin = litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        interpreter = litert.Interpreter(
            model_content=content, num_threads=num_threads, experimental_op_resolver_type=builtin
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise ValueError(f"cannot load .tflite model {source}: {error}") from None
    if not use_xnnpack:
        return interpreter
    rejected = xnnpack_rejections(interpreter)
    if rejected:
        log.warning(
            "%s: XNNPACK cannot take %d quantized layer(s) (requantization scale out of range, "
            "e.g. %s; usually a layer whose activations collapsed in training); running on the "
            "builtin kernels instead, which is slower",
            source,
            len(rejected),
            rejected[0],
        )
        return interpreter
    interpreter = litert.Interpreter(
        model_content=content,
        num_threads=num_threads,
        experimental_op_resolver_type=litert.OpResolverType.AUTO,
    )
    interpreter.allocate_tensors()
    return interpreter


def read_model_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a model file; a missing path, a directory or an empty file raise an error
    naming the path."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"expected a .tflite file; got a directory: {path}")
    with open(path, "rb") as handle:
        content = handle.read()
    if not content:
        raise ValueError(f"model file is empty: {path}")
    return content


def xnnpack_rejections(interpreter: Any) -> list[str]:
    """Quantized conv/dense layers XNNPACK would refuse (their requantization scale
    input·weight/output lies outside [2^-32, 256)), as 'OP tensor-name (ratio)' strings.
    Delegating such a model makes LiteRT 2.3 abort the whole process, so callers check first."""
    details = {d["index"]: d for d in interpreter.get_tensor_details()}

    def scales(index: int) -> np.ndarray:
        detail = details.get(index)
        if detail is None:
            return np.zeros(0)
        return np.asarray(detail["quantization_parameters"]["scales"], dtype=np.float64)

    rejected = []
    for op in interpreter._get_ops_details():  # LiteRT exposes op inputs only through this
        if op["op_name"] not in _QUANTIZED_OPS or len(op["inputs"]) < 2:
            continue
        s_in, s_w, s_out = (
            scales(op["inputs"][0]),
            scales(op["inputs"][1]),
            scales(op["outputs"][0]),
        )
        if not (s_in.size and s_w.size and s_out.size) or s_out[0] == 0:
            continue
        ratio = s_in[0] * s_w / s_out[0]
        low, high = float(ratio.min()), float(ratio.max())
        if low < _XNNPACK_RATIO[0] or high >= _XNNPACK_RATIO[1]:
            name = details[op["outputs"][0]]["name"].split(";")[0]
            rejected.append(f"{op['op_name']} {name} (ratio {low:.3g}..{high:.3g})")
    return rejected


def input_shape(interpreter: Any) -> tuple[int, ...]:
    """Shape of the model's (first) input, batch included."""
    return tuple(int(dim) for dim in interpreter.get_input_details()[0]["shape"])


def quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Float values → the tensor's dtype (int8/uint8 with its scale and zero point; else a cast)."""
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.integer):
        scale, zero_point = detail["quantization"]
        if scale:
            values = np.round(values / scale + zero_point)
        info = np.iinfo(dtype)
        return np.clip(values, info.min, info.max).astype(dtype)
    return values.astype(dtype)


def dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """A tensor's values as float32 (int8/uint8 with its scale and zero point)."""
    scale, zero_point = detail["quantization"]
    if np.issubdtype(values.dtype, np.integer) and scale:
        return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return values.astype(np.float32)


def run(interpreter: Any, inputs: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
    """Runs float `inputs` (N, H, W, C), or one image (H, W, C), through `interpreter` one batch
    at a time; returns float32 outputs stacked over N (a tuple if the model has several)."""
    detail = interpreter.get_input_details()[0]
    shape = tuple(int(dim) for dim in detail["shape"])
    batch = np.asarray(inputs, dtype=np.float32)
    if batch.ndim == len(shape) - 1:
        batch = batch[None]
    if batch.ndim != len(shape) or batch.shape[1:] != shape[1:]:
        raise ValueError(
            f"inputs must have shape (N, {', '.join(map(str, shape[1:]))}); got {batch.shape}"
        )
    step = shape[0] if shape[0] > 0 else batch.shape[0]
    outputs = interpreter.get_output_details()
    collected: list[list[np.ndarray]] = [[] for _ in outputs]
    for start in range(0, batch.shape[0], step):
        chunk = batch[start : start + step]
        if chunk.shape[0] != step:
            raise ValueError(f"the model takes batches of {step}; got {batch.shape[0]} inputs")
        interpreter.set_tensor(detail["index"], quantize(chunk, detail))
        interpreter.invoke()
        for index, output in enumerate(outputs):
            collected[index].append(dequantize(interpreter.get_tensor(output["index"]), output))
    results = tuple(np.concatenate(parts, axis=0) for parts in collected)
    return results[0] if len(results) == 1 else results
