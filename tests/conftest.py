"""pytest set-up shared by all tests: bats files are collected as tests too (tests/pytest_bats.py)."""

pytest_plugins = ["tests.pytest_bats"]
