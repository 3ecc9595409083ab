"""Every core model, imported together so that mappers configure and Alembic sees them."""
from core.audit.models import AuditEntry, AuditHead
from core.jobs import Job
from core.plugins import PluginChange, PluginSetting
from core.regions import Region
from core.registry.models import (
    EmploymentAgency,
    Enterprise,
    Retiree,
    RetireeHistory,
    RetireeTransfer,
)
from core.release.models import ReleaseRequest
from core.security import RegionUser

__all__ = ["AuditEntry", "AuditHead", "EmploymentAgency", "Enterprise", "Job", "PluginChange",
           "PluginSetting", "Region", "RegionUser", "ReleaseRequest", "Retiree",
           "RetireeHistory", "RetireeTransfer"]
