"""Package data of citybrain.incident: the starter response plans (plans/*.yaml)."""
