"""A small builder of sparse linear programmes for HiGHS (``scipy.optimize``).

Variables are allocated in blocks (numpy index arrays of any shape) and constraints are added
as vectorised sums of ``coefficient * variable`` terms that broadcast to one shape: each element
of that shape is one row. This keeps the oracle's and the MPC's models readable (one line per
family of constraints) while the matrices are assembled once in COO form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MIP_REL_GAP = 1e-3
"""Relative optimality gap at which a MILP stops: 0.1 % (about 8 JPY a day for the
demonstration's community bill; HiGHS needs minutes to prove 0.01 % on its overlap binaries)."""

Term = tuple[ArrayLike, IntArray]
"""``(coefficient, variable indices)``: broadcast together with the other terms of a row set."""


class LPError(RuntimeError):
    """HiGHS found no optimal solution (infeasible, unbounded or out of time)."""


@dataclass(frozen=True)
class Solution:
    """An optimal point and its objective value."""

    x: FloatArray
    objective: float
    optimal: bool = True
    """False for a MILP's best point when the time limit stopped HiGHS (see ``solve``)."""

    def __getitem__(self, index: IntArray) -> FloatArray:
        value: FloatArray = self.x[index]
        return value


class LinearProgram:
    """``min c'x`` subject to ``A_ub x <= b_ub``, ``A_eq x = b_eq`` and bounds, built in blocks."""

    def __init__(self) -> None:
        self.n = 0
        self._cost: list[FloatArray] = []
        self._lb: list[FloatArray] = []
        self._ub: list[FloatArray] = []
        self._integer: list[NDArray[np.bool_]] = []
        self._rows: dict[str, list[tuple[IntArray, IntArray, FloatArray]]] = {"eq": [], "ub": []}
        self._rhs: dict[str, list[FloatArray]] = {"eq": [], "ub": []}
        self._n_rows = {"eq": 0, "ub": 0}

    def variables(
        self,
        shape: tuple[int, ...],
        lb: ArrayLike = 0.0,
        ub: ArrayLike = np.inf,
        cost: ArrayLike = 0.0,
        integer: bool = False,
    ) -> IntArray:
        """Allocate ``shape`` variables with broadcastable bounds and cost; return their indices."""
        size = int(np.prod(shape, dtype=np.int64))
        index = np.arange(self.n, self.n + size, dtype=np.int64).reshape(shape)
        self.n += size
        self._cost.append(np.broadcast_to(np.asarray(cost, np.float64), shape).ravel().copy())
        self._lb.append(np.broadcast_to(np.asarray(lb, np.float64), shape).ravel().copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, np.float64), shape).ravel().copy())
        self._integer.append(np.full(size, integer))
        return index

    def _add(self, kind: str, terms: list[Term], rhs: ArrayLike) -> None:
        shape = np.broadcast_shapes(
            *[np.shape(idx) for _, idx in terms], *[np.shape(c) for c, _ in terms], np.shape(rhs)
        )
        n_rows = int(np.prod(shape, dtype=np.int64))
        rows = np.arange(self._n_rows[kind], self._n_rows[kind] + n_rows, dtype=np.int64)
        for coef, idx in terms:
            c = np.broadcast_to(np.asarray(coef, np.float64), shape).ravel()
            i = np.broadcast_to(idx, shape).ravel()
            keep = c != 0
            self._rows[kind].append((rows[keep], i[keep], c[keep]))
        self._rhs[kind].append(np.broadcast_to(np.asarray(rhs, np.float64), shape).ravel().copy())
        self._n_rows[kind] += n_rows

    def equal(self, terms: list[Term], rhs: ArrayLike = 0.0) -> None:
        """Rows ``sum(coef * x[idx]) == rhs``, one per element of the broadcast shape."""
        self._add("eq", terms, rhs)

    def at_most(self, terms: list[Term], rhs: ArrayLike = 0.0) -> None:
        """Rows ``sum(coef * x[idx]) <= rhs``, one per element of the broadcast shape."""
        self._add("ub", terms, rhs)

    def equal_sums(self, terms: list[Term], rhs: ArrayLike) -> None:
        """Rows ``sum_k coef[..., k] * x[idx[..., k]] == rhs``: each term's last axis is summed.

        ``rhs`` has the rows' shape ``R``; every term's indices have shape ``R + (k,)`` (``k`` may
        differ between terms) and its coefficient broadcasts to that shape.
        """
        shape = np.shape(rhs)
        n_rows = int(np.prod(shape, dtype=np.int64))
        rows = np.arange(self._n_rows["eq"], self._n_rows["eq"] + n_rows, dtype=np.int64).reshape(
            shape
        )
        for coef, idx in terms:
            full = np.shape(idx)
            c = np.broadcast_to(np.asarray(coef, np.float64), full).ravel()
            r = np.broadcast_to(rows[..., None], full).ravel()
            i = np.asarray(idx).ravel()
            keep = c != 0
            self._rows["eq"].append((r[keep], i[keep], c[keep]))
        self._rhs["eq"].append(np.asarray(rhs, np.float64).ravel().copy())
        self._n_rows["eq"] += n_rows

    def fix(self, index: IntArray, value: ArrayLike) -> None:
        """Set lower and upper bound of ``index`` to ``value`` (a decision already taken)."""
        lb, ub = np.concatenate(self._lb), np.concatenate(self._ub)
        v = np.broadcast_to(np.asarray(value, np.float64), np.shape(index)).ravel()
        flat = np.asarray(index).ravel()
        lb[flat] = v
        ub[flat] = v
        self._lb, self._ub = [lb], [ub]

    def _matrix(self, kind: str) -> tuple[scipy.sparse.csr_array | None, FloatArray | None]:
        if self._n_rows[kind] == 0:
            return None, None
        parts = self._rows[kind]
        rows = np.concatenate([p[0] for p in parts])
        cols = np.concatenate([p[1] for p in parts])
        vals = np.concatenate([p[2] for p in parts])
        matrix = scipy.sparse.csr_array(
            scipy.sparse.coo_array((vals, (rows, cols)), shape=(self._n_rows[kind], self.n))
        )
        return matrix, np.concatenate(self._rhs[kind])

    def solve(self, time_limit_s: float = 300.0) -> Solution:
        """Solve with HiGHS (``milp`` when any variable is integer, else ``linprog``).

        A MILP stops at a relative gap of :data:`MIP_REL_GAP`; when the time limit stops it with
        an integer-feasible point, that point is returned with ``optimal=False``.

        Raises:
            LPError: no optimal (or, for a MILP, no feasible) solution was found.
        """
        cost = np.concatenate(self._cost)
        lb, ub = np.concatenate(self._lb), np.concatenate(self._ub)
        a_ub, b_ub = self._matrix("ub")
        a_eq, b_eq = self._matrix("eq")
        integer = np.concatenate(self._integer)
        if integer.any():
            constraints = []
            if a_ub is not None:
                constraints.append(scipy.optimize.LinearConstraint(a_ub, -np.inf, b_ub))
            if a_eq is not None:
                constraints.append(scipy.optimize.LinearConstraint(a_eq, b_eq, b_eq))
            result = scipy.optimize.milp(
                cost,
                integrality=integer.astype(np.int64),
                bounds=scipy.optimize.Bounds(lb, ub),
                constraints=constraints,
                options={"time_limit": time_limit_s, "mip_rel_gap": MIP_REL_GAP},
            )
            if result.status == 1 and result.x is not None:
                # Time limit with an integer-feasible point: usable, if not proven optimal.
                return Solution(np.asarray(result.x, np.float64), float(result.fun), False)
        else:
            result = scipy.optimize.linprog(
                cost,
                A_ub=a_ub,
                b_ub=b_ub,
                A_eq=a_eq,
                b_eq=b_eq,
                bounds=np.stack([lb, ub], axis=1),
                method="highs",
                options={"time_limit": time_limit_s},
            )
        if result.status != 0 or result.x is None:
            raise LPError(f"HiGHS found no optimal solution ({self.n} variables): {result.message}")
        return Solution(np.asarray(result.x, dtype=np.float64), float(result.fun))
