"""What a search needs before its first trial trains, checked before its project folder exists.

Owns the start-up checks of `run_search` (search/multitrial/run.py), each a ValueError that names
the flag,
the file or the value and says what to do (`run_search` raises it as `SearchSetupError`, which
the binary prints as one line):

- `check_before_data(config)`: `--directory/--project_name` is, or can become, a folder this
  process may write in; a project to resume has a readable oracle state (oracle.json or its
  backup, search/multitrial/project_files.py); every image of a `folder:` data set decodes
  (`mnasnet_tf.data.verify_folder`: one pass of decoding, instead of every trial failing in its
  first epoch; `data.load` then refuses a data set of fewer than two classes);
- `check_backend(config, meter=..., space=...)`: the latency backend answers before anything
  trains: adb found, one device ready and the benchmark_model file there (`--backend=adb`); a
  latency table that has every part of `TABLE_SAMPLES` architectures sampled from the space and
  of the reference models (`--backend=predictor`);
- `removes_empty_folders`: the decorator of `run_search` that takes back the project folder it
  created when the search fails before writing anything there;
- `warn_unless_loopback(ip, port)`: keras-tuner's chief serves gRPC without authentication, so a
  chief bound where other hosts can reach it says so.

Imports TensorFlow only to decode a folder data set's images; must not import the tuner or the
oracle.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import os
import socket
import tempfile
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from search.multitrial.config import SearchConfig

log = logging.getLogger("mnasnet_tf.search")

TABLE_SAMPLES = 20
"""Architectures sampled from the space whose parts a predictor table must have."""
_Result = TypeVar("_Result")


def check_before_data(config: SearchConfig) -> None:
    """The project folder can be written, a project to resume can be read and a folder data
    set decodes (see the module doc)."""
    check_directory(config)
    check_project(config)
    if config.dataset.startswith("folder:"):
        from mnasnet_tf import data

        log.info("checking that every image of %s decodes (once per run)", config.dataset)
        count = data.verify_folder(config.dataset[len("folder:") :])
        log.info("%s: all %d images decode", config.dataset, count)


def check_directory(config: SearchConfig) -> None:
    """ValueError unless `config.project_dir` is a folder this process may write in, or can be
    created as one (a part of its path that is a file, a read-only disk, no permission)."""
    target = os.path.abspath(config.project_dir)
    existing = target
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    where = f"--directory={config.directory!r} (project {config.project_name!r})"
    if not os.path.isdir(existing):
        raise ValueError(f"{where}: {existing} is a file, not a folder; choose another --directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ValueError(
            f"{where}: cannot write in {existing} ({error.strerror or error}); choose a writable "
            "--directory"
        ) from None


def check_project(config: SearchConfig) -> None:
    """A project this process will resume (not `overwrite`, not a worker) has an oracle state it
    can read: `search.multitrial.project_files.CorruptProjectError` (a ValueError) naming the files
    otherwise."""
    path = os.path.join(config.project_dir, "oracle.json")
    worker = "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get(
        "KERASTUNER_TUNER_ID", ""
    )
    if config.overwrite or worker or not any(map(os.path.exists, (path, f"{path}.bak"))):
        return
    from search.multitrial import project_files

    project_files.load_oracle_state(path, warn=False)


def check_backend(config: SearchConfig, *, meter: Any, space: Any) -> None:
    """The latency backend of `meter` can measure (adb) or predict (a table) what the search
    will ask it for (see the module doc)."""
    if config.backend == "adb" or (config.backend == "hybrid" and meter.device.name == "adb"):
        from tflite_bench import adb

        try:
            serial = meter.device.check_ready()
        except adb.AdbError as error:
            raise ValueError(f"--backend=adb: {error}") from None
        log.info("adb device %s ready", serial)
    if config.backend in ("predictor", "hybrid"):
        # The hybrid backend measures what its table cannot predict (the reference models).
        check_table(
            config, backend=meter.predictor, space=space, references=config.backend == "predictor"
        )


def check_table(config: SearchConfig, *, backend: Any, space: Any, references: bool = True) -> None:
    """ValueError naming the parts that `backend`'s table (a `TableBackend`) lacks among those of
    `TABLE_SAMPLES` architectures sampled from `space` (seeded by `config.seed`), the space's
    default architecture and, with `references`, the reference models (with MobileNetV2 for the
    default target). First, a table that records coverage must cover the space here."""
    from mnasnet_tf import zoo
    from search.latency.coverage import coverage_id
    from search.multitrial.references import resolve

    try:
        backend.table.check_covers(coverage_id(space.name, backend.image_size, backend.classes))
    except ValueError as error:
        raise ValueError(f"--predictor_table={config.predictor_table}: {error}") from None
    rng = np.random.default_rng(config.seed)
    archs = [space.to_arch(space.default_choices(), name=f"{space.name} (default)")]
    archs += [
        space.to_arch(space.sample(rng), name=f"{space.name} sample {i}")
        for i in range(TABLE_SAMPLES)
    ]
    if references:
        archs += [arch.replace(name=name) for name, arch in resolve(config.references)]
        if config.latency_target_ms is None:
            archs.append(zoo.get_arch("mobilenet-v2"))
    missing: dict[str, list[str]] = {}
    for arch in archs:
        keys = backend.table.missing(arch, image_size=backend.image_size, classes=backend.classes)
        for key in keys:
            missing.setdefault(key, []).append(arch.name)
    if not missing:
        return
    lacking = sorted({name for names in missing.values() for name in names})
    shown = ", ".join(list(missing)[:3]) + (" …" if len(missing) > 3 else "")
    raise ValueError(
        f"--predictor_table={config.predictor_table}: the table lacks {len(missing)} part(s) at "
        f"{config.latency_image_size}² with {backend.classes} classes that the search needs "
        f"(of {len(lacking)} of {len(archs)} architectures checked: "
        f"{', '.join(lacking[:4])}{' …' if len(lacking) > 4 else ''}), e.g. {shown}; build the "
        "table for this space, --latency_image_size and data set (`tflite-bench --build_table "
        f"--table={config.predictor_table} --image_size={config.latency_image_size} "
        f"--classes={backend.classes} --model=...`)"
    )


def removes_empty_folders(run: Callable[..., _Result]) -> Callable[..., _Result]:
    """Decorates `run(config, ...)`: when it raises (a setting found bad late, Ctrl-C during
    start-up) the folders of `config.project_dir` that it created and left empty are removed,
    so a failed start leaves nothing behind. A folder with anything in it is kept."""

    @functools.wraps(run)
    def wrapper(config: SearchConfig, *args: Any, **kwargs: Any) -> _Result:
        created = []
        folder = os.path.abspath(config.project_dir)
        while not os.path.exists(folder):
            created.append(folder)  # deepest first
            folder = os.path.dirname(folder)
        try:
            return run(config, *args, **kwargs)
        except BaseException:
            for folder in created:
                with contextlib.suppress(OSError):  # not empty, or already gone
                    os.rmdir(folder)
            raise

    return wrapper


def warn_unless_loopback(ip: str, port: int | str) -> bool:
    """Logs a warning (and returns True) when a chief serving its oracle on `ip` can be reached
    from other hosts: keras-tuner's gRPC has no authentication, so any host that reaches the port
    can submit trial results."""
    if _is_loopback(ip):
        return False
    log.warning(
        "the chief serves its oracle on %s:%s without authentication: any host that can reach "
        "this port can submit trial results. Run it on a trusted network only, or bind it to "
        "127.0.0.1 and let workers reach it through an SSH tunnel (ssh -N -L %s:127.0.0.1:%s "
        "<chief host>)",
        ip,
        port,
        port,
        port,
    )
    return True


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: loopback when every address it resolves to is
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            return False
        return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)
