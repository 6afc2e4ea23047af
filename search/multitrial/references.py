"""Reference models on the search's own terms: the zoo models a user could have used anyway,
trained on the same proxy with the same seeding policy as every trial and measured on the same
latency backend, so each becomes a point (accuracy, latency) the found models are judged against.

Owns `resolve` (names → architectures, a clear error for an unknown name, checked before
anything is written) and `proxy_references` (train + measure, cached in the project's
`references.json` so a resumed search never retrains them). TensorFlow comes in only through
`search.proxy.task.run_proxy`, lazily. Must not import the tuner, oracle or binaries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from mnasnet_tf import arch_string, specs, zoo
from search.proxy.task import ProxyTask, run_proxy
from search.results import report

log = logging.getLogger("mnasnet_tf.search")

CACHE_FORMAT = "mnasnet-tf/references-v1"


def resolve(names: Sequence[str]) -> list[tuple[str, specs.ArchSpec]]:
    """(name, architecture) for each non-empty zoo name; ValueError naming an unknown one."""
    resolved = []
    for name in names:
        if not name:
            continue
        try:
            resolved.append((name, zoo.get_arch(name)))
        except ValueError as error:
            raise ValueError(f"--references: {error}") from None
    return resolved


def _key(name: str, arch: specs.ArchSpec, task: ProxyTask, data, search_seed: int) -> str:
    identity = {
        "name": name,
        "arch": arch_string.encode(arch),
        "task": task.identity(),
        "search_seed": search_seed,
        "data": {
            key: getattr(data, key, None)
            for key in ("dataset", "image_size", "batch_size", "split_seed")
        },
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def load_cache(path: str) -> dict[str, Any]:
    """The cached reference results in `path` ({} when missing; a warning naming the file when
    it is unreadable, and the references are then retrained)."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), dict):
            raise ValueError(f"not a {CACHE_FORMAT} file")
        return data["entries"]
    except (OSError, ValueError, AttributeError) as error:
        log.warning("reference cache %s is unreadable (%s); retraining the references", path, error)
        return {}


def untrained(
    names: Sequence[str], *, task: ProxyTask, data, search_seed: int, cache_path: str | None
) -> list[str]:
    """The names among `names` that `proxy_references` would train (not in the cache)."""
    entries = load_cache(cache_path) if cache_path else {}
    return [
        name
        for name, arch in resolve(names)
        if _key(name, arch, task, data, search_seed) not in entries
    ]


def proxy_references(
    names: Sequence[str],
    *,
    meter,
    task: ProxyTask,
    data,
    search_seed: int,
    cache_path: str | None = None,
    measure_only: bool = False,
    on_reference: Callable[[report.ReferencePoint, bool], None] | None = None,
) -> list[report.ReferencePoint]:
    """Each reference model's latency on `meter` and its accuracy on the proxy (`task`, `data`,
    seeded like a trial by `search_seed` and its architecture). Results are cached in
    `cache_path` after each model. `measure_only` skips training (latency lines, no accuracy).
    A reference whose training fails (NaN loss) keeps no accuracy and is logged.
    `on_reference(point, cached)` is called as each one is ready."""
    entries = load_cache(cache_path) if cache_path else {}
    points = []
    for name, arch in resolve(names):
        latency = meter.measure(arch, name=name)
        accuracy = accuracy_std = None
        cached = False
        if not measure_only:
            key = _key(name, arch, task, data, search_seed)
            entry = entries.get(key)
            cached = entry is not None
            if entry is None:
                start = time.perf_counter()
                outcome, _ = run_proxy(arch, task=task, data=data, search_seed=search_seed)
                entry = {
                    "name": name,
                    "arch": arch_string.encode(arch),
                    "accuracy": None if outcome.nan else outcome.accuracy,
                    "accuracy_std": None if outcome.nan else outcome.accuracy_std,
                    "accuracies": list(outcome.accuracies),
                    "seeds": list(outcome.seeds),
                    "seconds": time.perf_counter() - start,
                }
                if outcome.nan:
                    log.warning("reference %s: NaN loss on the proxy; drawn without accuracy", name)
                entries[key] = entry
                if cache_path:
                    report.write_json({"format": CACHE_FORMAT, "entries": entries}, cache_path)
            accuracy, accuracy_std = entry["accuracy"], entry["accuracy_std"]
        point = report.ReferencePoint(
            name=name,
            latency_ms=meter.figure(latency),
            accuracy=accuracy,
            accuracy_std=accuracy_std if task.repeats > 1 else None,
            arch=arch_string.encode(arch),
        )
        if on_reference is not None:
            on_reference(point, cached)
        points.append(point)
    return points
