"""The compose stack's layout and router rules, light enough to import in every container healthcheck.

Nothing here imports more than the standard library and :mod:`island.topology`.
"""
