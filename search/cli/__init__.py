"""Every binary of the project: flags → a frozen config → one library call.

This package file imports nothing: import the modules themselves."""
