"""NetAdapt: shrink a trained model's widths against measured latency until a target is met.

`units` (TF-free: which widths shrink, the proposals), `inherit` (largest-norm filters into the
narrower model), `latency` (proposal sizing, interleaved re-measurement), `training` (splits and
fine-tunes), `netadapt` (`AdaptConfig`, `adapt`), `outputs` (resume state, trajectory, exports).
Import the modules themselves; this package file imports nothing, so `units` stays TF-free.
"""
