"""Strings as arrays of Unicode code points: character n-grams counted with numpy instead of Python loops.

Used where a call's n-grams are counted (K4's restatement similarity, the
question model's TF-IDF rows): a code point fits in ``CODE_BITS`` bits, so an
n-gram is one or two code points shifted into an int64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CODE_BITS = 21  # every Unicode code point fits


@dataclass(frozen=True)
class CodePoints:
    """Pieces of text back to back; for each code point, where its piece ends and which row it belongs to."""

    codes: np.ndarray  # int64
    piece_end: np.ndarray  # exclusive end of the code point's piece
    row: np.ndarray

    def inside(self, n: int) -> np.ndarray:
        """For each start of an n-gram (``codes.size - n + 1`` of them): whether it stays inside its piece."""
        m = self.codes.size - n + 1
        return np.arange(m) + n <= self.piece_end[:m]


def code_points(pieces: Sequence[str], rows: Sequence[int] | None = None) -> CodePoints:
    """``pieces`` as one code-point array; ``rows[k]`` is piece k's row (default: k)."""
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    codes = np.frombuffer("".join(pieces).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    owner = np.arange(len(pieces)) if rows is None else np.asarray(rows, dtype=np.int64)
    return CodePoints(codes, np.repeat(np.cumsum(lengths), lengths), np.repeat(owner, lengths))
