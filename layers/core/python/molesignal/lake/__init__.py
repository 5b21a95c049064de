"""The Parquet lake in S3: layout, schema evolution, writing, and the manifest in DynamoDB."""
