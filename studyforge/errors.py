"""Errors a user can cause. The CLI turns each into one red line and exit code 2 — never a traceback."""


class ForgeError(Exception):
    """A problem the user can fix: the message says what, where, and how to fix it.

    >>> raise ForgeError("week17 is not in curriculum.yaml (weeks 1–16)", hint="use e.g. `forge run week4`")
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message
