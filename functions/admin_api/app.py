from admin_api.routes import audit_router, orgs_router, users_router
from molesignal.web.app import create_app

app = create_app("MoleSignal admin", [orgs_router, users_router, audit_router])
