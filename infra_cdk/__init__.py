"""The CDK app that deploys MoleSignal from the route registry and the resource table.

It imports only plain data from the runtime side (``registry`` and
``molesignal.resources``); runtime code never imports this package.
"""

import os

# jsii prints a large banner on every start when Node is past its support window. The CDK
# works on the Node installed here (checked); silence the banner before aws_cdk starts jsii.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
