from molesignal.web.app import create_app
from topics_api.routes import router

app = create_app("MoleSignal topics", [router])
