"""The fixtures live in core.testing (shared with plugin authors); names re-exported
for the tests that import them."""
from core.testing import PASSWORD, REGIONS, USERS

__all__ = ["PASSWORD", "REGIONS", "USERS"]
