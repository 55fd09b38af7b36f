"""Real containers for tests, with no registry: a busybox image built here, podman, its Docker socket.

::

    image = ensure_busybox_image("podman")          # localhost/tether-busybox:2, built once
    with running_container("podman", image) as name:
        PodmanMachine(name)["ls"]()
    with podman_docker_service("podman", tmpdir) as url:   # unix:///.../podman.sock
        DockerMachine(name, docker_host=url)["ls"]()

The image is a statically linked busybox (Debian's ``busybox-static``) with
one symlink per applet (and a small ``nohup`` where busybox has none), a
``/tmp`` and a passwd file naming ``root`` and ``nobody``, imported from a tar stream (``podman import``): about 2 MB, a
second to build, nothing downloaded. Containers run with no network and
are removed at the end by name; the service is stopped by pid.
"""

from __future__ import annotations

import io
import os
import secrets
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: bump when the image's contents change, so a stale one is not reused
IMAGE = "localhost/tether-busybox:2"
_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home/nobody:/bin/sh\n"
_GROUP = b"root:x:0:\nnogroup:x:65534:\n"
# Debian's static busybox has no nohup applet; NOHUP commands need one
_NOHUP = b"#!/bin/sh\ntrap '' HUP\nexec \"$@\"\n"


def static_busybox() -> str | None:
    """A statically linked busybox binary (it must run with no libc in the image), or None."""
    for path in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                head = f.read(4096)
            # a dynamic ELF names its interpreter (ld-linux) in its first page
            if head.startswith(b"\x7fELF") and b"ld-linux" not in head:
                return path
    return None


def _busybox_rootfs(busybox: str) -> bytes:
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add(name: str, kind: bytes = tarfile.DIRTYPE, mode: int = 0o755, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.size, info.linkname = kind, mode, len(data), link
            tar.addfile(info, io.BytesIO(data) if data else None)

        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("home", 0o755), ("tmp", 0o1777)):
            add(directory, mode=mode)
        add("home/nobody", mode=0o755)
        with open(busybox, "rb") as f:
            add("bin/busybox", tarfile.REGTYPE, 0o755, f.read())
        for applet in applets:
            if applet != "busybox":
                add(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox")
        if "nohup" not in applets:
            add("bin/nohup", tarfile.REGTYPE, 0o755, _NOHUP)
        add("etc/passwd", tarfile.REGTYPE, 0o644, _PASSWD)
        add("etc/group", tarfile.REGTYPE, 0o644, _GROUP)
    return buffer.getvalue()


def ensure_busybox_image(podman: str, image: str = IMAGE) -> str:
    """``image``, imported from a busybox rootfs unless podman has it already."""
    if subprocess.run([podman, "image", "exists", image], capture_output=True, check=False).returncode == 0:
        return image
    busybox = static_busybox()
    if busybox is None:
        raise FileNotFoundError("a static busybox is needed to build the test image (apt-get install busybox-static)")
    subprocess.run(
        [podman, "import", "--change", 'CMD ["/bin/sh"]', "-", image],
        input=_busybox_rootfs(busybox), capture_output=True, check=True,
    )
    return image


#: the host interpreter a ``host_python`` container borrows (seen there as /opt/hostusr/bin/python3)
HOST_PYTHON = "/usr/bin/python3"

@contextmanager
def running_container(
    podman: str, image: str = IMAGE, name: str | None = None, host_python: bool = False
) -> Iterator[str]:
    """A container of ``image`` idling (no network) until the block ends; yields its name.

    ``host_python`` lends the container this host's ``/usr`` (read-only, at
    /opt/hostusr, its libraries at /lib and /lib64) so ``python3`` runs there:
    the image itself stays busybox, and busybox's tools stay first on PATH.
    """
    name = name or f"tether-test-{secrets.token_hex(4)}"
    lend = [
        "-e", "PATH=/bin:/opt/hostusr/bin", "-v", "/usr:/opt/hostusr:ro",
        "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro",
    ] if host_python else []
    # sleep as pid 1 ignores SIGTERM: removal kills it at once (--time=0)
    subprocess.run(
        [podman, "run", "--detach", "--name", name, "--network=none", *lend, image, "sleep", "2147483647"],
        capture_output=True, check=True,
    )
    try:
        yield name
    finally:
        subprocess.run([podman, "rm", "--force", "--time=0", name], capture_output=True, check=False)


@contextmanager
def podman_docker_service(podman: str, directory: str, timeout: float = 20) -> Iterator[str]:
    """Podman's Docker-compatible API on a unix socket in ``directory``; yields ``unix://...``."""
    socket = os.path.join(directory, "podman.sock")
    log_path = os.path.join(directory, "podman-service.log")  # a file: a pipe nobody reads could fill and block it
    with open(log_path, "wb") as log:
        service = subprocess.Popen(
            [podman, "system", "service", "--time=0", f"unix://{socket}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not os.path.exists(socket):
            if service.poll() is not None or time.monotonic() > deadline:
                with open(log_path, errors="replace") as f:
                    detail = f.read().strip()[-500:]
                raise RuntimeError(f"podman system service did not start: {detail or 'no socket'}")
            time.sleep(0.02)
        yield f"unix://{socket}"
    finally:
        if service.poll() is None:
            os.kill(service.pid, signal.SIGTERM)
            try:
                service.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(service.pid, signal.SIGKILL)
                service.wait()

