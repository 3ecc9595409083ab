"""Every core model, imported together so that mappers configure and Alembic sees them."""
from core.plugins import PluginChange, PluginSetting
from core.regions import Region
from core.registry.models import (
    EmploymentAgency,
    Enterprise,
    Retiree,
    RetireeHistory,
    RetireeTransfer,
)
from core.security import RegionUser

__all__ = ["EmploymentAgency", "Enterprise", "PluginChange", "PluginSetting", "Region",
           "RegionUser", "Retiree", "RetireeHistory", "RetireeTransfer"]
