"""Early warning (预警): detectors, rules, the warning lifecycle, suppression, routing, notification, CAP 1.2."""
