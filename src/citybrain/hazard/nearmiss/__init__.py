"""Near misses and minor accidents (未遂先兆) as records, and their place in the precursor pyramid."""
