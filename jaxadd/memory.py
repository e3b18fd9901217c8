"""Refusing a run that cannot fit in memory, before it allocates anything.

Without this check ``--digits=18 --training_size=1000000000`` dies in numpy with
a ``MemoryError`` after minutes, and ``--hidden_size=30000`` in XLA with a
``RESOURCE_EXHAUSTED`` traceback (larger widths abort the process). Both sizes
follow from the config: the problems' arrays from ``training_size`` and
``digits``, the training state from the parameter count. The estimates are
upper bounds of the peaks measured on the CPU backend, not exact figures, so a
run near the limit may still be refused or still fail; what remains is caught
as one line by ``jaxadd.main``.
"""

from __future__ import annotations

from typing import Any

from jaxadd import cli, data
from jaxadd.config import Config

# Host bytes per generated problem besides its encoded ids: operands (int64
# a, b), their shuffled copies, dedup keys (16 bytes past 9 digits) with
# np.unique's sorting copies, and the permutation.
_GENERATION_BYTES = 16 * 2 + 16 * 4 + 8
# Float32 copies of the parameters a training step holds: the parameters, their
# gradients, Adam's two moments, and the donated state's new buffers.
_STATE_COPIES = 6
# Floats the LSTMs keep per example, time step and unit for the backward pass
# (gates, cell and hidden state, their gradients), per layer.
_ACTIVATION_FLOATS = 16


def data_bytes(config: Config) -> int:
    """Host bytes the problems of ``config`` take at their peak (an upper bound)."""
    ids = data.query_len(config.digits, config.leading_pads)
    ids += data.answer_len(config.digits)
    # int32 ids on the host, and once more where they are copied to the device.
    return config.training_size * (_GENERATION_BYTES + 2 * 4 * ids)


def training_bytes(config: Config, num_params: int) -> int:
    """Device bytes of the training state and one step's activations."""
    steps = data.query_len(config.digits, config.leading_pads)
    steps += data.answer_len(config.digits)
    layers = 1 + config.num_layers
    activations = (
        config.batch_size * steps * config.hidden_size * layers * _ACTIVATION_FLOATS
    )
    return 4 * (_STATE_COPIES * num_params + activations)


def device_memory(device: Any) -> int | None:
    """Bytes free on ``device``; host memory for a CPU; ``None`` if unknown."""
    if device.platform == "cpu":
        return cli.available_memory()
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - backends without statistics
        return None
    limit = stats.get("bytes_limit")
    return None if limit is None else limit - stats.get("bytes_in_use", 0)


def check_training_fits(config: Config, num_params: int, device: Any) -> None:
    """Raises ``MemoryError`` with one line if the run cannot fit.

    Args:
      config: the run's settings.
      num_params: its parameter count (``models.count_params``).
      device: the first device of the run; its memory is compared.
    """
    host_need = data_bytes(config)
    device_need = training_bytes(config, num_params)
    on_cpu = device.platform == "cpu"
    checks = [("host", host_need + (device_need if on_cpu else 0))]
    if not on_cpu:
        checks.append((device.platform, device_need))
    host = cli.available_memory()
    for where, need in checks:
        have = host if where == "host" else device_memory(device)
        if have is not None and need > have:
            raise MemoryError(
                f"this run needs about {cli.gib(need)} of {where} memory "
                f"({config.training_size:,} problems of {config.digits} digit(s): "
                f"{cli.gib(host_need)}; {num_params:,} parameters and their "
                f"training state: {cli.gib(device_need)}), more than the "
                f"{cli.gib(have)} available; lower --training_size, "
                "--hidden_size or --batch_size"
            )
