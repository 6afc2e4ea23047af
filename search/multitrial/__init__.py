"""Multi-trial search on keras-tuner: config, run, oracle, tuner, project files, start-up checks,
the estimate and the reference models.

This package file imports nothing: import the modules themselves."""
