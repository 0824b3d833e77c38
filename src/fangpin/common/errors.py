"""The one domain error type: a refusal a user can read.

Every app's refusal (``CaseError``, ``FundError`` …) is a ``DomainError``: a message that
names what is wrong, in the words of the rule, and the field it concerns. The API answers
one with 422 and the message (``fangpin.config.api``), a page shows it at the field.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
