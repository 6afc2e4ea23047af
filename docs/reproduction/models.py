"""§1 of the reproduction report: the published figures of MnasNet, MobileNetV2 and
MobileNetV3 (each with its source) and the zoo's parameters and multiply-adds beside them
(computed with `mnasnet_tf.stats`).

Must not import TensorFlow.
"""

from __future__ import annotations

from mnasnet_tf import stats, zoo

from .common import fmt, table

MNASNET_PAPER = "MnasNet paper (Tan et al., CVPR 2019)"


MOBILENET_V2_PAPER = "MobileNetV2 paper (Sandler et al., CVPR 2018)"


MOBILENET_V3_PAPER = "MobileNetV3 paper (Howard et al., ICCV 2019)"


PAPERS = {
    # model: (params M, MACs M, ImageNet top-1 %, Pixel 1 float latency ms, source)
    "mnasnet-a1": (3.9, 312, 75.2, 78, MNASNET_PAPER),
    "mnasnet-b1": (4.4, None, 74.5, None, MNASNET_PAPER),
    "mnasnet-small": (2.0, 68, None, None, "tensorflow/tpu mnasnet README (MnasNet-small)"),
    "mobilenet-v2": (3.4, 300, 72.0, 75, MOBILENET_V2_PAPER),
    "mobilenet-v2 ×1.4": (6.9, 585, 74.7, 143, MOBILENET_V2_PAPER),
    "mobilenet-v3-large": (5.4, 219, 75.2, 51, MOBILENET_V3_PAPER),
    "mobilenet-v3-small": (2.5, 56, 67.4, 15.8, MOBILENET_V3_PAPER),
}


REFERENCE_IMPLEMENTATIONS = {
    # model: (params, MACs M, source); exact integers are trainable parameters of the built model
    "mnasnet-a1": (3.9e6, 315.2, "tensorflow/tpu mnasnet README (3.9 M, 315.2 M MACs)"),
    "mnasnet-small": (2.0e6, 68, "tensorflow/tpu mnasnet README (2.0 M, 68 M MACs)"),
    "mobilenet-v2": (3_504_872, None, "keras.applications MobileNetV2, trainable (golden test)"),
    "mobilenet-v2 ×1.4": (6_108_776, None, "keras.applications MobileNetV2(alpha=1.4), trainable"),
    "mobilenet-v3-large": (
        5_483_032,
        217,
        "keras.applications MobileNetV3Large, trainable; MACs from its docstring",
    ),
    "mobilenet-v3-small": (2_542_856, None, "keras.applications MobileNetV3Small, trainable"),
}


PIXEL1_RATIOS = {
    # model: [(latency ÷ MobileNetV2 on a Pixel 1, how)]
    "mobilenet-v2": [(1.0, "75/75 (MnasNet); 64/64 (V3)")],
    "mobilenet-v2 ×1.4": [(143 / 75, "143/75 (MnasNet)")],
    "mnasnet-a1": [(78 / 75, "78/75 (MnasNet)"), (71 / 64, "71/64 (V3)")],
    "mobilenet-v3-large": [(51 / 64, "51/64 (V3)")],
    "mobilenet-v3-small": [(15.8 / 64, "15.8/64 (V3)")],
}


NN_METER = "nn-Meter: 99% of predictions within ±10% on mobile CPUs (fused-kernel predictors)"


def section_architectures() -> list[str]:
    """Params and MACs of every zoo model beside the papers' and reference implementations'."""
    lines = [
        "## 1. Architectures: parameters and multiply-adds",
        "",
        "Ours: `mnasnet_tf.stats.arch_stats` (trainable parameters, equal to Keras' count of the "
        "built model; multiply-adds of convolutions and the classifier), 1000 classes, at 224² "
        "(MnasNet-D1-320 at 320²). Papers: the published figures. Reference implementations: "
        "exact trainable counts of keras.applications' built models (checked by golden tests in "
        "`tests/test_zoo.py`), or the figures the reference code's README publishes.",
        "",
    ]
    names = [(name, 1.0) for name in zoo.list_models()] + [("mobilenet-v2", 1.4)]
    rows = []
    for name, width in names:
        label = name if width == 1.0 else f"{name} ×{width:g}"
        size = 320 if name == "mnasnet-d1-320" else 224
        counted = stats.arch_stats(zoo.get_arch(name, width=width), image_size=size)
        paper = PAPERS.get(label, (None,) * 5)
        reference = REFERENCE_IMPLEMENTATIONS.get(label, (None, None, ""))
        ref_params = reference[0]
        if isinstance(ref_params, int):
            ref_params_text = f"{ref_params:,}"
        else:
            ref_params_text = "–" if ref_params is None else f"{ref_params / 1e6:.1f} M"
        rows.append(
            [
                label,
                f"{size}²",
                f"{counted.params:,}",
                fmt(paper[0], 1),
                ref_params_text,
                fmt(counted.macs / 1e6, 1),
                fmt(paper[1], 0),
                fmt(reference[1], 1),
                fmt(paper[2], 1),
            ]
        )
    lines += table(
        [
            "model",
            "res.",
            "params (ours)",
            "params M (paper)",
            "params (reference impl.)",
            "MACs M (ours)",
            "MACs M (paper)",
            "MACs M (reference impl.)",
            "ImageNet top-1 % (paper)",
        ],
        rows,
    )
    lines += ["", "Sources:", ""]
    for label in [name if width == 1.0 else f"{name} ×{width:g}" for name, width in names]:
        parts = []
        if label in PAPERS:
            parts.append(f"published: {PAPERS[label][4]}")
        if label in REFERENCE_IMPLEMENTATIONS:
            parts.append(f"reference implementation: {REFERENCE_IMPLEMENTATIONS[label][2]}")
        if parts:
            lines.append(f"- {label}: " + "; ".join(parts) + ".")
    lines += [
        "",
        "Differences: the MobileNetV2 paper gives 6.9 M parameters for ×1.4, where "
        "keras.applications and we count 6.1 M (same graph); the MobileNetV3 paper's MACs differ "
        "from ours by under 2% (counting conventions: we count the SE and classifier "
        "multiply-adds, not activations); MnasNet-D1/D1-320 are detection backbones "
        "(MnasFPN) with no published classification figures. We do not reproduce ImageNet "
        "top-1 (section 9).",
    ]
    return lines
