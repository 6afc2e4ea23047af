"""One-shot architecture search over a weight-sharing supernet: TuNAS-style REINFORCE and
FBNet-style differentiable search (DNAS), with latency from a measured whole-space table.

Modules: `skeleton` (the supernet's shape and paths; no TensorFlow), `supernet` (the Keras
supernet and the extraction of stand-alone models), `search` (the two algorithms' loops),
`outputs` (trials.csv, pareto, history, best_arch.json, summary.json, checkpoints).
"""
