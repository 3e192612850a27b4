"""Builders for the tests: real repositories, projects and databases, nothing mocked.

One spelling everywhere: `from tests.testing.<module> import <name>`; no test
module imports another (tests/test_layers.py holds them to it).
"""
