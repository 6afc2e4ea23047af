"""The proxy task: seeded short training, its recycled child process, and the proxy-fidelity check.

This package file imports nothing: import the modules themselves."""
