"""The one error a rule document can raise: which field is wrong (a path such as ``when`` or
``actions[1].kind``) and why, so an operator applying a rule sees exactly what to fix."""

from __future__ import annotations


class RuleError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
