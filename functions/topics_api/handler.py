from molesignal.web.app import lambda_handler_for
from topics_api.app import app

lambda_handler = lambda_handler_for(app)
