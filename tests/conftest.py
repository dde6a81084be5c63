"""pytest set-up shared by all tests: bats files are collected as tests too (tests/pytest_bats.py); the VM
recovery scenarios' upstream/plugin comparison table (tests/vm/results.py, here so that the xdist controller loads it).
"""

pytest_plugins = ["tests.pytest_bats", "tests.vm.results"]
