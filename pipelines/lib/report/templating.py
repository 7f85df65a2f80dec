"""The report's one jinja2 environment: templates shipped in the package, autoescape on.

Autoescape is on for every template (HTML and SVG alike), so any value from the data is
escaped in text and in quoted attributes; only what a template itself renders (a chart, a
table) is passed on as ``Markup``. ``StrictUndefined`` turns a misspelt variable into an
error instead of an empty string.
"""

from __future__ import annotations

from functools import cache

import jinja2
from markupsafe import Markup


def _coord(v: float) -> str:
    """An SVG coordinate: one decimal is below a pixel and keeps the page small."""
    return f"{float(v):.1f}"


@cache
def environment() -> jinja2.Environment:
    """Built once per process, on first use (never at import)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipelines.lib.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["c"] = _coord
    env.filters["c0"] = lambda v: f"{float(v):.0f}"
    return env


def render_fragment(template: str, **context: object) -> Markup:
    """A template rendered to safe markup, to be placed inside another template."""
    return Markup(environment().get_template(template).render(**context))
