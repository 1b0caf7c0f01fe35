"""The experiment spec: a preset, a TOML file and ``--set`` flags become one validated spec.

Owns the spec's tables and their merge order (:mod:`.config`: ``build_spec``, ``resolve`` against
the registries, ``Seconds``/``Count``, variants), explicit values laid over a preset's variants
(:mod:`.explicit`), ``--variant`` rows (:mod:`.variants`), the validation of a table into a
component's ``Config`` dataclass (:mod:`.validate`) and the resource limits a run is checked against
before it starts (:mod:`.limits`). A spec here is data: nothing is built or run.

May import: the ground (``lmbench.errors``, ``lmbench.files``) and ``lmbench.plugin`` (the
registries a spec resolves against). Nothing here imports torch.
"""
