"""Energy of ``lm.train`` across checkpoints, so a resumed run still reports its training energy."""

from __future__ import annotations

from typing import Any

from lmbench import EnergyMeter


class EnergyLedger:
    """NVML energy summed over the stretches between checkpoints, kept in the checkpoint's counters.

    :class:`lmbench.training.EnergyMeter` reads the counter over one block; a resumed run would
    count only its last attempt. The ledger closes the block at every checkpoint and adds it to
    ``state["energy_j"]`` (saved with the counters), so a run killed and resumed reports the energy
    of the training that made its checkpoints (work lost after the last one is redone, and counted
    once). ``state["energy_known"]`` turns false as soon as one block has no reading (the CPU, a GPU
    without the counter): the result is then absent rather than guessed.
    """

    def __init__(self, device: str, state: dict[str, Any]):
        self.device, self.state = str(device), state
        state.setdefault("energy_j", 0.0)
        state.setdefault("energy_known", True)
        self._meter: EnergyMeter | None = None

    def open(self) -> None:
        """Start measuring a block (at the start of training and after each checkpoint)."""
        self._meter = EnergyMeter(self.device).__enter__()

    def close(self) -> None:
        """End the current block and add its joules to the counters (before each checkpoint)."""
        if self._meter is None:
            return
        self._meter.__exit__(None, None, None)
        if self._meter.joules is None:
            self.state["energy_known"] = False
        else:
            self.state["energy_j"] += self._meter.joules
        self._meter = None

    @property
    def joules(self) -> float | None:
        """Training energy so far in joules, or None when some block could not be measured."""
        return float(self.state["energy_j"]) if self.state["energy_known"] else None
