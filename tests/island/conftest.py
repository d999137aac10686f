"""Tests of the island command; its helpers (island_test_helpers, browser_test_helpers) are importable from sub-folders too."""
