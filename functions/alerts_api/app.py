from alerts_api.routes import (
    active_router,
    destinations_router,
    dlq_router,
    history_router,
    rules_router,
    silences_router,
)
from molesignal.web.app import create_app

app = create_app(
    "MoleSignal alerts",
    [destinations_router, rules_router, active_router, silences_router, history_router, dlq_router],
)
