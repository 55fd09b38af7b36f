"""The execution engine: running plans as processes, below ``machines/``.

Machines import this package; nothing here imports ``tether.machines``.

- ``job``: ``Job`` (a running plan on an event loop: streams, timeouts,
  cancellation) and the exit rules both drivers share (``check_exit``,
  ``pipefail``, ``log_finished``, ``run_killers``, ``BY_POSITION``/``BY_TYPE``).
- ``local_run``: the blocking driver, one ``poll()`` loop on the caller's
  thread for a local plan (the fast path of ``local["ls"]()``).
- ``popen``: the sync API's handles over a ``Job``: ``Popen`` and ``Future``.
- ``session``: persistent shells, ``ShellSession`` and ``AsyncShellSession``.
- ``remote_jobs``: the shell text that records remote commands' pids so they
  can be signalled and cleaned up (no I/O).
- ``processes``: the ``ps`` script and its parser behind ``list_processes()``
  and ``pgrep()``.
"""
