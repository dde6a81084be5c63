"""Rendering diskrestore.sh code from the model with jinja2 templates.

Every value that reaches the generated shell goes through the ``q`` filter
(``shlex.quote``) or is an integer the model validated, so nothing a volume
name or a disk path says is ever executed.  The templates live in
``templates/*.sh.j2`` and read like the shell an administrator would write.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .errors import MdcError
from .model import Container, Layout, Volume
from .native import MD_OVERHEAD_MIB, plan_native
from .plan import plan_volumes

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def _quote(value: object) -> str:
    return shlex.quote(str(value))


def _printable(value: object) -> str:
    """For comments only: the text with everything but printable ASCII replaced by '?'."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in str(value))


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=StrictUndefined,
        autoescape=False,  # shell code, quoted by the q filter, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = _quote
    env.filters["printable"] = _printable
    return env


def render_container(layout: Layout, device: str, *, no_platform: bool, no_platform_setting: str,
                     grow_last: bool, wait_seconds: int, reuse: bool = False) -> str:
    container = _find_container(layout, device)
    return environment().get_template("container.sh.j2").render(
        container=container,
        volumes=plan_volumes(layout, container, grow_last),
        no_platform=no_platform and container.metadata == "imsm",
        no_platform_setting=no_platform_setting,
        grow_last=grow_last,
        wait_seconds=int(wait_seconds),
        reuse=reuse,
    )


def render_volume(layout: Layout, device: str, *, wait_seconds: int) -> str:
    volume = _find_volume(layout, device)
    return environment().get_template("volume.sh.j2").render(volume=volume, wait_seconds=int(wait_seconds))


def render_native_container(layout: Layout, device: str, *, grow_last: bool, wait_seconds: int,
                            deps: Sequence[tuple[str, str]]) -> str:
    """MDCONTAINER_MIGRATE=native: the container's volumes as native md arrays (no container)."""
    container = _find_container(layout, device)
    return environment().get_template("native_container.sh.j2").render(
        container=container,
        plan=plan_native(layout, container, grow_last, deps),
        grow_last=grow_last,
        wait_seconds=int(wait_seconds),
        md_overhead_mib=MD_OVERHEAD_MIB,
    )


def render_native_volume(layout: Layout, device: str, *, grow_last: bool, wait_seconds: int,
                         deps: Sequence[tuple[str, str]]) -> str:
    volume = _find_volume(layout, device)
    plan = plan_native(layout, layout.container(volume.container), grow_last, deps)
    array = next(a for a in plan.arrays if a.device == volume.device)
    return environment().get_template("native_volume.sh.j2").render(array=array, wait_seconds=int(wait_seconds))


def _find_container(layout: Layout, device: str) -> Container:
    try:
        return layout.container(device)
    except KeyError:
        raise MdcError(f"mdcontainer {device}", "there is no such entry in the layout file",
                       "check disklayout.conf") from None


def _find_volume(layout: Layout, device: str) -> Volume:
    for volume in layout.volumes:
        if volume.device == device:
            return volume
    raise MdcError(f"mdvolume {device}", "there is no such entry in the layout file", "check disklayout.conf")
