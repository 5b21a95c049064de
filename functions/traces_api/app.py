from molesignal.web.app import create_app
from traces_api.act_routes import router as act_router
from traces_api.ingest_routes import router as ingest_router
from traces_api.replay_routes import router as replay_router
from traces_api.routes import router as read_router
from traces_api.share_routes import router as share_router

# The literal /v1/traces/diff comes before /v1/traces/{trace_id}, /v1/replays/runner before
# /v1/replays/{replay_id}: FastAPI matches in order.
app = create_app("MoleSignal traces", [act_router, ingest_router, read_router, replay_router, share_router])
