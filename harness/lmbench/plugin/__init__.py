"""The plugin contract and its host: what a plugin implements and how it is found.

Owns the hook specifications (:mod:`.hookspecs`), the typed registries hooks fill
(:mod:`.registry`), the component Protocols and recipe declarations (:mod:`.components`), the
declared results and their merged vocabulary (:mod:`.results`), fetchable assets (:mod:`.assets`),
the plugin host that loads entry points and isolates broken plugins (:mod:`.host`), and the
``core`` plugin itself (:mod:`.builtin`, :mod:`.recipes`).

May import: the ground (``lmbench.errors``, ``lmbench.numbers``, ``lmbench.files``,
``lmbench.cache``, ``lmbench.hub``) and ``lmbench`` for the hook marker. Other parts are named only
for type checking or as ``module:attr`` strings that registries load lazily. Nothing here imports
torch.
"""
