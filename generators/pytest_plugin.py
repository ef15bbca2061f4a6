"""pytest plugin (entry point ``pytest11``): seeded synthetic-data fixtures for QA."""
