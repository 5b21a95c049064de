from events_api.chain_routes import router as chain_router
from events_api.export_schedules import router as export_schedules_router
from events_api.exports import router as exports_router
from events_api.log_streams import router as log_streams_router
from events_api.routes import router
from molesignal.web.app import create_app
from molesignal.web.plan_limits import PlanRateLimit

app = create_app(
    "MoleSignal audit events",
    [log_streams_router, chain_router, router, export_schedules_router, exports_router],
    description="Spec 001: audit events with a verifiable per-org hash chain. Errors: {error, message}; 422 on "
    "validation.",
)

# Spec 001's plan limits (requests per minute per org) apply to this whole family.
app.add_middleware(PlanRateLimit)
