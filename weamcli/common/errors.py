"""The one exception type users see: a one-line message, optionally naming a file and line."""

from __future__ import annotations

from os import PathLike


class WeamError(Exception):
    """An error caused by the user's input or environment, reported as one line (no traceback)."""

    def __init__(self, message: str, path: str | PathLike | None = None, line: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"
