"""Which devices a run uses: a CPU split into several, or a multi-host start.

Both must happen before anything touches a JAX backend, so ``jaxadd.main``
calls them first; each returns a one-line error, or ``None``.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Mapping

from jaxadd import cli


def split_cpu(count: int | None, batch_size: int) -> str | None:
    """Has JAX present the CPU as ``count`` devices; returns an error or None.

    Must run before anything touches a JAX backend, which fixes the count. One
    CPU device leaves XLA's small per-step matmuls on one core; with several,
    the data-parallel step of ``train`` runs each device's rows on a thread of
    its own. GPU and TPU runs ignore it: their devices are the real ones.
    """
    if count is None:
        return None
    if count < 1:
        return f"cpu_devices must be >= 1, got {count}"
    # Checked before the backend builds that many devices, which for a huge
    # count would take long: each device needs rows of every batch anyway.
    if count > batch_size:
        return f"cpu_devices {count} exceeds batch_size {batch_size}"
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", count)
    except (AttributeError, RuntimeError) as err:  # older jax has no such option
        return f"cannot split the CPU into {count} devices: {cli.first_line(err)}"
    return None


def cpu_devices_for(
    cpu_devices: int | None,
    num_seeds: int,
    batch_size: int,
    multi_host: bool,
    environ: Mapping[str, str] = os.environ,
) -> int | None:
    """``--cpu_devices`` as given, or, unset, one CPU device per seed of a sweep.

    On one CPU device a seed sweep's steps are one batched program, and the
    seeds together train about as many examples a second as one run; on a
    device each, each seed's step runs on a thread of its own, side by side:
    4 seeds of the 3-digit default took 55 s on one device and 31 s on four
    (results/seeds_benchmark.md). A count given wins, as does one set in the
    environment (``JAX_NUM_CPU_DEVICES``, or
    ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``); single runs
    and multi-host runs keep JAX's default; more seeds than rows in a batch
    get a device per row (``split_cpu``'s limit). GPU and TPU runs ignore it,
    as they ignore ``--cpu_devices``.
    """
    set_by_environment = "JAX_NUM_CPU_DEVICES" in environ or (
        "xla_force_host_platform_device_count" in environ.get("XLA_FLAGS", "")
    )
    if cpu_devices is not None or num_seeds == 1 or multi_host or set_by_environment:
        return cpu_devices
    return min(num_seeds, batch_size)


def multi_host_asked(
    coordinator_address: str | None,
    num_processes: int | None,
    process_id: int | None,
    detect: bool,
) -> bool:
    """Whether the flags ask for a multi-process run (``start_distributed``)."""
    given = (coordinator_address, num_processes, process_id)
    return detect or any(v is not None for v in given)


def start_distributed(
    coordinator_address: str | None,
    num_processes: int | None,
    process_id: int | None,
    detect: bool,
    timeout: float,
) -> str | None:
    """Joins a multi-process run if asked for one; returns an error or None.

    Asked for by any of the first three arguments (``--coordinator_address``,
    ``--num_processes``, ``--process_id``) or by ``detect`` (``--distributed``:
    JAX detects the rest on TPU pod slices, Slurm, Open MPI); ``timeout`` is
    ``--distributed_timeout``.

    Must run before anything touches a JAX backend: afterwards the devices of
    the other processes could no longer join this one's. JAX aborts the whole
    process (a C++ check) when a coordinator never answers, so it waits in a
    thread, with a longer timeout of its own than ``--distributed_timeout``.
    """
    given = {
        "coordinator_address": coordinator_address,
        "num_processes": num_processes,
        "process_id": process_id,
    }
    if not multi_host_asked(**given, detect=detect):
        return None
    error = check_distributed_flags(**given, timeout=timeout)
    if error:
        return error
    import jax

    outcome: list[str | None] = []

    def join() -> None:
        try:
            # Flags left out are detected by JAX (TPU pods, Slurm, Open MPI).
            jax.distributed.initialize(
                **given, initialization_timeout=int(timeout) + 60
            )
            outcome.append(None)
        except (ValueError, TypeError, RuntimeError) as err:
            outcome.append(f"cannot start the multi-process run: {cli.first_line(err)}")

    thread = threading.Thread(target=join, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return (
            f"the multi-process run did not start within {timeout:g} s "
            f"(--distributed_timeout): no answer from the coordinator at "
            f"{given['coordinator_address'] or 'the detected address'}, or not "
            "every process joined"
        )
    return outcome[0]


def check_distributed_flags(
    coordinator_address: str | None,
    num_processes: int | None,
    process_id: int | None,
    timeout: float,
) -> str | None:
    """What is wrong with the multi-host flags, or None."""
    if not timeout > 0:
        return f"distributed_timeout must be > 0, got {timeout}"
    if num_processes is not None and num_processes < 1:
        return f"num_processes must be >= 1, got {num_processes}"
    if process_id is not None:
        last = None if num_processes is None else num_processes - 1
        if process_id < 0 or (last is not None and process_id > last):
            bound = f"0..{last}" if last is not None else ">= 0"
            return f"process_id must be in {bound}, got {process_id}"
    if coordinator_address is None:
        return None
    host, sep, port = coordinator_address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # [::1]:1234
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            host = ""
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return (
            f"coordinator_address must be HOST:PORT with a port in 1..65535 "
            f"(e.g. 10.0.0.1:1234 or [::1]:1234), got {coordinator_address!r}"
        )
    return None
