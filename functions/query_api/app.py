from molesignal.web.app import create_app
from query_api.routes import files_router, router, streams_router

app = create_app("MoleSignal query", [router, streams_router, files_router])
