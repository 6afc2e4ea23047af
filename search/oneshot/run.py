"""The one-shot search loop: warm up a supernet, learn an architecture distribution, evaluate.

Owns `run(config)`: the data (train split for the shared weights, validation split for the
policy and for the final one-shot accuracies), the latency table (given, or built in the output
directory for the space at the latency resolution), the supernet and its optimizer, the epochs
(weight steps on paths the policy samples, alternating with policy steps after the warm-up),
a checkpoint after every epoch (`outputs.Checkpoint`), and the final evaluation of
`final_archs` distinct architectures with shared weights, then the reports (search/oneshot/
outputs.py).

Imports TensorFlow; read by the binary (search/cli/mnasnet_oneshot.py) and the Python API.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mnasnet_tf import arch_string, data, specs
from search.controllers import reward as reward_lib
from search.latency import build as table_build
from search.latency import coverage
from search.latency.table import LatencyTable, load_table
from search.oneshot import outputs
from search.oneshot import supernet as supernet_lib
from search.oneshot.algorithms import DnasPolicy, TunasPolicy
from search.oneshot.config import OneShotConfig
from search.oneshot.skeleton import Skeleton
from search.results import trial_record
from search.spaces import registry as space_registry

log = logging.getLogger("mnasnet_tf.oneshot")
POLICY_BATCHES = 32
"""Validation batches kept in memory for the policy steps."""
MAX_FINAL_TRIES = 50
"""Draws per wanted architecture before the final evaluation fills up with uniform samples."""


class Search:
    """One one-shot search in progress (see `run`)."""

    def __init__(self, config: OneShotConfig) -> None:
        self.config = config
        self.space = space_registry.get_space(config.space)
        self.skeleton = Skeleton.from_space(self.space)
        self.image_size = config.image_size or data.default_image_size(
            config.dataset, data_dir=config.data_dir
        )
        self.latency_image_size = config.latency_image_size or self.image_size
        common = {
            "image_size": self.image_size,
            "data_dir": config.data_dir,
            "validation_size": config.validation_size,
            "seed": config.seed,
        }
        train, info = data.load(
            config.dataset,
            split="train",
            batch_size=config.batch_size,
            train_subset=config.train_subset,
            **common,
        )
        self.classes = info.num_classes
        self.steps_per_epoch = info.num_batches
        # One iterator for the whole run (an epoch is `steps_per_epoch` batches of it).
        self._batches = iter(without_autotune(train).repeat())
        policy_batches, _ = data.load(
            config.dataset,
            split="validation",
            batch_size=min(config.eval_batch_size, config.batch_size),
            shuffle=True,
            drop_remainder=True,
            **common,
        )
        # Policy steps draw from these batches, kept in memory (re-running the pipeline for
        # every step cost more than the step on digits).
        self.policy_batches = list(policy_batches.take(POLICY_BATCHES))
        self.validation, _ = data.load(
            config.dataset, split="validation", batch_size=config.eval_batch_size, **common
        )
        self.validation = without_autotune(self.validation)  # an iterator per architecture
        self.table = open_table(config, self.space, self.latency_image_size, self.classes)
        default = self.space.to_arch(self.space.default_choices())
        self.reference_ms = self.latency(default)
        self.target_ms = config.latency_target_ms or self.reference_ms
        self.rng = np.random.default_rng(config.seed)
        keras.utils.set_random_seed(config.seed)
        self.net = supernet_lib.Supernet(self.skeleton, classes=self.classes)
        shape = (1, self.image_size, self.image_size, 3)
        self.ones = tf.constant(supernet_lib.ones_gates(self.skeleton))
        self.net(np.zeros(shape, np.float32), self._path(default), self.ones, training=False)
        total_steps = config.epochs * self.steps_per_epoch
        schedule = keras.optimizers.schedules.CosineDecay(
            config.learning_rate * config.batch_size / 256.0, total_steps
        )
        self.optimizer = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True)
        self.optimizer.build(self.net.trainable_variables)
        rl_steps = (config.epochs - config.warmup_epochs) * self.steps_per_epoch
        if config.algorithm == "tunas":
            self.policy: TunasPolicy | DnasPolicy = TunasPolicy(
                self.space.choice_sizes(),
                learning_rate=config.rl_learning_rate,
                ramp_samples=max(1, rl_steps // 4),
                seed=config.seed,
            )
        else:
            self.policy = DnasPolicy(
                self.space.choice_sizes(),
                learning_rate=config.arch_learning_rate,
                alpha=config.latency_alpha,
                beta=config.latency_beta,
                seed=config.seed,
            )
        self.reward = None
        if config.reward in ("soft", "hard"):
            self.reward = reward_lib.RewardConfig.from_flags(
                config.reward, self.target_ms, config.soft_w if config.reward == "soft" else None
            )
        self._latency_cache: dict[tuple[int, ...], float] = {}
        self._weight_step = self._make_weight_step()
        self._correct = self._make_correct()

    # ---- pieces ----

    def latency(self, arch: specs.ArchSpec) -> float:
        """Table latency (ms) of `arch` at the latency resolution."""
        return self.table.predict(arch, image_size=self.latency_image_size, classes=self.classes)

    def choice_latency(self, choices: Sequence[int]) -> float:
        key = tuple(int(c) for c in choices)
        if key not in self._latency_cache:
            self._latency_cache[key] = self.latency(self.space.to_arch(list(key)))
        return self._latency_cache[key]

    def _path(self, arch: specs.ArchSpec, *, widest: bool = False) -> list[dict[str, Any]]:
        return supernet_lib.path_tensors(self.skeleton.encode(self.space, arch, widest=widest))

    def _make_weight_step(self):
        net, optimizer = self.net, self.optimizer

        @tf.function
        def step(images, labels, path, gates):
            with tf.GradientTape() as tape:
                logits = net(images, path, gates, training=True)
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
                )
            grads = tape.gradient(loss, net.trainable_variables)
            optimizer.apply_gradients(zip(grads, net.trainable_variables, strict=True))
            return loss

        return step

    def _make_correct(self):
        net = self.net

        @tf.function
        def correct(images, labels, path, gates):
            # Batch statistics: a path's BN statistics are those of its own activations.
            logits = net(images, path, gates, training=True)
            hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
            return tf.reduce_sum(tf.cast(hits, tf.float32))

        return correct

    def score(self, accuracy: float, latency_ms: float) -> float:
        """The reward of an architecture: TuNAS's absolute reward or MnasNet's."""
        if self.reward is None:
            return reward_lib.absolute_reward(
                accuracy, latency_ms, target_ms=self.target_ms, beta=self.config.absolute_beta
            )
        return self.reward(accuracy, latency_ms).reward

    def temperature(self, epoch: int) -> float:
        """FBNet's schedule: τ0 · decay^(epochs since the warm-up)."""
        active = max(0, epoch - self.config.warmup_epochs)
        return self.config.temperature * self.config.temperature_decay**active

    def accuracy(self, arch: specs.ArchSpec) -> float:
        """One-shot accuracy of `arch` on the whole validation split (batch statistics)."""
        path = self._path(arch)
        hits = total = 0.0
        for images, labels in self.validation:
            hits += float(self._correct(images, labels, path, self.ones))
            total += int(labels.shape[0])
        return hits / total

    def warmup_choices(self, chance: float) -> list[int]:
        """A warm-up path: each decision keeps the space's default (its reference model's
        choice) with probability `chance` × `default_fraction`, else is drawn uniformly. The
        probability falls to 0 over the warm-up, so training starts on the reference model,
        which learns fast, and widens to the whole space (a curriculum in the spirit of
        TuNAS's op warm-up and OFA's progressive shrinking; uniform paths from the start do
        not train on digits within a budget of hundreds of steps)."""
        uniform = self.space.sample(self.rng)
        keep = self.rng.random(len(uniform)) < chance * self.config.default_fraction
        default = self.space.default_choices()
        return [d if k else u for d, k, u in zip(default, keep, uniform, strict=True)]

    # ---- one epoch ----

    def epoch(self, epoch: int, history: list[dict[str, Any]], progress: Any) -> float:
        """Trains one epoch (and the policy after the warm-up); returns the mean loss."""
        config = self.config
        warm = epoch < config.warmup_epochs
        losses = []
        for step in range(self.steps_per_epoch):
            images, labels = next(self._batches)
            if warm:
                chance = 1.0 - (epoch * self.steps_per_epoch + step) / max(
                    1, config.warmup_epochs * self.steps_per_epoch
                )
                choices = self.warmup_choices(chance)
                widest = bool(self.rng.random() < chance * config.widest_fraction)
            else:
                choices, widest = self.policy.sample(), False
            arch = self.space.to_arch(choices)
            loss = float(
                self._weight_step(images, labels, self._path(arch, widest=widest), self.ones)
            )
            losses.append(loss)
            values = [("loss", loss)]
            if not warm:
                batch = self.policy_batches[int(self.rng.integers(len(self.policy_batches)))]
                record = self._policy_step(epoch, *batch)
                history.append(record)
                values.append(("reward", record["reward"]))
            if progress is not None:
                progress.add(1, values=values)
        return float(np.mean(losses))

    def _policy_step(self, epoch: int, images: Any, labels: Any) -> dict[str, Any]:
        if isinstance(self.policy, TunasPolicy):
            choices = self.policy.sample()
            arch = self.space.to_arch(choices)
            accuracy = float(self._correct(images, labels, self._path(arch), self.ones)) / int(
                labels.shape[0]
            )
            latency = self.choice_latency(choices)
            reward = self.score(accuracy, latency)
            diagnostics = self.policy.learn(choices, reward)
            extra = {"baseline": diagnostics.get("baseline"), "temperature": ""}
        else:
            choices, noise = self.policy.gumbel()
            arch = self.space.to_arch(choices)
            latency = self.choice_latency(choices)
            marginal = np.zeros(self.policy.valid.shape, dtype=np.float32)
            for d, size in enumerate(self.space.choice_sizes()):
                for c in range(size):
                    changed = list(choices)
                    changed[d] = c
                    marginal[d, c] = 1000.0 * self.choice_latency(changed)
            tau = self.temperature(epoch)
            diagnostics = self.policy.step(
                self.net,
                images,
                labels,
                self._path(arch),
                choices=choices,
                noise=noise,
                temperature=tau,
                latency_us=1000.0 * latency,
                marginal_us=marginal,
                gate_indices=self.skeleton.gate_indices(choices),
            )
            accuracy = float("nan")
            reward = -diagnostics["loss"]
            extra = {"baseline": "", "temperature": tau, "ce": diagnostics["ce"]}
        return {
            "epoch": epoch,
            "arch": arch_string.encode(arch),
            "batch_accuracy": accuracy,
            "latency_ms": latency,
            "reward": reward,
            "entropy": self.policy.entropy(),
            **extra,
        }

    # ---- the final evaluation ----

    def final_choices(self) -> list[tuple[str, list[int]]]:
        """The most likely architecture, then distinct draws from the final distribution (and,
        if it is too peaked to give `final_archs` distinct ones, uniform draws)."""
        wanted = self.config.final_archs
        chosen: dict[tuple[int, ...], str] = {}
        greedy = self.space.canonical(self.policy.greedy())
        chosen[tuple(greedy)] = "most_likely"
        tries = 0
        while len(chosen) < wanted and tries < MAX_FINAL_TRIES * wanted:
            tries += 1
            key = tuple(self.space.canonical(self.policy.final_sample()))
            chosen.setdefault(key, "policy")
        while len(chosen) < wanted:
            key = tuple(self.space.canonical(self.space.sample(self.rng)))
            chosen.setdefault(key, "uniform")
        return [(source, list(key)) for key, source in chosen.items()]


def without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` without tf.data's autotuning thread. That thread sleeps in doubling periods
    (10 ms, 20 ms, ...) and deleting an iterator waits for it to wake, so an epoch-long
    iterator cost up to its own age again when deleted: measured here, 20.5-s epochs on
    digits-m took 41.0 s (and 5.1-s epochs on digits 10.2 s) in about half the epochs.
    `AUTOTUNE` parallelism falls back to tf.data's defaults (one call per core)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def open_table(config: OneShotConfig, space: Any, image_size: int, classes: int) -> LatencyTable:
    """The latency table that covers `space` at `image_size` and `classes`: the given one
    (ValueError naming what it lacks), else one built in the output directory (resumable)."""
    wanted = coverage.coverage_id(space.name, image_size, classes)
    if config.latency_table:
        if not os.path.isfile(config.latency_table):
            raise ValueError(f"latency table {config.latency_table!r} does not exist")
        table = load_table(config.latency_table)
        if table.coverage and wanted not in table.coverage:
            raise ValueError(
                f"latency table {config.latency_table!r} covers {', '.join(table.coverage)}, "
                f"not {wanted}: pass the --image_size (or --latency_image_size) it was built "
                f"at, or build one for {wanted}. Build one: tflite-bench --build_table "
                f"--space={space.name} --image_size={image_size} --classes={classes} --table=PATH"
            )
        return table
    path = os.path.join(config.output_dir, "latency_table.json")
    log.info("building the latency table of %s at %s² into %s", space.name, image_size, path)
    return table_build.build_space_table(space, path, image_size=image_size, classes=classes)


def run(config: OneShotConfig, *, progress: bool = True) -> dict[str, Any]:
    """Runs (or resumes) a one-shot search and writes its reports; returns summary.json's
    content. See the module docstring."""
    started = time.time()
    os.makedirs(config.output_dir, exist_ok=True)
    checkpoint = outputs.Checkpoint(config)
    search = Search(config)
    state = checkpoint.load(search.net, search.policy, search.optimizer)
    history: list[dict[str, Any]] = state["history"]
    first = state["epochs_done"]
    if state["rng"] is not None:
        search.rng.bit_generator.state = state["rng"]
    spent = state["seconds"]
    bar = None
    if progress and first < config.epochs:
        bar = keras.utils.Progbar(
            (config.epochs - first) * search.steps_per_epoch, unit_name="step"
        )
    saved = time.time()
    for epoch in range(first, config.epochs):
        tick = time.time()
        loss = search.epoch(epoch, history, bar)
        spent += time.time() - tick
        log.info(
            "epoch %d/%d: loss %.3f, entropy %.2f",
            epoch + 1,
            config.epochs,
            loss,
            search.policy.entropy(),
        )
        # The supernet and its optimizer are ~50 MB on the MobileNetV3 space: saved at most
        # every `checkpoint_seconds` (and after the last epoch), a kill loses at most that.
        if time.time() - saved >= config.checkpoint_seconds or epoch + 1 == config.epochs:
            checkpoint.save(search, epoch + 1, history, spent)
            saved = time.time()
    records = [trial_record.as_record(r) for r in state["final"]]
    done = {r["arch"] for r in records}
    tick = time.time()
    candidates = search.final_choices()
    final_bar = keras.utils.Progbar(len(candidates), unit_name="arch") if progress else None
    for source, choices in candidates:
        arch = search.space.to_arch(choices)
        text = arch_string.encode(arch)
        if text in done:
            if final_bar is not None:
                final_bar.add(1)
            continue
        accuracy = search.accuracy(arch)
        latency = search.choice_latency(choices)
        records.append(
            trial_record.TrialRecord(
                trial=len(records),
                source=source,
                arch=text,
                accuracy=accuracy,
                latency_ms=latency,
                latency_source="table",
                reward=search.score(accuracy, latency),
            )
        )
        done.add(text)
        if len(records) % 10 == 0:
            checkpoint.save_final(records)
        if final_bar is not None:
            final_bar.add(1)
    checkpoint.save_final(records)
    evaluate_seconds = state.get("evaluate_seconds", 0.0) + time.time() - tick
    return outputs.write_reports(
        search,
        records,
        history,
        search_seconds=spent,
        evaluate_seconds=evaluate_seconds,
        wall_seconds=time.time() - started,
    )
