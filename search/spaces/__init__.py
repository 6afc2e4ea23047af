"""Search spaces: templates over zoo architectures with decisions attached, and their registry.

This package file imports nothing: import the modules themselves."""
