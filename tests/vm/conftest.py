"""pytest glue for the VM tests: marker, image fixture, VM factory.

Every test that boots a VM (uses ``vm_factory`` or ``vm_image``) is marked
``vm`` (select with ``-m vm``, leave out with ``-m 'not vm'``). They are
skipped only when MDC_SKIP_VM=1; otherwise they run, building the image first
if it is not cached (several minutes). tests/vm/test_vmlib.py boots nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Callable

import pytest

from tests.vm.vmlib import VM, DiskSpec, Image, ensure_image, suite_default

VM_FIXTURES = {"vm_factory", "vm_image"}

VMFactory = Callable[..., VM]


def vm_tests_skipped() -> bool:
    return os.environ.get("MDC_SKIP_VM", "") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vm: boots QEMU VMs (slow); skipped only with MDC_SKIP_VM=1")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that boots a VM (uses vm_factory or vm_image) as ``vm``."""
    skip = pytest.mark.skip(reason="MDC_SKIP_VM=1")
    for item in items:
        if VM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.vm)
        if vm_tests_skipped() and item.get_closest_marker("vm") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def vm_image() -> Image:
    """The test image of MDC_VM_SUITE (default bookworm), built if not cached."""
    if vm_tests_skipped():
        pytest.skip("MDC_SKIP_VM=1")
    return ensure_image(suite_default())


@pytest.fixture
def vm_factory(tmp_path: Path, vm_image: Image) -> Iterator[VMFactory]:
    """``vm_factory(disks, **kwargs) -> VM`` with its work directory in tmp_path.

    Several VMs per test get their own subdirectories (vm0, vm1, ...).
    """
    count = 0

    def make(disks: Sequence[DiskSpec] = (), **kwargs: object) -> VM:
        nonlocal count
        workdir = tmp_path / f"vm{count}"
        count += 1
        kwargs.setdefault("image", vm_image)
        return VM(workdir, disks, **kwargs)  # type: ignore[arg-type]

    yield make
