"""tether.logs: MpLogger across real processes, the formatter, the rotating handler."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest

from tether.logs import LevelBasedFormatter, MpLogger, TimedSizedRotatingHandler

PROCESSES, RECORDS = 8, 10_000


def _log_many(info: dict, index: int, count: int) -> None:
    logger = MpLogger.get_logger(info, name=f"worker{index}")
    for number in range(count):
        logger.info("w%d %d", index, number)


def _read_rotated(directory: Path, stem: str) -> list[str]:
    """Every line of ``stem`` and its rolled files, oldest first."""
    rolled = sorted(directory.glob(f"{stem}.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]), reverse=True)
    lines: list[str] = []
    for path in [*rolled, directory / stem]:
        lines += path.read_text().splitlines()
    return lines


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_nothing_is_lost_across_processes_and_rotations(tmp_path, method):
    """8 processes x 10,000 records: all arrive, in order per process, though the files roll many times."""
    mplogger = MpLogger(
        name="all", logdir=tmp_path, consolidate=True, level_formats={"default": "%(message)s"},
        maxBytes=40_000, backupCount=10_000,
    )
    mplogger.start()
    context = mp.get_context(method)
    procs = [context.Process(target=_log_many, args=(mplogger.logger_info(), i, RECORDS)) for i in range(PROCESSES)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    mplogger.stop()
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES

    consolidated = _read_rotated(tmp_path, "all.log")
    assert len(consolidated) == PROCESSES * RECORDS
    for index in range(PROCESSES):
        mine = [int(line.split()[1]) for line in consolidated if line.startswith(f"w{index} ")]
        assert mine == list(range(RECORDS)), f"worker {index} lost or reordered records"
        own_file = _read_rotated(tmp_path, f"worker{index}.log")
        assert own_file == [f"w{index} {n}" for n in range(RECORDS)]
    assert len(list(tmp_path.glob("all.log.*"))) > 10  # it did roll, many times
    assert all(p.stat().st_size <= 40_000 for p in tmp_path.iterdir())


SEED_EXAMPLE = '''
import time
import random
import logging
from tether.logs import MpLogger
import os
import multiprocessing as mp

def subproc(limit=1, logger_info=None):
    logger=MpLogger.get_logger(logger_info, name="acrilog.subproc", )
    for i in range(limit):
        sleep_time=3/random.randint(1,10)
        time.sleep(sleep_time)
        logger.info("proc [%s]: %s/%s - sleep %4.4ssec" % (os.getpid(), i, limit, sleep_time))

level_formats={logging.DEBUG:"[ %(asctime)s ][ %(levelname)s ][ %(message)s ][ %(module)s.%(funcName)s(%(lineno)d) ]",
                'default':   "[ %(asctime)s ][ %(levelname)s ][ %(message)s ]",
                }

mplogger=MpLogger(logging_level=logging.DEBUG, level_formats=level_formats, datefmt='%Y-%m-%d,%H:%M:%S.%f')
logger=mplogger.start(name='main_process')

logger.debug("starting sub processes")
procs=list()
for limit in [1, 1]:
    proc=mp.Process(target=subproc, args=(limit, mplogger.logger_info(),))
    procs.append(proc)
    proc.start()

for proc in procs:
    if proc:
        proc.join()

logger.debug("sub processes completed")

mplogger.stop()
'''


def test_seed_example_with_two_subprocesses_runs_as_written(tmp_path):
    script = tmp_path / "mplogger_example.py"
    script.write_text(SEED_EXAMPLE)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    stamp = r"\[ \d{4}-\d\d-\d\d,\d\d:\d\d:\d\d\.\d{6} \]"
    assert re.fullmatch(stamp + r"\[ DEBUG \]\[ starting sub processes \]\[ mplogger_example\.<module>\(\d+\) \]", lines[0])
    infos = [line for line in lines if "[ INFO ]" in line]
    assert len(infos) == 2 and all(re.fullmatch(stamp + r"\[ INFO \]\[ proc \[\d+\]: 0/1 - sleep .+sec \]", x) for x in infos)
    assert re.fullmatch(stamp + r"\[ DEBUG \]\[ sub processes completed \]\[ mplogger_example\.<module>\(\d+\) \]", lines[-1])
    assert len(lines) == 4
    assert list(tmp_path.iterdir()) == [script]  # no logdir: nothing written to files


def test_formatter_shows_real_microseconds_and_the_host():
    formatter = LevelBasedFormatter({"default": "%(asctime)s %(host)s %(message)s"}, datefmt="%H:%M:%S.%f")
    record = logging.makeLogRecord({"msg": "hi", "levelno": logging.INFO, "created": 1_700_000_000.123456})
    clock, host, message = formatter.format(record).split()
    assert clock == datetime.fromtimestamp(1_700_000_000.123456).strftime("%H:%M:%S.%f")
    assert clock.endswith(".123456")
    assert (host, message) == (socket.gethostname(), "hi")


def test_formatter_picks_the_format_by_level_and_refuses_unknown_levels():
    formatter = LevelBasedFormatter({"DEBUG": "D %(message)s", logging.ERROR: "E %(message)s", "default": "%(message)s"})
    make = lambda level: logging.makeLogRecord({"msg": "m", "levelno": level})
    assert [formatter.format(make(level)) for level in (10, 20, 40)] == ["D m", "m", "E m"]
    with pytest.raises(ValueError, match="LOUD"):
        LevelBasedFormatter({"LOUD": "%(message)s"})


def test_handler_rolls_over_on_size_and_keeps_backup_count(tmp_path):
    handler = TimedSizedRotatingHandler(tmp_path / "app.log", maxBytes=100, backupCount=2)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for number in range(30):
        handler.handle(logging.makeLogRecord({"msg": f"line {number:02d} " + "x" * 20}))
    handler.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.log", "app.log.1", "app.log.2"]
    assert all(p.stat().st_size <= 100 for p in tmp_path.iterdir())
    newest = (tmp_path / "app.log").read_text().splitlines()
    assert newest[-1].startswith("line 29")


def test_handler_rolls_over_on_time(tmp_path):
    handler = TimedSizedRotatingHandler(tmp_path / "app.log", when="s", interval=1, backupCount=5)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.handle(logging.makeLogRecord({"msg": "first"}))
    handler.rolloverAt = time.time() - 1  # the interval has passed
    handler.handle(logging.makeLogRecord({"msg": "second"}))
    handler.close()
    assert (tmp_path / "app.log.1").read_text() == "first\n"
    assert (tmp_path / "app.log").read_text() == "second\n"


def test_file_mode_w_starts_afresh_and_a_appends(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("old\n")
    for mode, expected in (("a", "old\nnew\n"), ("w", "new\n")):
        path.write_text("old\n")
        handler = TimedSizedRotatingHandler(path, file_mode=mode)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.handle(logging.makeLogRecord({"msg": "new"}))
        handler.close()
        assert path.read_text() == expected


def test_per_key_files_prefix_suffix_and_process_key(tmp_path):
    mplogger = MpLogger(
        name="run", logdir=tmp_path, process_key="processName", file_prefix="p-", file_suffix="-s",
        level_formats={"default": "%(name)s %(message)s"},
    )
    logger = mplogger.start()
    logger.warning("from main")
    other = MpLogger.get_logger(mplogger.logger_info(), name="other")
    other.info("from other")
    mplogger.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p-other.MainProcess-s.log", "p-run.MainProcess-s.log"]
    assert (tmp_path / "p-other.MainProcess-s.log").read_text() == "other from other\n"


def test_no_global_side_effects(tmp_path):
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogRecordFactory())
    import signal

    handlers_before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    mplogger = MpLogger(logdir=tmp_path)
    mplogger.start("quiet").info("x")
    mplogger.stop()
    assert (list(root.handlers), root.level, logging.getLogRecordFactory()) == before
    assert {sig: signal.getsignal(sig) for sig in handlers_before} == handlers_before
    assert os.listdir(tmp_path) == ["quiet.log"]


def test_bad_options_are_named():
    with pytest.raises(TypeError, match="maxbytes"):
        MpLogger(maxbytes=10)
    with pytest.raises(ValueError, match="file_mode"):
        MpLogger(file_mode="r")
    with pytest.raises(RuntimeError, match="before start"):
        MpLogger().logger_info()


def test_child_started_by_a_script_logs_through_spawn(tmp_path):
    """A spawned child that imports nothing of the parent's but the info dict still reaches the files."""
    script = tmp_path / "spawned.py"
    script.write_text(textwrap.dedent(f"""
        import multiprocessing as mp
        from tether.logs import MpLogger

        def child(info):
            MpLogger.get_logger(info, name="child").warning("hello from %s", mp.current_process().name)

        if __name__ == "__main__":
            mp.set_start_method("spawn")
            m = MpLogger(logdir={str(tmp_path / 'logs')!r}, level_formats={{"default": "%(message)s"}})
            m.start("main")
            p = mp.Process(target=child, args=(m.logger_info(),), name="kid")
            p.start(); p.join()
            m.stop()
    """))
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    assert (tmp_path / "logs" / "child.log").read_text() == "hello from kid\n"
