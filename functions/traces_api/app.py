from molesignal.web.app import create_app
from traces_api.ingest_routes import router as ingest_router
from traces_api.routes import router as read_router

app = create_app("MoleSignal traces", [ingest_router, read_router])
