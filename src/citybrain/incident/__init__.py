"""Incident command and dispatch (指挥调度): incident types, lifecycles, response plans (预案), de-duplication,
unit recommendation on the road network and metro impact.

The modules here are pure (no database, no HTTP, time passed in); models, services and views build on them.
"""
