"""Controllers: policies over choice sizes, their learning rules, and the rewards (pure functions,
numpy only).

This package file imports nothing: import the modules themselves."""
