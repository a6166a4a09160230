"""The hourly maintenance rule, as CloudWatch Events delivers it to Zappa's handler.

Zappa names the rule ``<project>-<stage>-<module.function>`` and routes a
``Scheduled Event`` by the last part of the rule's ARN.
"""

from __future__ import annotations

import pytest

from tests.package.container import LambdaContainer
from tests.support.lambda_events import load_event

pytestmark = [pytest.mark.package, pytest.mark.postgres, pytest.mark.localstack]


def test_the_schedule_reaches_the_maintenance_function(web: LambdaContainer) -> None:
    result = web.invoke(load_event("scheduled_event.json"))
    # Whatever other tests left pending is recent: nothing is old enough to settle.
    assert result == {"ready": [], "failed": [], "pending": []}
