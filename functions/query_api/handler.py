from molesignal.live.fanout import install as deliver_live_changes
from molesignal.query.duck import warm_engines
from molesignal.topics.publisher import attach as attach_topics
from molesignal.web.app import lambda_handler_for
from query_api.app import app

lambda_handler = lambda_handler_for(app)
warm_engines()  # their start-up (about 0.3 s of imports) overlaps the rest of the init phase
attach_topics()  # committed row changes are published to the topics that source them
deliver_live_changes()  # committed SQL-table changes reach /v1/ws subscribers
