from molesignal.web.app import create_app
from otlp_api.routes import router

app = create_app("MoleSignal OTLP", [router])
