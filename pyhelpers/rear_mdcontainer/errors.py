"""The one error type the helper raises on purpose.

Every problem the helper detects (bad mdadm output, a malformed disklayout.conf
entry, a missing disk) becomes an :class:`MdcError` that names the entry, says
what was wrong and what to do.  The CLI turns it into one line on stderr and a
distinct exit status, which the shell hooks hand to ReaR's ``Error``.
"""

from __future__ import annotations


class MdcError(Exception):
    """A problem with a named entry or device, and the fix for it."""

    def __init__(self, subject: str, problem: str, fix: str = "") -> None:
        self.subject = subject
        self.problem = problem
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.subject}: {self.problem}"
        if self.fix:
            text += f" ({self.fix})"
        return text
