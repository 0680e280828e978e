"""The operations dashboard: one offline single-page app (vendored MapLibre GL, no CDN) served by the API."""
