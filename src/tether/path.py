"""Copy, move and delete files and trees between any machines.

::

    from tether import path, local
    path.copy("report.pdf", rem.path("/srv/www"))        # upload
    path.copy(rem_a.path("/data"), rem_b.path("/backup"), progress=print)
    path.move(rem.path("/tmp/out.csv"), local.path("."))
    path.delete(rem.path("/tmp/scratch"))

See :mod:`tether.paths.cross` for the guarantees (atomic at the destination,
remote-to-remote streaming with no local temporary copy).
"""

from .paths.cross import copy, delete, move

__all__ = ["copy", "delete", "move"]
