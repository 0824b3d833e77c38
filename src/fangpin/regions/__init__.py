"""The region tree: city → county → township → village (GB/T 2260 style codes)."""
