"""lmbench's first-party `attention` lab plugin."""

__version__ = "0.1.0"
