"""numpy's transparent huge-page advice, which the ``p2p-gym`` command turns off.

On Linux numpy marks every array of 4 MiB or more with ``madvise(MADV_HUGEPAGE)``, and the mark
stays on the memory after numpy frees it, so later allocations that reuse it are advised too
(numpy issue #31590). A first touch of advised memory takes a whole 2 MiB page. Where that is
dear, the large generated communities pay for it at every slot: they allocate arrays of that
size, and their in-memory ledgers keep about 22 MB a slot (20,000 homes).

On this project's machines (VMs whose kernel hands memory freed in the guest back to the host
in 8 MiB blocks, the blocks huge pages are cut from, so that touching them again costs a fault
on the host) the 20,000-home VecEnv's first day in a fresh process ran at 14.4-17.9 slots/s
with numpy's advice (12 processes) and at 21.1-22.6 without it (11 processes, alternating with
the others), its system time falling from 1.2-1.9 s to 0.3-0.5 s for the day; the same
community through the ParallelEnv stepped 6.4 slots/s against 7.1 (2 processes each; the
tenth session). The advice is not the only cost of fresh memory there: on a later day the same
first day ran at 12.2-17.2 slots/s without it (the README's Fresh memory).
``python experiments/bench_first_day.py`` repeats the comparison. The demonstration and the
batched communities allocate nothing that large and do not notice.

So ``p2p-gym`` (every command, :func:`command_line_default`) turns the advice off, unless
``NUMPY_MADVISE_HUGEPAGE`` is set: numpy reads that variable when it is imported, and a value
set there is the user's choice and is kept. The library does not change numpy's settings by
itself. In a script of your own, set ``NUMPY_MADVISE_HUGEPAGE=0`` in the environment, or call
:func:`set_numpy_hugepages` with ``False``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from typing import Final

VARIABLE: Final = "NUMPY_MADVISE_HUGEPAGE"
"""numpy's environment variable: ``0`` no huge-page advice, ``1`` advice (read at import)."""


def _numpy_function(name: str) -> Callable[..., object] | None:
    """numpy's private setter or getter of the advice (numpy 2 has both), if present."""
    from numpy._core import multiarray

    function: Callable[..., object] | None = getattr(multiarray, name, None)
    return function


def numpy_hugepages() -> bool | None:
    """Whether numpy advises huge pages for its large arrays now (``None``: this numpy's
    setting cannot be read)."""
    get = _numpy_function("_get_madvise_hugepage")
    return None if get is None else bool(get())


def set_numpy_hugepages(enabled: bool) -> bool | None:
    """Turn numpy's huge-page advice on or off for the arrays allocated from now on, in the whole
    process.

    Returns:
        The setting before, or ``None`` where this numpy cannot change it (nothing changed).

    Raises:
        TypeError: If ``enabled`` is not a bool.
    """
    if type(enabled) is not bool:
        raise TypeError(f"enabled must be True or False, got {enabled!r}")
    set_ = _numpy_function("_set_madvise_hugepage")
    return None if set_ is None else bool(set_(enabled))


def command_line_default(environ: MutableMapping[str, str] | None = None) -> bool | None:
    """What ``p2p-gym`` does before any command: where ``NUMPY_MADVISE_HUGEPAGE`` is not set,
    turn numpy's huge-page advice off and set the variable to ``0`` in ``environ`` (the
    process's environment by default), so that processes started from this one (Ray's workers
    on this machine, subprocess VecEnvs, the benchmarks' fresh processes) do the same. Where it
    is set, change nothing.

    Returns:
        numpy's huge-page advice afterwards (``None``: this numpy cannot say).
    """
    environ = os.environ if environ is None else environ
    if VARIABLE not in environ and set_numpy_hugepages(False) is not None:
        environ[VARIABLE] = "0"
    return numpy_hugepages()
