"""The exec transports' argv: what podman, docker, kubectl and oc are handed (no container needed)."""

import pytest

from tether.commands.quoting import shell_line
from tether.exceptions import CommandLineError
from tether.transports.exec import docker_exec, kubectl_exec, podman_exec


def test_podman_and_docker_argv():
    line = shell_line(["echo", "a b", "$(id)"])
    assert podman_exec("/usr/bin/podman", "web", "nobody").argv(line) == [
        "/usr/bin/podman", "exec", "-i", "--user=nobody", "web", "sh", "-c", "echo 'a b' '$(id)'",
    ]
    assert docker_exec("docker", "f00d", "1000:1000", "unix:///run/podman.sock").argv("true") == [
        "docker", "--host=unix:///run/podman.sock", "exec", "-i", "--user=1000:1000", "f00d", "sh", "-c", "true",
    ]
    assert podman_exec("podman", "web").argv("true") == ["podman", "exec", "-i", "web", "sh", "-c", "true"]


def test_kubectl_argv_puts_general_options_first_and_ends_options_with_double_dash():
    client = kubectl_exec("oc", "oc", "api-0.shop", namespace="prod", container="app", context="arn:aws:eks:x/y")
    assert client.argv("true") == [
        "oc", "--context=arn:aws:eks:x/y", "--namespace=prod", "exec", "-i", "api-0.shop", "--container=app", "--",
        "sh", "-c", "true",
    ]
    assert client.tool == "oc"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: podman_exec("podman", "--privileged"), "container name"),
        (lambda: podman_exec("podman", "web", "-u0"), "container user"),
        (lambda: docker_exec("docker", "web", docker_host="--tlsverify"), "docker_host"),
        (lambda: docker_exec("docker", "web", docker_host="unix:///x y"), "docker_host"),
        (lambda: kubectl_exec("kubectl", "kubectl", "-it"), "pod name"),
        (lambda: kubectl_exec("kubectl", "kubectl", "p", namespace="x" * 64), "namespace"),
        (lambda: kubectl_exec("kubectl", "kubectl", "p", container=""), "container name"),
        (lambda: kubectl_exec("kubectl", "kubectl", "p", context="$(id)"), "kubeconfig context"),
    ],
)
def test_bad_names_are_refused_with_the_reason(build, message):
    with pytest.raises(ValueError, match=f"invalid {message}"):
        build()


def test_a_line_with_a_nul_byte_is_refused():
    with pytest.raises(CommandLineError, match="NUL"):
        podman_exec("podman", "web").argv("echo \0")
