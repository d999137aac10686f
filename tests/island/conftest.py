"""Makes this folder's helpers (island_test_helpers, browser_test_helpers, docker_test_helpers) importable from its subfolders."""
