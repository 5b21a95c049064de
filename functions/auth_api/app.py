from auth_api.routes import auth_router, tokens_router
from molesignal.web.app import create_app

app = create_app("MoleSignal auth", [auth_router, tokens_router])
