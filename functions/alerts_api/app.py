from alerts_api.routes import destinations_router, rules_router
from molesignal.web.app import create_app

app = create_app("MoleSignal alerts", [destinations_router, rules_router])
