"""Cost of the LSTM controller per search trial: the numpy policy vs the same one in Keras 3 / TF.

Answers "keep the hand-written numpy LSTM, BPTT and Adam (search/controllers/policy.py,
search/controllers/controller.py)
only if a measurement says it is worth its code". Over the space's choice sizes (MnasNet: 42
decisions), one trial's controller work is: sample one architecture with its log-prob (and
entropy), then one REINFORCE update for one reward. Variants:

- numpy: `search.controllers.controller.Controller(sizes, policy="lstm")`, through `sample()` and
  `update()`;
- keras eager: `KerasLSTMController` below (Embedding rows per decision, `keras.layers.LSTMCell`
  unrolled over the decisions, one `Dense` softmax head per decision, REINFORCE with an EMA
  baseline, gradients by `tf.GradientTape`, `keras.optimizers.Adam`), run eagerly;
- keras tf.function: the same object with its sample and update steps inside `tf.function`
  (the first calls, which trace, are reported apart).

Before timing, the Keras policy is loaded with the numpy weights along a few numpy updates and
log-probs, entropies and full gradients are compared (float32 vs float64), so the variants do
the same work. The variants run in one process, interleaved in rounds of `--block` trials (the
order rotating each round) to spread a shared machine's noise; per-trial min and median wall ms
and their ratio to numpy are reported (the eager variant, ~60× slower, runs `--eager_steps`
trials, its share each round). Fresh subprocesses measure the import time of
`search.controllers.controller` vs `tensorflow, keras` and the peak RSS of a process that imports
and runs
`--rss_steps` trials of each variant. Lines of code are counted with `ast` (no
blank, comment or docstring lines) for named functions and classes.

Run: .venv/bin/python benchmarks/controller_backend.py [--steps 400 --eager_steps 100 --block 50]
Writes benchmarks/results/controller_backend.{json,md}.

TensorFlow and Keras are imported only where the Keras variant runs, so the numpy subprocess
never loads them.
"""

from __future__ import annotations

import ast
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

NUMPY_MODULE = "search.controllers.controller"
"""The numpy controller, whose import time is measured."""
VARIANTS = ("numpy", "keras eager", "keras tf.function")
CHILDREN = {
    "none": None,
    "numpy": "numpy",
    "keras_eager": "keras eager",
    "keras_function": "keras tf.function",
}
TRIAL_SECONDS = (20.0, 40.0)  # a proxy trial (benchmarks/results/trial_cost_after.md: ~18 s)

# What the numpy LSTM controller needs beyond the shared Policy / Controller plumbing.
NUMPY_CODE = {
    "search/controllers/policy.py": [
        "single_threaded_blas",
        "_log_softmax",
        "_entropy_and_grad",
        "_draw",
        "LSTMPolicy",
    ],
    "search/controllers/controller.py": ["Adam.__init__", "Adam.step"],
}
NUMPY_STATE_CODE = {"search/controllers/controller.py": ["Adam.get_state", "Adam.set_state"]}
KERAS_CODE = [
    "KerasLSTMController.__init__",
    "KerasLSTMController._forward",
    "KerasLSTMController._gradients",
    "KerasLSTMController._update_step",
]
KERAS_GLUE = ["KerasLSTMController.sample", "KerasLSTMController.update"]

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "search_space", "mnasnet", "Search space whose choice sizes the controller spans."
)
flags.DEFINE_integer("steps", 400, "Timed trials per variant (numpy, tf.function).", 1)
flags.DEFINE_integer("eager_steps", 100, "Timed trials of the (~60× slower) eager variant.", 1)
flags.DEFINE_integer("block", 50, "Trials per variant per round (variants alternate).", 1)
flags.DEFINE_integer("warmup", 10, "Untimed trials per variant after the first call.", 0)
flags.DEFINE_integer("import_repeats", 3, "Fresh subprocesses per import measurement.", 1)
flags.DEFINE_integer("rss_steps", 50, "Trials run by each peak-RSS subprocess.", 1)
flags.DEFINE_enum("child", None, list(CHILDREN), "Internal: run one variant, print peak RSS.")
flags.DEFINE_string(
    "out",
    os.path.join(REPO, "benchmarks", "results", "controller_backend"),
    "Output path without extension.",
)


class KerasLSTMController:
    """The NASNet / MnasNet LSTM controller in Keras 3 / TF, REINFORCE with an EMA baseline.

    Step t embeds decision t−1's choice (row 0: a start token; else 1 + offset + choice), runs
    `LSTMCell(hidden_size)` and decision t's `Dense` head gives its logits. With `graph`, the
    sample and update steps run inside `tf.function`.
    """

    def __init__(
        self,
        choice_sizes: Sequence[int],
        *,
        hidden_size: int = 100,
        learning_rate: float = 1e-3,
        adam_beta1: float = 0.0,
        entropy_coef: float = 1e-5,
        baseline_decay: float = 0.95,
        init_range: float = 0.1,
        graph: bool = False,
        seed: int = 0,
    ) -> None:
        import keras
        import tensorflow as tf

        sizes = [int(n) for n in choice_sizes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.hidden_size, self.entropy_coef = hidden_size, entropy_coef
        self.baseline_decay, self.baseline = baseline_decay, None
        init = keras.initializers.RandomUniform(-init_range, init_range, seed=seed)
        self.embedding = keras.layers.Embedding(
            1 + self.offsets[-1], hidden_size, embeddings_initializer=init
        )
        self.cell = keras.layers.LSTMCell(
            hidden_size,
            kernel_initializer=init,
            recurrent_initializer=init,
            bias_initializer=init,
            unit_forget_bias=False,
        )
        self.heads = [
            keras.layers.Dense(n, kernel_initializer=init, bias_initializer=init) for n in sizes
        ]
        self.embedding.build((None,))
        self.cell.build((None, hidden_size))
        for head in self.heads:
            head.build((None, hidden_size))
        self.weights = [*self.embedding.weights, *self.cell.weights]
        self.weights += [w for head in self.heads for w in head.weights]
        self.optimizer = keras.optimizers.Adam(learning_rate, beta_1=adam_beta1, epsilon=1e-8)
        self.optimizer.build(self.weights)
        self.seed = keras.random.SeedGenerator(seed)
        self._sample = tf.function(self._forward) if graph else self._forward
        self._update = tf.function(self._update_step) if graph else self._update_step

    def _forward(self, choices: Any = None) -> tuple[Any, Any, Any]:
        """(choices [B, T], log-probs [B], path entropies [B]); samples when `choices` is None."""
        import keras
        import tensorflow as tf

        num = 1 if choices is None else choices.shape[0]
        zeros = tf.zeros((num, self.hidden_size))
        state, previous = [zeros, zeros], tf.zeros((num,), tf.int32)
        log_prob, entropy, picked = tf.zeros((num,)), tf.zeros((num,)), []
        for t, head in enumerate(self.heads):
            rows = tf.zeros_like(previous) if t == 0 else previous + (1 + self.offsets[t - 1])
            output, state = self.cell(self.embedding(rows), state)
            log_p = tf.nn.log_softmax(head(output))
            if choices is None:
                choice = tf.cast(keras.random.categorical(log_p, 1, seed=self.seed)[:, 0], tf.int32)
            else:
                choice = choices[:, t]
            log_prob += tf.gather(log_p, choice, batch_dims=1)
            entropy -= tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1)
            picked.append(choice)
            previous = choice
        return tf.stack(picked, axis=1), log_prob, entropy

    def _gradients(self, choices: Any, advantage: Any) -> list[Any]:
        """Gradients of −mean(A · log π) − entropy_coef · mean(H) w.r.t. `self.weights`."""
        import tensorflow as tf

        with tf.GradientTape() as tape:
            _, log_prob, entropy = self._forward(choices)
            loss = -tf.reduce_mean(advantage * log_prob)
            loss -= self.entropy_coef * tf.reduce_mean(entropy)
        return tape.gradient(loss, self.weights)

    def _update_step(self, choices: Any, advantage: Any) -> None:
        grads = self._gradients(choices, advantage)
        self.optimizer.apply_gradients(zip(grads, self.weights, strict=True))

    def sample(self) -> tuple[list[int], float, float]:
        """One choice list, its log-probability and its path entropy."""
        choices, log_prob, entropy = self._sample()
        return choices.numpy()[0].tolist(), float(log_prob[0]), float(entropy[0])

    def update(self, choices: Sequence[int], reward: float) -> float:
        """One REINFORCE step for one reward; returns the advantage."""
        import tensorflow as tf

        baseline = reward if self.baseline is None else self.baseline
        self.baseline = self.baseline_decay * baseline + (1.0 - self.baseline_decay) * reward
        advantage = reward - baseline
        self._update(tf.constant([choices], tf.int32), tf.constant(advantage, tf.float32))
        return advantage

    def load_numpy_weights(self, params: dict[str, np.ndarray]) -> None:
        """Copies `search.controllers.policy.LSTMPolicy.params` (gates i, f, o, g → Keras's i, f, g,
        o)."""
        h = self.hidden_size

        def gates(array: np.ndarray) -> np.ndarray:
            i, f, o, g = (array[..., k * h : (k + 1) * h] for k in range(4))
            return np.concatenate([i, f, g, o], axis=-1)

        kernel = params["lstm_kernel"]
        self.embedding.embeddings.assign(params["embedding"])
        self.cell.kernel.assign(gates(kernel[: kernel.shape[0] - h]))
        self.cell.recurrent_kernel.assign(gates(kernel[kernel.shape[0] - h :]))
        self.cell.bias.assign(gates(params["lstm_bias"]))
        for t, head in enumerate(self.heads):
            segment = slice(self.offsets[t], self.offsets[t + 1])
            head.kernel.assign(params["head_kernel"][:, segment])
            head.bias.assign(params["head_bias"][segment])


def _reward(choices: Sequence[int], rng: np.random.Generator) -> float:
    """A learnable synthetic reward: the share of first options, plus noise."""
    return float(np.mean(np.asarray(choices) == 0) + 0.05 * rng.standard_normal())


def make_trial(variant: str, sizes: list[int]) -> Callable[[], tuple[float, float]]:
    """A function running one trial's controller work; returns (sample s, update s)."""
    rng = np.random.default_rng(0)
    if variant == "numpy":
        from search.controllers.controller import Controller

        controller = Controller(sizes, policy="lstm", seed=0)

        def trial() -> tuple[float, float]:
            start = time.perf_counter()
            choices, log_prob = controller.sample()
            middle = time.perf_counter()
            controller.update([choices], [_reward(choices, rng)], old_log_probs=[log_prob])
            return middle - start, time.perf_counter() - middle

        return trial
    keras_controller = KerasLSTMController(sizes, graph=variant == "keras tf.function", seed=0)

    def keras_trial() -> tuple[float, float]:
        start = time.perf_counter()
        choices, _, _ = keras_controller.sample()
        middle = time.perf_counter()
        keras_controller.update(choices, _reward(choices, rng))
        return middle - start, time.perf_counter() - middle

    return keras_trial


def _numpy_layout(controller: KerasLSTMController, grads: list[Any]) -> dict[str, np.ndarray]:
    """Keras gradients arranged like `LSTMPolicy.params` (gates i, f, g, o → i, f, o, g)."""
    import tensorflow as tf

    by_weight = {
        id(w): tf.convert_to_tensor(g).numpy()
        for w, g in zip(controller.weights, grads, strict=True)
    }
    h = controller.hidden_size

    def gates(array: np.ndarray) -> np.ndarray:
        i, f, g, o = (array[..., k * h : (k + 1) * h] for k in range(4))
        return np.concatenate([i, f, o, g], axis=-1)

    cell = controller.cell
    kernel = np.concatenate([by_weight[id(cell.kernel)], by_weight[id(cell.recurrent_kernel)]])
    return {
        "embedding": by_weight[id(controller.embedding.embeddings)],
        "lstm_kernel": gates(kernel),
        "lstm_bias": gates(by_weight[id(cell.bias)]),
        "head_kernel": np.concatenate([by_weight[id(d.kernel)] for d in controller.heads], axis=1),
        "head_bias": np.concatenate([by_weight[id(d.bias)] for d in controller.heads]),
    }


def check_equivalence(sizes: list[int], updates: int = 5) -> dict[str, float]:
    """Along 5 numpy REINFORCE updates, loads the numpy weights into the Keras policy and
    compares log-prob, entropy and the gradient of the loss (max |Δ| / max |grad|)."""
    import tensorflow as tf

    from search.controllers.controller import Controller

    rng = np.random.default_rng(1)
    numpy_controller = Controller(sizes, policy="lstm", seed=0)
    policy = numpy_controller.policy
    keras_controller = KerasLSTMController(sizes, seed=0)
    worst = {"log_prob_abs": 0.0, "entropy_abs": 0.0, "gradient_rel": 0.0}
    for _ in range(updates):
        keras_controller.load_numpy_weights(policy.params)
        choices, log_prob = numpy_controller.sample()
        reward = _reward(choices, rng)
        baseline = numpy_controller.baseline
        advantage = reward - (reward if baseline is None else baseline)
        _, entropies, cache = policy.evaluate(np.asarray([choices]))
        expected = policy.gradients(
            cache, np.array([-advantage]), np.array([-numpy_controller.entropy_coef])
        )
        tensor = tf.constant([choices], tf.int32)
        _, keras_log_prob, keras_entropy = keras_controller._forward(tensor)
        grads = keras_controller._gradients(tensor, tf.constant(advantage, tf.float32))
        got = _numpy_layout(keras_controller, grads)
        scale = max(float(np.abs(g).max()) for g in expected.values())
        differences = {
            "log_prob_abs": abs(log_prob - float(keras_log_prob[0])),
            "entropy_abs": abs(float(entropies[0]) - float(keras_entropy[0])),
            "gradient_rel": max(float(np.abs(got[k] - g).max()) for k, g in expected.items())
            / scale,
        }
        worst.update({key: max(worst[key], value) for key, value in differences.items()})
        numpy_controller.update([choices], [reward], old_log_probs=[log_prob])
    return worst


def time_variants(sizes: list[int]) -> dict[str, Any]:
    """Per-trial timings of every variant, interleaved in blocks; first calls apart."""
    trials, first, samples = {}, {}, {v: [] for v in VARIANTS}
    for variant in VARIANTS:
        start = time.perf_counter()
        trials[variant] = make_trial(variant, sizes)
        built = time.perf_counter() - start
        sample_s, update_s = trials[variant]()
        first[variant] = {"build_s": built, "first_sample_s": sample_s, "first_update_s": update_s}
        for _ in range(FLAGS.warmup):
            trials[variant]()
    rounds = -(-FLAGS.steps // FLAGS.block)
    steps = {v: FLAGS.eager_steps if v == "keras eager" else FLAGS.steps for v in VARIANTS}
    for round_index in range(rounds):
        order = VARIANTS[round_index % 3 :] + VARIANTS[: round_index % 3]
        for variant in order:
            block = -(-steps[variant] // rounds)  # each round runs its share of every variant
            for _ in range(min(block, steps[variant] - len(samples[variant]))):
                cpu = time.process_time()
                sample_s, update_s = trials[variant]()
                samples[variant].append((sample_s, update_s, time.process_time() - cpu))
        print(f"round {round_index + 1}/{rounds} done", flush=True)
    table = {}
    for variant, rows in samples.items():
        total = [1e3 * (s + u) for s, u, _ in rows]
        table[variant] = {
            "trials": len(rows),
            "min_ms": min(total),
            "median_ms": statistics.median(total),
            "mean_ms": statistics.fmean(total),
            "sample_median_ms": statistics.median(1e3 * s for s, _, _ in rows),
            "update_median_ms": statistics.median(1e3 * u for _, u, _ in rows),
            "cpu_median_ms": statistics.median(1e3 * c for _, _, c in rows),
        }
    for row in table.values():
        row["min_vs_numpy"] = row["min_ms"] / table["numpy"]["min_ms"]
        row["median_vs_numpy"] = row["median_ms"] / table["numpy"]["median_ms"]
        for seconds in TRIAL_SECONDS:
            row[f"share_of_{seconds:.0f}s_trial"] = row["median_ms"] / (1e3 * seconds)
    return {"table": table, "first_call": first}


def _python(*args: str) -> str:
    """Runs a fresh interpreter with `args` at the repository root; its last stdout line."""
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def measure_imports() -> dict[str, Any]:
    """Seconds to import each module set in a fresh interpreter (min, median over repeats)."""
    targets = {
        NUMPY_MODULE: f"import {NUMPY_MODULE}",
        "tensorflow, keras": "import tensorflow, keras",
    }
    result: dict[str, Any] = {}
    for name, statement in targets.items():
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        times = [float(_python("-c", code)) for _ in range(FLAGS.import_repeats)]
        result[name] = {"min_s": min(times), "median_s": statistics.median(times), "all_s": times}
    code = "import sys, search.multitrial.oracle; print('tensorflow' in sys.modules)"
    result["search.multitrial.oracle imports tensorflow"] = _python("-c", code) == "True"
    return result


def measure_rss() -> dict[str, float]:
    """Peak RSS (MB) of a fresh process per variant that imports, builds and runs its trials
    ('none': the same script, space loaded, no controller)."""
    result = {}
    for child in CHILDREN:
        line = _python(__file__, f"--child={child}", f"--rss_steps={FLAGS.rss_steps}")
        result[child] = json.loads(line)["peak_rss_mb"]
    return result


def run_child(child: str, sizes: list[int]) -> None:
    """One variant's `--rss_steps` trials; prints its peak RSS as a JSON line."""
    variant = CHILDREN[child]
    if variant is not None:
        trial = make_trial(variant, sizes)
        for _ in range(FLAGS.rss_steps):
            trial()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"child": child, "peak_rss_mb": peak_kb / 1024}))


def _code_lines(path: str, names: list[str]) -> dict[str, dict[str, int]]:
    """Per qualified name ('f', 'Class', 'Class.method'): its span and its code lines (no blank,
    comment-only or docstring lines)."""
    source = open(os.path.join(REPO, path), encoding="utf-8").read()
    lines = source.splitlines()
    tree = ast.parse(source)
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            found[node.name] = node
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        found[f"{node.name}.{item.name}"] = item
    result = {}
    for name in names:
        if name not in found:
            raise ValueError(f"{path}: no function or class {name!r} to count")
        node = found[name]
        docstrings = set()
        for inner in ast.walk(node):
            body = getattr(inner, "body", None)
            if isinstance(inner, ast.FunctionDef | ast.ClassDef) and body:
                first = body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    docstrings.update(range(first.lineno, first.end_lineno + 1))
        span = range(node.lineno, node.end_lineno + 1)
        code = [
            n
            for n in span
            if lines[n - 1].strip()
            and not lines[n - 1].strip().startswith("#")
            and n not in docstrings
        ]
        result[name] = {"span": len(span), "code": len(code)}
    return result


def count_code() -> dict[str, Any]:
    """Lines of the numpy LSTM + BPTT + Adam and of the Keras version."""
    here = os.path.relpath(os.path.abspath(__file__), REPO)
    numpy_rows = {
        f"{path}:{name}": row
        for path, names in NUMPY_CODE.items()
        for name, row in _code_lines(path, names).items()
    }
    state_rows = {
        f"{path}:{name}": row
        for path, names in NUMPY_STATE_CODE.items()
        for name, row in _code_lines(path, names).items()
    }
    keras_rows = {f"{here}:{k}": v for k, v in _code_lines(here, KERAS_CODE).items()}
    glue_rows = {f"{here}:{k}": v for k, v in _code_lines(here, KERAS_GLUE).items()}

    def total(rows: dict[str, dict[str, int]]) -> dict[str, int]:
        return {key: sum(row[key] for row in rows.values()) for key in ("span", "code")}

    return {
        "numpy": {"rows": numpy_rows, "total": total(numpy_rows)},
        "numpy_adam_state": {"rows": state_rows, "total": total(state_rows)},
        "keras": {"rows": keras_rows, "total": total(keras_rows)},
        "keras_glue": {"rows": glue_rows, "total": total(glue_rows)},
        "files": {
            path: len(open(os.path.join(REPO, path), encoding="utf-8").read().splitlines())
            for path in NUMPY_CODE
        },
    }


def _machine() -> dict[str, Any]:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version()}


def write_markdown(result: dict[str, Any], path: str) -> None:
    """The human tables."""
    machine, timing, code = result["machine"], result["timing"], result["code"]
    numpy_ms = timing["table"]["numpy"]["median_ms"]
    lines = [
        "# LSTM controller backend: numpy vs Keras 3 / TF",
        "",
        f"{result['date']} · {machine['cpu']} · {machine['cores']} cores, **shared with a running"
        f" benchmark** (load average {machine['load_start'][0]:.1f} at start,"
        f" {machine['load_end'][0]:.1f} at end) · TensorFlow {machine['tensorflow']} · Keras"
        f" {machine['keras']} · space {result['space']} ({result['decisions']} decisions,"
        f" {result['choices']} choices) · LSTM 100 units · {timing['steps']} timed trials per"
        f" variant ({timing['eager_steps']} eager), interleaved: rounds of {timing['block']}"
        " trials per variant (eager: its share), the order rotating.",
        "",
        "One trial = sample one architecture (log-prob; Keras also its entropy) + one REINFORCE"
        " update for one reward (baseline EMA, gradient, Adam β1 = 0, lr 1e-3).",
        "",
        "| variant | min ms | median ms | median CPU ms | sample ms | update ms | ×numpy min"
        " | ×numpy median | share of 20 s trial | share of 40 s trial |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, row in timing["table"].items():
        lines.append(
            f"| {variant} | {row['min_ms']:.2f} | {row['median_ms']:.2f} |"
            f" {row['cpu_median_ms']:.2f} | {row['sample_median_ms']:.2f} |"
            f" {row['update_median_ms']:.2f} | {row['min_vs_numpy']:.1f} |"
            f" {row['median_vs_numpy']:.1f} | {100 * row['share_of_20s_trial']:.3f}% |"
            f" {100 * row['share_of_40s_trial']:.3f}% |"
        )
    lines += [
        "",
        "First calls (building the layers / optimizer; for tf.function, tracing):",
        "",
        "| variant | build s | first sample s | first update s |",
        "|---|---|---|---|",
    ]
    for variant, row in timing["first_call"].items():
        lines.append(
            f"| {variant} | {row['build_s']:.2f} | {row['first_sample_s']:.2f} |"
            f" {row['first_update_s']:.2f} |"
        )
    imports, rss = result["imports"], result["peak_rss_mb"]
    lines += [
        "",
        f"Fresh processes ({FLAGS.import_repeats} imports each; peak RSS after importing and"
        f" running {FLAGS.rss_steps} trials):",
        "",
        "| process | import min s | import median s | peak RSS MB |",
        "|---|---|---|---|",
        f"| script only, no controller | | | {rss['none']:.0f} |",
        f"| numpy (`import {NUMPY_MODULE}`) | {imports[NUMPY_MODULE]['min_s']:.2f} |"
        f" {imports[NUMPY_MODULE]['median_s']:.2f} | {rss['numpy']:.0f} |",
        f"| keras eager (`import tensorflow, keras`) | {imports['tensorflow, keras']['min_s']:.2f}"
        f" | {imports['tensorflow, keras']['median_s']:.2f} | {rss['keras_eager']:.0f} |",
        f"| keras tf.function | (same) | | {rss['keras_function']:.0f} |",
        "",
        f"`import search.multitrial.oracle` (the search process) loads TensorFlow anyway:"
        f" {imports['search.multitrial.oracle imports tensorflow']}.",
        "",
        "Equivalence (the Keras policy loaded with the numpy weights at each of 5 numpy"
        " updates; float32 vs float64): max |Δ log-prob|"
        f" {result['equivalence']['log_prob_abs']:.1e}, max |Δ entropy|"
        f" {result['equivalence']['entropy_abs']:.1e}, max |Δ gradient| / max |gradient|"
        f" {result['equivalence']['gradient_rel']:.1e}. The optimizers differ only in where ε"
        " enters (Keras adds it to the uncorrected √v).",
        "",
        "Lines of code (ast spans without blank, comment-only and docstring lines):",
        "",
        "| code | counted | lines |",
        "|---|---|---|",
    ]
    for key, label in (
        ("numpy", "numpy LSTM + BPTT + Adam"),
        ("numpy_adam_state", "numpy Adam state (JSON)"),
        ("keras", "Keras LSTM + tape + Adam"),
        ("keras_glue", "Keras glue (baseline, conversions)"),
    ):
        names = ", ".join(f"`{name.split(':')[1]}`" for name in code[key]["rows"])
        lines.append(f"| {label} | {names} | {code[key]['total']['code']} |")
    lines += [
        "",
        f"Files: {', '.join(f'{p} {n} lines' for p, n in code['files'].items())} (they also hold"
        " the independent policy, PPO, the baseline, state and the uniform controller).",
        "",
        f"Per trial the numpy controller costs {numpy_ms:.1f} ms (median). The machine is shared"
        " and noisy: compare rows of one run only; min is the least disturbed figure.",
        "",
        "Reproduce: `python benchmarks/controller_backend.py`",
    ]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def main(argv: list[str]) -> None:
    del argv
    from search.spaces.registry import get_space

    sizes = get_space(FLAGS.search_space).choice_sizes()
    if FLAGS.child:
        run_child(FLAGS.child, sizes)
        return
    started = time.time()
    machine = {**_machine(), "load_start": list(os.getloadavg())}
    print("imports and peak RSS in fresh processes ...", flush=True)
    imports = measure_imports()
    peak_rss = measure_rss()
    import keras
    import tensorflow as tf

    machine.update(tensorflow=tf.__version__, keras=keras.__version__)
    print("equivalence check ...", flush=True)
    equivalence = check_equivalence(sizes)
    print("timing ...", flush=True)
    timing = {
        **time_variants(sizes),
        "steps": FLAGS.steps,
        "eager_steps": FLAGS.eager_steps,
        "block": FLAGS.block,
    }
    machine["load_end"] = list(os.getloadavg())
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "space": FLAGS.search_space,
        "decisions": len(sizes),
        "choices": int(sum(sizes)),
        "machine": machine,
        "timing": timing,
        "imports": imports,
        "peak_rss_mb": peak_rss,
        "equivalence": equivalence,
        "code": count_code(),
        "wall_s": time.time() - started,
    }
    os.makedirs(os.path.dirname(FLAGS.out), exist_ok=True)
    with open(f"{FLAGS.out}.json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    write_markdown(result, f"{FLAGS.out}.md")
    for variant, row in timing["table"].items():
        print(
            f"{variant:>18}: {row['min_ms']:7.2f} ms min, {row['median_ms']:7.2f} ms median per"
            f" trial ({row['median_vs_numpy']:.1f}× numpy)"
        )
    print(f"wrote {FLAGS.out}.json and {FLAGS.out}.md ({result['wall_s']:.0f} s)")


if __name__ == "__main__":
    app.run(main)
