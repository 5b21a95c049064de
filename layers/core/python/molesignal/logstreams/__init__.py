"""Log streams: per-org destinations every chained audit event is fanned out to (an HTTPS
webhook signed with HMAC, the customer's S3 bucket, Datadog's logs intake, Splunk HEC)."""
