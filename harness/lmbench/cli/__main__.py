"""``python -m lmbench.cli``: the same as the ``lmbench`` command (used by sweep workers and torchrun)."""

from . import main

main()
