"""KubernetesMachine and OpenShiftMachine through a STAND-IN for kubectl/oc.

No Kubernetes API server can run here, so ``tests/standins/kubectl-standin``
plays the CLI: it records the argv it was given and runs the command after
``--`` on this host. That checks what tether hands kubectl/oc (the options,
the pod, and a shell line that carries every argument intact) and that the
full machine API works over an exec-style client; it does not check a real
cluster's behaviour.
"""

from pathlib import Path

import pytest

from tether import KubernetesMachine, OpenShiftMachine, ProcessExecutionError

STANDIN = str(Path(__file__).parent.parent / "standins" / "kubectl-standin")
TRICKY = ["a b", "it's", 'say "hi"', "x; echo INJECTED", "$(echo INJECTED)", "line1\nline2", "-n", "", "$HOME"]


def recorded(log):
    """Each argv the stand-in was called with (it writes the count, then the arguments, NUL-terminated)."""
    fields = log.read_bytes().decode().split("\0")[:-1]
    calls = []
    while fields:
        count = int(fields.pop(0))
        calls.append(fields[:count])
        del fields[:count]
    return calls


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "argv.log"
    monkeypatch.setenv("TETHER_STANDIN_LOG", str(path))
    return path


@pytest.mark.parametrize("cls, option", [(KubernetesMachine, "kubectl_command"), (OpenShiftMachine, "oc_command")])
def test_exec_argv_and_arguments_arrive_intact(log, cls, option):
    with cls("web-0", namespace="shop", container="app", context="admin@prod", **{option: STANDIN}) as pod:
        assert pod["printf"]("%s\\0", *TRICKY).split("\0")[:-1] == TRICKY
        assert pod.host == "shop/web-0"
    calls = recorded(log)
    assert len(calls) >= 2  # the control shell, then the command
    prefix = ["--context=admin@prod", "--namespace=shop", "exec", "-i", "web-0", "--container=app", "--", "sh", "-c"]
    assert all(call[:-1] == prefix for call in calls)
    assert any("printf" in call[-1] for call in calls)


def test_defaults_leave_choices_to_kubectl(log):
    with KubernetesMachine("api-1", kubectl_command=STANDIN) as pod:
        assert pod["echo"]("hi") == "hi\n"
    assert recorded(log)[0][:-1] == ["exec", "-i", "api-1", "--", "sh", "-c"]


def test_machine_api_over_the_standin(log, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("payload\n")
    with KubernetesMachine("web-0", kubectl_command=STANDIN) as pod:
        assert (pod["printf"]["a\nb\n"] | pod["grep"]["b"])() == "b\n"
        with pod.session() as s:
            assert s.run("cd / && pwd") == (0, "/\n", "")
        with pod.env(TETHER_K="v w"), pod.cwd("/"):
            assert pod["sh"]("-c", 'echo "$TETHER_K $PWD"') == "v w /\n"
        with pod.tempdir() as d:
            pod.upload(src, d)
            assert (d / "in.txt").read() == "payload\n"
        with pytest.raises(ProcessExecutionError) as info:
            pod["sh"]("-c", "exit 7")
        assert info.value.retcode == 7 and info.value.host == "web-0"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(pod="-it"), "invalid pod name"),
        (dict(pod="Web_0"), "invalid pod name"),
        (dict(pod="web", namespace="--all-namespaces"), "invalid namespace"),
        (dict(pod="web", namespace="a.b"), "invalid namespace"),
        (dict(pod="web", container="x;id"), "invalid container name"),
        (dict(pod="web", context="--kubeconfig=/tmp/evil"), "invalid kubeconfig context"),
        (dict(pod="web", context="a b"), "invalid kubeconfig context"),
    ],
)
def test_names_that_could_inject_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KubernetesMachine(kubectl_command=STANDIN, **kwargs)
    with pytest.raises(ValueError, match=message):
        OpenShiftMachine(oc_command=STANDIN, **kwargs)


def test_missing_tool_is_clear(tmp_path):
    from tether import ConnectError

    with pytest.raises(ConnectError, match="not an executable"):
        KubernetesMachine("web", kubectl_command=tmp_path / "kubectl")
