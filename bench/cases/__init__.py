"""The benchmark cases: every module in this package exports ``CASES``.

To add cases, put a module here (``bench/cases/remote_commands.py``) that
defines ``CASES = [Case(...), ...]``; :func:`load_cases` picks it up::

    from cases import load_cases
    [c.name for c in load_cases()]   # ['local.echo', 'local.pipeline-1GiB', ...]
"""

from __future__ import annotations

import importlib
import pkgutil

from harness import Case


def load_cases() -> list[Case]:
    """All cases from all modules of this package, in module then list order."""
    cases: list[Case] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        cases.extend(module.CASES)
    names = [c.name for c in cases]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"benchmark case names repeat: {repeated}")
    return cases
