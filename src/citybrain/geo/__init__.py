"""Base geography of a city: coordinates, regions, metro and road networks, map layers."""
