"""Results of any search: fronts and verdicts, reports and plots, TensorBoard, the export check.

This package file imports nothing: import the modules themselves."""
