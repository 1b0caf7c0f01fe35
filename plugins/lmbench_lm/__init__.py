"""lmbench's first-party `lm` lab plugin."""

__version__ = "0.1.0"
