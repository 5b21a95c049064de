"""The CDK's jsii runtime starts Node on the first ``import aws_cdk``; silence its Node
version banners before any test module imports it."""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
