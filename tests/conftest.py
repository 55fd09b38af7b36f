"""Shared test set-up.

hypothesis is imported here, at start-up, on purpose: imported late (pytest's
terminal summary imports it when no hypothesis test ran), pytest rewrites its
modules with ``ast.parse`` while tether's loop threads may be formatting a
traceback, which also calls ``ast.parse`` on Python 3.11, and CPython 3.11's
AST converter keeps its recursion counter per interpreter, not per thread:
the two collide as "SystemError: AST constructor recursion depth mismatch".
"""

import hypothesis  # noqa: F401
