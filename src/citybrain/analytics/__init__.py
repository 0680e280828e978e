"""Analytics: the dynamic risk map, precursor trends and hotspots, statistics across domains."""
