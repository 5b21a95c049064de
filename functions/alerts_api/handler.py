from alerts_api.app import app
from molesignal.web.app import lambda_handler_for

lambda_handler = lambda_handler_for(app)
