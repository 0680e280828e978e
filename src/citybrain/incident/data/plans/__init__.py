"""The starter response plans (预案), one YAML file per key incident type."""
