"""``p2p-gym compile``: compile (or load from numba's cache) every kernel now."""

from __future__ import annotations

import time

from p2p_env.cli._common import console


def compile_() -> None:
    """Compile every numba kernel now (about 30 s the first time, then cached), so that the
    first environment, bench or test does not; print which code each part runs."""
    from p2p_env.kernels import compile_kernels

    start = time.perf_counter()
    backends = compile_kernels()
    for part, backend in backends.items():
        console.print(f"{part}: {backend}")
    console.print(f"kernels ready in {time.perf_counter() - start:.1f} s")
