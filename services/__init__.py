"""Services that run on the island: crisis site, resolver, simulated upstream."""
