"""Entry point of the `looped` plugin: registers its components (lazily, without importing torch)."""

from lmbench import hookimpl  # noqa: F401
