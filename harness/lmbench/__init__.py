"""lmbench: a plugin-based benchmark harness for small language-model experiments.

The core defines hook specifications (:mod:`lmbench.hookspecs`), typed registries
(:mod:`lmbench.registry`), experiment specs (:mod:`lmbench.config`), the runner
(:mod:`lmbench.runner`), measurement (:mod:`lmbench.measure`) and the results store
(:mod:`lmbench.store`). Every experiment family is a plugin found through the ``lmbench``
entry-point group. Importing this package does not import torch.
"""

import pluggy

__version__ = "0.1.0"

PROJECT = "lmbench"

#: Decorator for plugin hook implementations: ``@hookimpl def lmbench_register_models(registry): ...``
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["__version__", "hookimpl", "PROJECT"]
