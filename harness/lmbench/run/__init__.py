"""One run: a resolved spec becomes a run with an identity, an owner, a Run context and results.

Owns the runner (:mod:`.runner`: resolve, pre-flight, identity, lease, skip-if-done, resume,
record), the ``Run`` context that is a recipe's only door into the harness (:mod:`.context`),
the contract check before any work (:mod:`.preflight`), the run id's code part
(:mod:`.identity`), component building from sources and checkpoints (:mod:`.sources`,
:mod:`.checkpoint`), metric feeding (:mod:`.metric_feed`), torchrun/DDP (:mod:`.distributed`) and
the progress line (:mod:`.progress`).

May import: the ground, ``lmbench.plugin``, ``lmbench.spec``, ``lmbench.measure`` and
``lmbench.store``. It never imports a lab, ``lmbench.launch``, ``lmbench.report`` or
``lmbench.cli``. torch is imported inside the functions that need it.
"""
