"""An input's spatial size, height x width, and how it is written.

Everywhere a size is accepted (workload files, a model row's own `resolution`, `count --resolution`) and
everywhere one is shown (case labels, so `--filter '*r640x480*'`; records' `resolution` column) a square size
is one number, `224`, and any other is `HEIGHTxWIDTH`, `640x480`: height first, as in an NCHW tensor. Records
also keep `height` and `width` as integers (record format v4)."""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SIZE = 65536  # no side beyond this is a measurement anyone means: refuse, do not allocate
VALID = f"a positive integer up to {MAX_SIZE} (224) or HEIGHTxWIDTH (640x480)"
_HXW = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")


@dataclass(frozen=True)
class InputSize:
    height: int
    width: int

    @property
    def square(self) -> bool:
        return self.height == self.width

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def key(self) -> int | str:
        """What case ids hash: a square size as the integer it was before sizes had two sides, so the
        ids of square cases (every case before v4) do not change."""
        return self.height if self.square else str(self)

    def __str__(self) -> str:
        return str(self.height) if self.square else f"{self.height}x{self.width}"


def parse_input_size(value) -> InputSize:
    """An InputSize from 224, "224", "640x480" or an InputSize; ValueError saying what is wrong otherwise."""
    if isinstance(value, InputSize):
        return value
    if isinstance(value, bool):
        raise ValueError(f"bad input size {value!r}")
    if isinstance(value, int):
        sides = (value, value)
    elif isinstance(value, str) and value.strip().isdigit():
        sides = (int(value), int(value))
    elif isinstance(value, str) and _HXW.fullmatch(value):
        sides = tuple(int(s) for s in _HXW.fullmatch(value).groups())
    else:
        raise ValueError(f"bad input size {value!r}")
    if not all(0 < s <= MAX_SIZE for s in sides):
        raise ValueError(f"bad input size {value!r}: each side must be 1 to {MAX_SIZE}")
    return InputSize(*sides)
