"""Container machines: Podman, Docker, Kubernetes and OpenShift, with the full machine API.

::

    from tether import PodmanMachine, DockerMachine, KubernetesMachine
    with PodmanMachine("web", user="nobody") as box:
        box["ls"]("-a", "/etc")
        (box["cat"]["/etc/passwd"] | box["grep"]["root"])()   # one pipeline, in the container
        box.session().run("cd /tmp && ls")
        box.upload("app.conf", "/etc/app/")

A container machine is the shared remote-machine logic
(:class:`~tether.machines.remote.AsyncRemoteMachine`: control shell, job
bookkeeping, pipelines, sessions, transfers) over a different client
process: the container tool's ``exec`` (:mod:`tether.transports.exec`)
instead of ``ssh``. Each command is one ``exec`` of ``sh -c LINE``, so
the container needs a POSIX ``sh`` (busybox's will do) and nothing else.

The tool is found on PATH, or given with ``podman_command=``,
``docker_command=``, ``kubectl_command=``, ``oc_command=``. Each ``exec``
starts its shell in a new session inside the container, so timeouts and
kills end the whole process group there, as over SSH.
"""

from __future__ import annotations

from typing import Any

from ..transports.exec import (
    ExecClient,
    check_container,
    check_kubernetes_name,
    docker_exec,
    exec_failure,
    find_tool,
    kubectl_exec,
    podman_exec,
)
from .remote import AsyncRemoteMachine, RemoteMachine

# no sshd MaxSessions here: each exec is a process of its own. The bound
# still keeps a burst of commands from starting hundreds of CLI processes.
CONTAINER_MAX_SESSIONS = 32


class AsyncContainerMachine(AsyncRemoteMachine):
    """What the four container machines share: commands go through an :class:`ExecClient`."""

    _client: ExecClient
    _target: str  # "container web", "pod api-0": for messages

    def __init__(self, host: str, client: ExecClient, target: str) -> None:
        super().__init__(host, CONTAINER_MAX_SESSIONS)
        self._client = client
        self._target = target

    def __repr__(self) -> str:
        return f"<{type(self).__name__[5:]} {self._client.tool}://{self.host}>"

    def _client_argv(self, line: str) -> list[str]:
        return self._client.argv(line)

    def _connect_error(self, stderr: str) -> Exception:
        return exec_failure(self._client, self._target, stderr, self.host)

    def _disconnect(self) -> None:
        """Nothing to hang up: the control shell was the only lasting process."""


class AsyncPodmanMachine(AsyncContainerMachine):
    """Async core of :class:`PodmanMachine`."""

    def __init__(self, container: str, user: str | None = None, podman_command: Any = None) -> None:
        self.user = user
        check_container(container)  # before anything else can fail: a bad name is the news
        tool = find_tool(podman_command, "podman", "apt-get install podman", container)
        super().__init__(container, podman_exec(tool, container, user), f"container {container}")


class AsyncDockerMachine(AsyncContainerMachine):
    """Async core of :class:`DockerMachine`."""

    def __init__(
        self, container: str, user: str | None = None, docker_command: Any = None, docker_host: str | None = None
    ) -> None:
        self.user = user
        check_container(container)
        tool = find_tool(docker_command, "docker", "the docker CLI", container)
        super().__init__(container, docker_exec(tool, container, user, docker_host), f"container {container}")


class AsyncKubernetesMachine(AsyncContainerMachine):
    """Async core of :class:`KubernetesMachine`."""

    _tool = "kubectl"

    def __init__(
        self,
        pod: str,
        namespace: str | None = None,
        container: str | None = None,
        context: str | None = None,
        kubectl_command: Any = None,
    ) -> None:
        self._setup(pod, namespace, container, context, kubectl_command)

    def _setup(self, pod: str, namespace: str | None, container: str | None, context: str | None, command: Any) -> None:
        self.pod, self.namespace, self.container, self.context = pod, namespace, container, context
        check_kubernetes_name(pod, "pod name")  # before anything else can fail: a bad name is the news
        host = f"{namespace}/{pod}" if namespace else pod
        tool = find_tool(command, self._tool, f"the {self._tool} CLI", host)
        client = kubectl_exec(self._tool, tool, pod, namespace, container, context)
        super().__init__(host, client, f"pod {host}" + (f" (container {container})" if container else ""))


class AsyncOpenShiftMachine(AsyncKubernetesMachine):
    """Async core of :class:`OpenShiftMachine`: the same as Kubernetes, through ``oc``."""

    _tool = "oc"

    # the same parameters as Kubernetes' but the tool's own name for the executable
    def __init__(self, pod: str, namespace: str | None = None, container: str | None = None,
                 context: str | None = None, oc_command: Any = None) -> None:  # fmt: skip
        self._setup(pod, namespace, container, context, oc_command)


class _ContainerFacade(RemoteMachine):
    def __repr__(self) -> str:
        return repr(self.aio)


class PodmanMachine(_ContainerFacade):
    """A running Podman container as a machine (``podman exec``); ``user`` runs commands as that user."""

    aio: AsyncPodmanMachine
    _core = AsyncPodmanMachine


class DockerMachine(_ContainerFacade):
    """A running Docker container as a machine (``docker exec``).

    ``docker_host`` picks the daemon (``docker --host``), e.g. podman's
    Docker-compatible service ``unix:///run/podman/podman.sock``; without
    it the CLI's own setting (``DOCKER_HOST``, its context) applies.
    """

    aio: AsyncDockerMachine
    _core = AsyncDockerMachine


class KubernetesMachine(_ContainerFacade):
    """A container of a Kubernetes pod as a machine (``kubectl exec``).

    ``namespace``, ``container`` and ``context`` default to kubectl's own
    choices (the kubeconfig's current context and namespace, the pod's
    default container).
    """

    aio: AsyncKubernetesMachine
    _core = AsyncKubernetesMachine


class OpenShiftMachine(_ContainerFacade):
    """A container of an OpenShift pod as a machine (``oc exec``); arguments as KubernetesMachine's."""

    aio: AsyncOpenShiftMachine
    _core = AsyncOpenShiftMachine


__all__ = [
    "AsyncDockerMachine",
    "AsyncKubernetesMachine",
    "AsyncOpenShiftMachine",
    "AsyncPodmanMachine",
    "DockerMachine",
    "KubernetesMachine",
    "OpenShiftMachine",
    "PodmanMachine",
]
