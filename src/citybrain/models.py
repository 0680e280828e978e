"""Every table of every domain, imported in one place so that Alembic sees the whole schema."""

from citybrain.auth.audit.models import AuditEntry
from citybrain.auth.models import AuthToken, User
from citybrain.core.database import Base
from citybrain.core.lease import ServiceLease  # noqa: F401
from citybrain.geo.models import GeoFeature, MetroArc
from citybrain.hazard import models as _hazard  # noqa: F401
from citybrain.hazard.inspection import models as _inspection  # noqa: F401
from citybrain.hazard.nearmiss import models as _nearmiss  # noqa: F401
from citybrain.hazard.risk import models as _risk  # noqa: F401
from citybrain.incident.models import (  # noqa: F401
    Incident,
    IncidentEvent,
    IncidentLink,
    IncidentPart,
    IncidentPlan,
    IncidentTask,
    Unit,
    UnitDispatch,
)
from citybrain.org.models import Department, Enterprise, Share
from citybrain.public import models as _public  # noqa: F401
from citybrain.report import case_models as _cases  # noqa: F401
from citybrain.report import models as _reports  # noqa: F401
from citybrain.sensing.models import Asset, DeadLetter, Device, DeviceTypeRow, Reading, ReadingLatest, ReadingRollup  # noqa: F401
from citybrain.training import models as _training  # noqa: F401
from citybrain.warning.models import (  # noqa: F401
    EngineState,
    Notification,
    NotificationChannel,
    Silence,
    Warning,
    WarningConfig,
    WarningEvent,
    WarningGroup,
    WarningGroupMember,
    WarningRule,
)

metadata = Base.metadata

__all__ = ["AuditEntry", "AuthToken", "Department", "Enterprise", "GeoFeature", "MetroArc", "Share", "User", "metadata"]
