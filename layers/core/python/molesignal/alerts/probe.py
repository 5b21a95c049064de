"""A test notification, sent at once from the API so the caller sees the receiver's answer."""

from __future__ import annotations

from molesignal.alerts import history
from molesignal.alerts.destinations import Destination
from molesignal.alerts.notification import Notification, Status, new_notification_id
from molesignal.alerts.senders import DeliveryReport, send
from molesignal.clock import now_us
from molesignal.storage.table import Table

TEST_SOURCE = "test"


def send_test(table: Table, destination: Destination, *, actor: str) -> DeliveryReport:
    notification = Notification(
        id=new_notification_id(),
        org_id=destination.org_id,
        status=Status.TEST,
        source_id=TEST_SOURCE,
        source_name=f"Test notification for {destination.name}",
        source_kind="test",
        severity="info",
        fingerprint="test",
        labels={"destination": destination.name, "requested_by": actor},
        message=f"This is a test notification from MoleSignal, sent by {actor}.",
        started_at_us=now_us(),
    )
    report = send(destination, notification)
    history.record(
        table,
        destination.org_id,
        history.EntryType.DELIVERY,
        source_id=TEST_SOURCE,
        source_name=notification.source_name,
        notification_id=notification.id,
        notification_status=notification.status.value,
        destination_id=destination.id,
        destination_type=destination.type.value,
        attempt=1,
        outcome="delivered" if report.ok else "failed",
        status_code=report.status,
        detail=report.detail[:512],
    )
    return report
