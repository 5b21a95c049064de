"""SQL over the lake: the tenant-safe rewrite, the engines, the result cache."""
