"""Container CLIs as transports: ``podman exec``, ``docker exec``, ``kubectl exec``, ``oc exec``.

A container machine runs every shell line through its tool's ``exec``
subcommand, as a short-lived local client process, the way SshMachine runs
``ssh -S <socket> host LINE``::

    podman exec -i --user=U CONTAINER sh -c LINE
    docker --host=URL exec -i --user=U CONTAINER sh -c LINE
    kubectl --context=C --namespace=N exec -i POD --container=K -- sh -c LINE

The argv goes to the tool directly (no local shell), and ``LINE`` is built
by tether's quoting routine, so arguments arrive intact (remoto joins them
with spaces instead). Names that reach the tool's command line are checked
here: a container called ``--privileged`` must not turn into an option.
Options take the ``--name=value`` form, so a value can never be read as
an option of its own.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from typing import Any

from ..commands.quoting import check_arg
from ..exceptions import ConnectError

# podman/docker container names (and hex ids): what both CLIs accept at creation
_CONTAINER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# a user for --user: a name or uid, optionally ":group" or ":gid"
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?")
# Kubernetes object names: a DNS subdomain (pods) or label (namespaces, containers)
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# kubeconfig context names are free-form ("arn:aws:eks:...", "admin@prod"): no
# leading '-', no control characters, nothing a shell would expand
_CONTEXT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@/+=,-]*")


def _checked(value: Any, pattern: re.Pattern, what: str, rule: str, limit: int = 253) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value) or len(value) > limit:
        raise ValueError(f"invalid {what}: {value!r} ({rule})")
    return value


def check_container(name: Any) -> str:
    """``name`` if podman/docker could have created a container so named, else ValueError."""
    return _checked(name, _CONTAINER, "container name", "letters, digits, '_', '.', '-'; no leading '-'")


def check_user(user: Any) -> str:
    return _checked(user, _USER, "container user", "a name or uid, optionally ':group'; no leading '-'")


def check_kubernetes_name(name: Any, what: str, label: bool = False) -> str:
    """A pod (DNS subdomain), or a namespace/container (DNS label, ``label=True``)."""
    if label:
        return _checked(name, _DNS_LABEL, what, "lower-case letters, digits and '-', at most 63", limit=63)
    return _checked(name, _DNS_SUBDOMAIN, what, "lower-case letters, digits, '-' and '.'")


def check_context(context: Any) -> str:
    return _checked(context, _CONTEXT, "kubeconfig context", "no leading '-', spaces or shell metacharacters")


def find_tool(executable: Any, default: str, package: str, host: str) -> str:
    """The tool's path: ``executable`` when given, else ``default`` on PATH, else ConnectError."""
    if executable is not None:
        path = os.fspath(executable)
        if not shutil.which(path):  # an explicit path: checked for being an executable file
            raise ConnectError(f"{path} is not an executable program", host)
        return path
    found = shutil.which(default)
    if not found:
        raise ConnectError(f"{default} is not installed ({package})", host)
    return found


@dataclass(frozen=True)
class ExecClient:
    """How one container is reached: the argv that runs a shell line inside it."""

    tool: str  # "podman", "docker", "kubectl", "oc": shown in errors and repr
    prefix: tuple[str, ...]  # everything before the shell

    def argv(self, line: str) -> list[str]:
        return [*self.prefix, "sh", "-c", check_arg(line)]


def podman_exec(executable: str, container: str, user: str | None = None) -> ExecClient:
    """``podman exec -i [--user=U] CONTAINER``."""
    options = [f"--user={check_user(user)}"] if user is not None else []
    return ExecClient("podman", (executable, "exec", "-i", *options, check_container(container)))


def docker_exec(executable: str, container: str, user: str | None = None, docker_host: str | None = None) -> ExecClient:
    """``docker [--host=URL] exec -i [--user=U] CONTAINER`` (the daemon may be podman's service)."""
    daemon = [f"--host={_check_url(docker_host)}"] if docker_host is not None else []
    options = [f"--user={check_user(user)}"] if user is not None else []
    return ExecClient("docker", (executable, *daemon, "exec", "-i", *options, check_container(container)))


def kubectl_exec(
    tool: str,
    executable: str,
    pod: str,
    namespace: str | None = None,
    container: str | None = None,
    context: str | None = None,
) -> ExecClient:
    """``kubectl [--context=C] [--namespace=N] exec -i POD [--container=K] --`` (``oc`` takes the same)."""
    general: list[str] = []
    if context is not None:
        general.append(f"--context={check_context(context)}")
    if namespace is not None:
        general.append(f"--namespace={check_kubernetes_name(namespace, 'namespace', label=True)}")
    which = [f"--container={check_kubernetes_name(container, 'container name', label=True)}"] if container is not None else []
    pod = check_kubernetes_name(pod, "pod name")
    return ExecClient(tool, (executable, *general, "exec", "-i", pod, *which, "--"))


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or not re.fullmatch(r"(unix|tcp|ssh|npipe)://[^\s\x00-\x1f]+", url):
        raise ValueError(f"invalid docker_host: {url!r} (unix:///path/docker.sock, tcp://host:port or ssh://host)")
    return url


def exec_failure(client: ExecClient, target: str, stderr: str, host: str) -> ConnectError:
    """What the tool said when the shell could not start, as a ConnectError naming the target."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    detail = lines[-1] if lines else f"{client.tool} exited"
    return ConnectError(f"cannot run a shell in {client.tool} {target}: {detail}", host)

