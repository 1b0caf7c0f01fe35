"""One tiny call of each built model and kernel before the first real step (the probe).

The pre-flight check (:mod:`lmbench.run.preflight`) reads classes and signatures; what only a call
can show (logits of the wrong shape, a ``step`` without ``new_state``, a kernel that breaks on a
capability it declares) would otherwise fail at step 1 with a raw torch error, or silently take a
slow path. :func:`probe` runs when a recipe builds the component (``Run.build``), on the CPU or
the device the component is on, with a private random generator and in eval mode (the global RNG,
dropout and a kernel's redraw counters are left as they were), and raises one
:class:`~lmbench.run.preflight.ContractError` line naming the component, what was expected and
the protocol to read:

- a :class:`~lmbench.CausalLM`: ``model(ids)`` of a (2, 8) batch returns logits (2, 8, >= V);
  ``step``/``new_state`` come together (:class:`~lmbench.IncrementalDecoder`), and one ``step`` of
  the batch from ``new_state()`` returns (2, 8, >= V) logits;
- an :class:`~lmbench.AttentionKernel`: one call of (1, 2, 8, 8) queries, keys and values returns
  (1, 2, 8, 8), and so does each capability it declares (causal, a padding mask); with
  ``capabilities.decode`` its ``decode`` method takes one query against eight cached keys.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ..plugin.components import AttentionKernel, CausalLM, Needs

__all__ = ["probe"]

_B, _T = 2, 8  # the probe batch: B sequences of T ids


def probe(table: str, obj: Any, needs: Needs | None, deps: dict[str, Any], fail: Callable[[str], Exception]) -> None:
    """Call ``obj`` once as its declared protocol says; raise ``fail(what went wrong)`` on a mismatch."""
    protocol = needs.protocol if needs is not None else None
    if protocol is CausalLM:
        _probe_causal_lm(obj, deps.get("vocab_size") or getattr(obj, "vocab_size", None), fail)
    elif protocol is AttentionKernel:
        _probe_kernel(obj, fail)


@contextmanager
def _evaluating(obj: Any) -> Iterator[None]:
    """``obj`` in eval mode and without gradients for the probe; its mode restored afterwards."""
    import torch

    training = getattr(obj, "training", None)
    if training:
        obj.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if training:
            obj.train()


def _device(obj: Any) -> Any:
    params = getattr(obj, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return first.device if first is not None else "cpu"


def _probe_causal_lm(model: Any, vocab: Any, fail: Callable[[str], Exception]) -> None:
    has_step, has_new = callable(getattr(model, "step", None)), callable(getattr(model, "new_state", None))
    if has_step != has_new:
        have, lack = ("step()", "new_state()") if has_step else ("new_state()", "step()")
        raise fail(f"has {have} but no {lack}: an incremental decoder needs both (lmbench.IncrementalDecoder), "
                   f"else generation silently recomputes; add {lack} or remove {have}")
    if not vocab:
        return
    import torch

    device = _device(model)
    if getattr(device, "type", device) == "meta":
        return
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, int(vocab), (_B, _T), generator=gen).to(device)
    want = f"({_B}, {_T}, V) with V >= {vocab}, logits[:, t] predicting ids[:, t + 1]"
    with _evaluating(model):
        try:
            logits = model(ids)
        except Exception as exc:  # noqa: BLE001 - the model's own error, named in one line
            raise fail(f"failed on a ({_B}, {_T}) batch of ids: {type(exc).__name__}: {exc}") from exc
        _check_logits(logits, want, "model(ids)", vocab, fail)
        if has_step:
            try:
                logits, _ = model.step(ids, model.new_state())
            except Exception as exc:  # noqa: BLE001
                raise fail(f"failed in step(ids, new_state()) on a ({_B}, {_T}) batch: "
                           f"{type(exc).__name__}: {exc}") from exc
            _check_logits(logits, want, "step(ids, new_state())", vocab, fail)


def _check_logits(logits: Any, want: str, call: str, vocab: int, fail: Callable[[str], Exception]) -> None:
    shape = tuple(getattr(logits, "shape", ()))
    if len(shape) != 3 or shape[:2] != (_B, _T) or shape[2] < int(vocab):
        got = f"shape {shape}" if shape else f"a {type(logits).__name__}"
        raise fail(f"returned {got} from {call} for ids ({_B}, {_T}); expected logits {want}")


def _probe_kernel(kernel: Any, fail: Callable[[str], Exception]) -> None:
    import torch

    caps = getattr(kernel, "capabilities", None)
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, _T, 8, generator=gen).to(_device(kernel)) for _ in range(3))
    mask = torch.ones(1, _T, dtype=torch.bool, device=q.device)
    mask[0, -2:] = False
    calls = [("kernel(q, k, v)", dict(q=q, k=k, v=v), (1, 2, _T, 8))]
    if getattr(caps, "causal", False):
        calls.append(("kernel(q, k, v, causal=True)", dict(q=q, k=k, v=v, causal=True), (1, 2, _T, 8)))
    if getattr(caps, "padding_mask", False):
        calls.append(("kernel(q, k, v, key_padding_mask=mask)", dict(q=q, k=k, v=v, key_padding_mask=mask),
                      (1, 2, _T, 8)))
    if getattr(caps, "decode", False):  # declared: decode(q, k, v) takes new queries against a longer cache
        if not callable(getattr(kernel, "decode", None)):
            raise fail("declares capabilities.decode but has no decode(q, k, v, *, key_padding_mask=None) method, "
                       "so models would silently recompute; add the method or set decode=False")
        calls.append(("kernel.decode(q[:, :, -1:], k, v) (capabilities.decode)",
                      dict(q=q[:, :, -1:], k=k, v=v, method="decode"), (1, 2, 1, 8)))
    with _evaluating(kernel):
        for call, kwargs, want in calls:
            args = (kwargs.pop("q"), kwargs.pop("k"), kwargs.pop("v"))
            call_it = getattr(kernel, kwargs.pop("method")) if "method" in kwargs else kernel
            try:
                out = call_it(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                raise fail(f"failed on {call} with q, k, v (1, 2, 8, 8): {type(exc).__name__}: {exc}; "
                           "declare only the capabilities it has (lmbench.AttentionCapabilities)") from exc
            shape = tuple(getattr(out, "shape", ()))
            if shape != want:
                raise fail(f"returned shape {shape} from {call}; expected {want} (B, H, Tq, D)")
