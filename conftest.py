"""Loads the project's fixtures (core.testing) for tests/, plugins/ and districts/."""
pytest_plugins = ["core.testing"]
