from molesignal.web.app import create_app
from platform_api.routes import router

app = create_app("MoleSignal platform", [router])
