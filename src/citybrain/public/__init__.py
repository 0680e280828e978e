"""What the public sees without logging in: current warnings by district in plain language, subscriptions,
safety knowledge."""
