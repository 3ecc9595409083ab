"""Errors that carry a Chinese message for the person who caused them."""


class RuleViolation(ValueError):
    """Bad input, refused with a clear Chinese message; nothing is changed.

    ``field`` names the offending field (API field name) when there is one,
    ``rule`` the rule ID from REQUIREMENTS.md that the input breaks.
    """

    def __init__(self, message: str, field: str | None = None, rule: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule


class RuleViolations(ValueError):
    """Several violations found on one record, reported together."""

    def __init__(self, violations: list[RuleViolation]):
        super().__init__("；".join(v.message for v in violations))
        self.violations = violations

    def by_field(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for v in self.violations:
            out.setdefault(v.field or "_schema", []).append(v.message)
        return out


class ScopeViolation(PermissionError):
    """A read or write outside the current user's region subtree."""

    def __init__(self, message: str = "无权操作本辖区以外的数据"):
        super().__init__(message)
        self.message = message
