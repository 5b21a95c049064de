"""One construct per kind of resource; each loops over the registry or the resource table.

(Named ``components`` rather than ``constructs`` so that it can never shadow the
``constructs`` library every CDK module imports.)
"""
