"""The latency model of architectures: parts, per-device tables, calibration, the search's meter.

Modules: `parts` (the separately measured pieces of an ArchSpec and their keys), `table` (the
lookup table and `TableBackend`), `build` (measuring a table on a device backend), `calibration`
(fitting a table to whole models; prediction accuracy), `meter` (`LatencyMeter`, what a search
trial calls). Devices themselves (this host, adb) are tflite_bench/backends.py, one layer below.
"""
