"""Single-table DynamoDB access: key builders (``keys``) and a thin typed table (``table``)."""
