"""The sections of docs/REPRODUCTION.md, one module per kind of result (make_reproduction.py
puts them together)."""
