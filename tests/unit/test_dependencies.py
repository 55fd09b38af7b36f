"""tether's dependencies stay quiet and inside the range tether is tested with."""

import subprocess
import sys

import pytest

from tether.exceptions import DependencyError
from tether.transports.asyncssh_import import SUPPORTED, check_supported


def python(code: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *options, "-c", code], capture_output=True, text=True, timeout=60)


def test_importing_asyncssh_through_tether_is_silent_even_with_warnings_as_errors():
    done = python("from tether.transports.asyncssh_import import asyncssh; print(asyncssh.__version__)", "-W", "error")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_the_filter_hides_only_asyncssh_s_deprecations_not_the_callers():
    code = (
        "import warnings\n"
        "from tether.transports.asyncssh_import import asyncssh\n"
        "from cryptography.utils import CryptographyDeprecationWarning\n"
        "warnings.warn('my own deprecation', CryptographyDeprecationWarning)\n"
    )
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert "my own deprecation" in done.stderr


@pytest.mark.parametrize("version", ["2.14.0", "2.23.0", "3.0.0", "10.1"])
def test_an_asyncssh_outside_the_range_is_a_clear_error(version):
    with pytest.raises(DependencyError, match=rf"tether needs asyncssh {SUPPORTED}; asyncssh {version} is installed"):
        check_supported(version, has_internals=True)


def test_missing_asyncssh_internals_name_the_range_too():
    check_supported("2.24.1", has_internals=True)  # in range, internals there: fine
    with pytest.raises(DependencyError, match=r"lacks SSHChannel\._deliver_data.*tested with asyncssh >=2\.23\.1,<3"):
        check_supported("2.24.1", has_internals=False)
