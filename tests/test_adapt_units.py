"""NetAdapt's width units and proposals: which widths shrink together, that a shrink keeps every
residual, and that a proposal is the largest width meeting the latency cut (TF-free)."""

from __future__ import annotations

import pytest

from mnasnet_tf import arch_string, zoo
from search.adapt import units


def _names(arch):
    return [unit.name for unit in units.width_units(arch)]


def test_residual_chains_shrink_together():
    arch = zoo.get_arch("mobilenet-v3-large")
    names = _names(arch)
    # the stem feeds block 1's residual; blocks 5-7 (80 channels) add into each other
    assert names[:2] == ["width0-1", "width2-3"]
    assert "width5-7" in names and "width5" not in names
    assert names[-2:] == ["head", "pre_logits"]
    unit = next(u for u in units.width_units(arch) if u.name == "width5-7")
    narrow = units.shrink(arch, unit, 64)
    assert [b.output_filters for b in narrow.blocks[4:7]] == [64, 64, 64]
    layers = {layer.name: layer for layer in narrow.layers()}
    assert layers["block6a"].has_residual and layers["block7b"].has_residual
    assert narrow.blocks[7].output_filters == 112  # the next chain is untouched


def test_stem_chain_and_declared_inputs_follow():
    arch = zoo.get_arch("mnasnet-a1")  # blocks declare input_filters
    unit = next(u for u in units.width_units(arch) if u.name == "width3")
    narrow = units.shrink(arch, unit, 32)
    assert narrow.blocks[2].output_filters == 32
    assert narrow.blocks[3].input_filters == 32  # block 4 is fed by the chain
    assert narrow.blocks[2].input_filters == 24  # block 3's own input is another chain's
    stem = units.width_units(arch)[0]
    assert stem.name == "width0" and units.shrink(arch, stem, 24).stem_filters == 24


def test_expansion_of_one_layer_becomes_explicit_and_ratio_blocks_keep_a_ratio():
    arch = zoo.get_arch("mobilenet-v3-small")
    by_name = {u.name: u for u in units.width_units(arch)}
    one = units.shrink(arch, by_name["expand2"], 48)
    assert one.blocks[1].expand_filters == 48
    assert arch_string.encode(one).split(":")[1] == "r1_k3_s22_x48_o24_relu"
    many = units.shrink(arch, by_name["expand5"], 160)  # r2 e6 o40
    assert many.blocks[4].expand_ratio == 4.0
    assert [layer.expanded for layer in many.layers() if layer.block_index == 5] == [160, 160]
    assert units.current_width(many, by_name["expand5"]) == 160


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.list_models())
def test_every_shrink_keeps_the_topology_and_sets_the_width(name):
    arch = zoo.get_arch(name)
    for unit in units.width_units(arch):
        widths = units.candidate_widths(arch, unit)
        assert widths == sorted(widths, reverse=True)
        assert all(w % 8 == 0 and 8 <= w < units.current_width(arch, unit) for w in widths)
        for width in widths:
            narrow = units.shrink(arch, unit, width)
            if narrow is None:
                continue
            assert units._topology(narrow) == units._topology(arch)
            if unit.kind != "expansion" or arch.blocks[unit.blocks[0] - 1].num_repeat == 1:
                assert units.current_width(narrow, unit) == width
            others = {k: v for k, v in units.describe(narrow).items() if k != unit.name}
            before = units.describe(arch)
            # other units keep their widths (an expansion may follow a narrower input)
            changed = [k for k, v in others.items() if v != before[k]]
            assert all(k.startswith("expand") for k in changed), (unit.name, width, changed)


def test_a_shrink_that_would_add_a_residual_is_refused():
    arch = zoo.get_arch("mobilenet-v3-small")
    unit = next(u for u in units.width_units(arch) if u.name == "width6")  # 40 -> 48
    assert units.shrink(arch, unit, 40) is None  # 40 in, 40 out: a residual would appear
    assert units.shrink(arch, unit, 32) is not None


@pytest.mark.parametrize("width", [0, 7, 16, 24, 2.5, "8"])
def test_bad_widths_are_refused_with_the_value(width):
    arch = zoo.get_arch("mobilenet-v3-small")
    unit = next(u for u in units.width_units(arch) if u.name == "width1")  # 16 channels
    with pytest.raises(ValueError, match=f"width1.*got {width!r}"):
        units.shrink(arch, unit, width)


class _WidthSumEstimator:
    """Latency = the sum of every unit's width (µs); counts the calls."""

    def __init__(self):
        self.calls = 0

    def estimate(self, arch):
        self.calls += 1
        return float(sum(units.describe(arch).values()))


def test_proposals_are_the_largest_widths_meeting_the_cut():
    arch = zoo.get_arch("mobilenet-v3-small")
    estimator = _WidthSumEstimator()
    estimate = estimator.estimate(arch)
    cut = 20.0
    proposals = units.propose(arch, estimator, estimate, cut)
    assert proposals
    for proposal in proposals:
        assert proposal.cut_ms >= cut
        wider = [
            w
            for w in units.candidate_widths(arch, proposal.unit)
            if w > proposal.width and units.shrink(arch, proposal.unit, w)
        ]
        for width in wider:  # every wider option misses the cut
            assert estimate - estimator.estimate(units.shrink(arch, proposal.unit, width)) < cut
    names = {p.unit.name for p in proposals}
    assert "width0" not in names  # 16 → 8 saves at most 8 (+ what follows) < 20
    assert {"head", "pre_logits", "expand7"} <= names


def test_when_no_unit_meets_the_cut_each_proposes_its_narrowest():
    arch = zoo.get_arch("mobilenet-v3-small")
    estimator = _WidthSumEstimator()
    proposals = units.propose(arch, estimator, estimator.estimate(arch), 10_000.0)
    assert len(proposals) == len(units.width_units(arch))
    for proposal in proposals:
        valid = [
            w
            for w in units.candidate_widths(arch, proposal.unit)
            if units.shrink(arch, proposal.unit, w)
        ]
        assert proposal.width == valid[-1]


def test_an_architecture_at_the_narrowest_widths_has_no_proposal():
    arch = arch_string.decode("r1_k3_s11_e1_i8_o8_noskip").replace(stem_filters=8, head_filters=8)
    assert units.propose(arch, _WidthSumEstimator(), 24.0, 1.0) == []
