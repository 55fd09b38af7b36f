"""tether.sshconfig: lossless round trip, OpenSSH resolution rules, careful edits, safe writes.

Agreement with OpenSSH itself is tested differentially in
tests/integration/test_sshconfig_oracle.py; these tests pin the rules down
without needing ssh.
"""

from __future__ import annotations

import difflib
import os
import pwd
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether import sshconfig
from tether.exceptions import TetherError
from tether.sshconfig import HostBlockNotFound, SshConfigError, dump, dumps, load, loads

PIECES = [
    "Host", "Match", "User", "IdentityFile", "ProxyCommand", "Include", " ", "  ", "\t", "=",
    " = ", '"', "'", "\\", "#", "\n", "\r\n", "\r", "\f", "\0", "h*", "!h1", "%h", "é", "x y",
]  # fmt: skip


def resolve(text: str, host: str = "h1", **kwargs):
    return loads(text).resolve(host, local_user="nobody-here", **kwargs)


# --------------------------------------------------------------------------- round trip


@settings(max_examples=300)
@given(st.one_of(st.text(), st.lists(st.sampled_from(PIECES)).map("".join)))
def test_round_trip_is_byte_exact(text):
    assert dumps(loads(text)) == text


@settings(max_examples=50)
@given(st.binary())
def test_file_round_trip_keeps_every_byte(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("rt") / "config"
    path.write_bytes(data)
    dump(load(path), path)
    assert path.read_bytes() == data


def test_round_trip_examples():
    for text in [
        "",
        "\n",
        "Host a\n  User b",
        "Host\ta b\r\n\tUser=b  \r\n",
        'Host = "x"\n  ProxyCommand ssh -W %h:%p "j" # c\n',
        "Match host a,!b exec \"true\"\n  Include ~/x/*.conf\n\n\n# end   ",
    ]:
        assert dumps(loads(text)) == text


def test_load_accepts_open_files(tmp_path):
    path = tmp_path / "config"
    path.write_text("Host a\n  Port 2\n")
    with open(path) as f:
        assert load(f).resolve("a")["port"] == "2"
    with open(path, "rb") as f:
        assert dumps(load(f)) == "Host a\n  Port 2\n"


# --------------------------------------------------------------------------- resolution


def test_first_obtained_value_wins():
    text = "Host h1\n  User first\n  User second\nHost *\n  User last\n  Port 2200\n"
    got = resolve(text)
    assert (got["user"], got["port"]) == ("first", "2200")


def test_defaults_hostname_port_user():
    got = resolve("", "Some.Host")
    assert got["hostname"] == "some.host"
    assert got["port"] == "22"
    assert got["user"] == "nobody-here"


def test_accumulating_options_are_lists_without_duplicates():
    text = (
        "Host h1\n  IdentityFile /a\n  IdentityFile /b\n  SendEnv LANG LC_*\n"
        "  LocalForward 8080 localhost:80\nHost *\n  IdentityFile /a\n  IdentityFile /c\n"
        "  SendEnv -LANG\n  LocalForward 8080 localhost:80\n"
    )
    got = resolve(text)
    assert got["identityfile"] == ["/a", "/b", "/c"]
    assert got["sendenv"] == ["LC_*"]
    assert got["localforward"] == ["8080 localhost:80"]


def test_setenv_first_line_wins_and_first_name_wins():
    got = resolve("Host *\n  SetEnv A=1 B=2 A=3\n  SetEnv C=4\n")
    assert got["setenv"] == ["A=1", "B=2"]


def test_host_patterns_wildcards_and_negation():
    text = "Host !h1 h*\n  User excluded\nHost x h? y\n  User wild\n"
    assert resolve(text, "h1")["user"] == "wild"
    assert resolve(text, "h22")["user"] == "excluded"
    assert resolve(text, "hz")["user"] == "excluded"
    assert resolve(text, "web")["user"] == "nobody-here"


def test_host_matching_is_case_sensitive_but_match_host_is_not():
    text = "Host H1\n  User upper\nMatch host h1\n  Port 1\n"
    assert resolve(text, "h1")["user"] == "nobody-here"
    assert resolve(text, "H1")["user"] == "upper"
    assert resolve(text, "H1")["port"] == "1"


def test_match_host_sees_hostname_and_final_pass_rereads():
    text = (
        "Host alias\n  HostName Real.Example\n"
        "Match host real.example\n  User via-hostname\n"
        "Host real.example\n  Port 2222\n"
        "Match final\n  Compression yes\n"
        "Match canonical\n  LogLevel DEBUG\n"
    )
    got = resolve(text, "alias")
    assert got["hostname"] == "real.example"
    assert got["user"] == "via-hostname"
    assert got["port"] == "2222"  # Host lines match the substituted name in the final pass
    assert got["compression"] == "yes"
    assert got["loglevel"] == "DEBUG"  # "canonical" holds in the final pass too


def test_match_criteria():
    text = (
        "Match user bob\n  Port 1\n"
        "Match originalhost h1 !localuser root\n  Compression yes\n"
        "Match all\n  LogLevel ERROR\n"
    )
    assert resolve(text, user="bob")["port"] == "1"
    assert resolve(text)["port"] == "22"
    assert resolve(text)["compression"] == "yes"
    assert resolve(text)["loglevel"] == "ERROR"


def test_match_exec_refused_unless_allowed():
    text = 'Match exec "exit 0"\n  User ran\n'
    with pytest.raises(SshConfigError, match="allow_exec"):
        resolve(text)
    assert resolve(text, allow_exec=True)["user"] == "ran"
    assert resolve('Match exec "exit 3"\n  User ran\n', allow_exec=True)["user"] == "nobody-here"
    # like ssh, a command is not run once an earlier criterion failed
    assert resolve('Match host other exec "exit 0"\n  User ran\n')["user"] == "nobody-here"


def test_tokens_and_tilde_expansion():
    text = (
        "Host h1\n  HostName %h.example\n  User bob\n  Port 2200\n"
        "  ControlPath ~/cm/%r@%h:%p-%n-%%\n  IdentityFile ~/id_%h\n  IdentityFile none\n"
        "  ProxyCommand nc %h %p\n  RemoteCommand echo %u\n"
    )
    home = pwd.getpwuid(os.getuid()).pw_dir  # ssh uses the password database, not $HOME
    got = loads(text).resolve("h1")
    assert got["controlpath"] == f"{home}/cm/bob@h1.example:2200-h1-%"
    assert got["identityfile"] == [f"{home}/id_h1.example"]
    assert got["proxycommand"] == "nc h1.example 2200"
    raw = loads(text).resolve("h1", expand=False)
    assert raw["identityfile"] == ["~/id_%h", "none"]
    assert raw["controlpath"] == "~/cm/%r@%h:%p-%n-%%"


def test_unknown_token_is_an_error():
    with pytest.raises(SshConfigError, match="unknown key %z"):
        resolve("Host *\n  ControlPath /tmp/%z\n")


def test_none_clears_commands_and_controlpath():
    got = resolve("Host *\n  ProxyCommand none\n  ControlPath none\n  ProxyCommand nc %h\n")
    assert "proxycommand" not in got and "controlpath" not in got


def test_values_are_normalized_like_ssh_G():
    text = (
        "Host *\n  StrictHostKeyChecking off\n  LogLevel quiet\n  ConnectTimeout 1m30s\n"
        "  BatchMode true\n  Port ssh\n"
    )
    got = resolve(text)
    assert got["stricthostkeychecking"] == "false"
    assert got["loglevel"] == "SILENT"
    assert got["connecttimeout"] == "90"
    assert got["batchmode"] == "yes"
    assert got["serveraliveinterval"] == "300"  # ssh's batch-mode default
    assert got["port"] == "22"


@pytest.mark.parametrize(
    "text",
    [
        "Host *\n  Port 0\n",
        "Host *\n  Compression maybe\n",
        'Host *\n  User "unterminated\n',
        "Host *\n  User\n",
        "Host *\n  User a b\n",
        "Match bogus x\n",
        "Match\t# nothing\n",
        "Host x\n  Port 99999\n",  # checked even in a block that does not apply
    ],
)
def test_configs_ssh_refuses_are_refused(text):
    with pytest.raises(SshConfigError):
        resolve(text)


def test_get_and_errors_are_tether_value_errors():
    cfg = loads("Host h1\n  User bob\n")
    assert cfg.get("h1", "User") == "bob"
    assert cfg.get("h1", "ProxyCommand", "direct") == "direct"
    with pytest.raises(SshConfigError) as info:
        cfg.resolve("bad;host")
    assert isinstance(info.value, (TetherError, ValueError))


def test_user_at_host():
    got = resolve("Match user alice\n  Port 1\n", "alice@h1")
    assert (got["user"], got["hostname"], got["port"]) == ("alice", "h1", "1")


def test_include_relative_to_base_dir_with_glob(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text("Host h1\n  Port 2\n")
    (tmp_path / "conf.d" / "a.conf").write_text("Host h1\n  Port 1\nHost other\n")
    main = tmp_path / "config"
    main.write_text("Include conf.d/*.conf\nUser after-include\n")
    got = load(main, base_dir=tmp_path).resolve("h1")
    assert got["port"] == "1"  # sorted: a.conf first
    assert got["user"] == "after-include"  # the include's Host lines did not leak out


def test_include_loop_is_an_error(tmp_path):
    (tmp_path / "config").write_text("Include config\n")
    with pytest.raises(SshConfigError, match="recursive"):
        load(tmp_path / "config", base_dir=tmp_path).resolve("h1")


def test_group_writable_include_is_refused(tmp_path):
    inc = tmp_path / "inc"
    inc.write_text("User x\n")
    inc.chmod(0o664)
    with pytest.raises(SshConfigError, match="permissions"):
        loads(f"Include {inc}\n").resolve("h1")


# --------------------------------------------------------------------------- editing

BASE = (
    "# my config\n"
    "Compression yes\n"
    "\n"
    "# the office\n"
    "Host work  # comment kept\n"
    '\tHostName=work.example.com\n'
    '\tUser = "alice"   # me\n'
    "\tIdentityFile ~/.ssh/a\n"
    "\tIdentityFile ~/.ssh/b\n"
    "\n"
    "Host *\n"
    "    ServerAliveInterval 30\n"
)


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True))
    return [line for line in diff if line[:1] in "+-"]


def test_set_replaces_value_and_keeps_everything_else():
    cfg = loads(BASE)
    cfg.set("work", "user", "bob smith")
    assert changed_lines(BASE, dumps(cfg)) == [
        '- \tUser = "alice"   # me\n',
        '+ \tUser = "bob smith"   # me\n',
    ]


def test_set_adds_missing_option_at_block_end_with_block_indent():
    cfg = loads(BASE)
    cfg.update_host("work", Port=2222, ForwardAgent=False)
    assert changed_lines(BASE, dumps(cfg)) == ["+ \tPort 2222\n", "+ \tForwardAgent no\n"]
    assert cfg.resolve("work")["port"] == "2222"


def test_set_list_replaces_all_accumulating_lines():
    cfg = loads(BASE)
    cfg.set("work", "IdentityFile", ["~/k1", "~/with space"])
    assert cfg.resolve("work", expand=False)["identityfile"] == ["~/k1", "~/with space"]
    assert '\tIdentityFile "~/with space"\n' in dumps(cfg)


def test_set_top_level_and_unset():
    cfg = loads(BASE)
    cfg.set(None, "LogLevel", "ERROR")
    assert changed_lines(BASE, dumps(cfg)) == ["+ LogLevel ERROR\n"]
    assert cfg.unset("work", "identityfile") == 2
    assert cfg.unset("work", "identityfile") == 0
    assert "IdentityFile" not in dumps(cfg)


def test_add_host_appends_or_goes_before():
    cfg = loads(BASE)
    cfg.add_host("db db2", {"HostName": "10.0.0.5", "LocalForward": ["8080 localhost:80"]}, before="*")
    cfg.add_host(["last"], {"Port": 1})
    text = dumps(cfg)
    assert text.startswith(BASE.split("Host *")[0])
    assert "Host db db2\n    HostName 10.0.0.5\n    LocalForward 8080 localhost:80\n\nHost *\n" in text
    assert text.endswith("    ServerAliveInterval 30\n\nHost last\n    Port 1\n")
    assert loads(text).resolve("db2")["hostname"] == "10.0.0.5"
    with pytest.raises(SshConfigError, match="exists"):
        cfg.add_host("last", {})


def test_add_host_before_keeps_the_comment_with_its_block():
    cfg = loads(BASE)
    cfg.add_host("new", {"User": "n"}, before="work")
    assert dumps(cfg).startswith("# my config\nCompression yes\n\nHost new\n    User n\n\n# the office\nHost work")


def test_remove_host():
    cfg = loads(BASE)
    cfg.remove_host("work")
    assert dumps(cfg) == "# my config\nCompression yes\n\nHost *\n    ServerAliveInterval 30\n"
    with pytest.raises(HostBlockNotFound):
        cfg.remove_host("work")


def test_edits_keep_crlf_and_missing_final_newline():
    cfg = loads("Host a\r\n  User x")
    cfg.set("a", "Port", 2)
    assert dumps(cfg) == "Host a\r\n  User x\r\n  Port 2"


def test_missing_block_is_a_lookup_and_value_error():
    with pytest.raises(HostBlockNotFound) as info:
        loads(BASE).set("nope", "User", "x")
    assert isinstance(info.value, LookupError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("User", "bob\nHost *\n  ProxyCommand evil"),
        ("User", 'bob" evil'),
        ("User", "nul\0byte"),
        ("User", "cr\rlf"),
        ("User", ""),
        ("ProxyCommand", "nc %h %p\nHost *"),
        ("ProxyCommand", "sh -c 'unbalanced"),
        ("Port", "22 ProxyCommand=evil"),
        ("User Evil", "x"),
        ("Host", "x"),
        ("Match", "all"),
    ],
)
def test_injection_is_refused(option, value):
    cfg = loads(BASE)
    with pytest.raises(SshConfigError, match=option.split()[0]):
        cfg.set("work", option, value)
    assert dumps(cfg) == BASE


@pytest.mark.parametrize("pattern", ["a b", "a\nHost", '"x"', "#x", ""])
def test_bad_host_patterns_are_refused(pattern):
    with pytest.raises(SshConfigError):
        loads("").add_host([pattern], {})


@settings(max_examples=200)
@given(
    prefix=st.lists(st.sampled_from(PIECES)).map("".join),
    value=st.text(st.characters(blacklist_characters='\n\r\0"', blacklist_categories=("Cs",)), min_size=1),
)
def test_set_touches_one_line_and_reads_back(prefix, value):
    # junk lines before the block must not change which line the edit lands on
    text = prefix + "\nHost target\n  User old   # keep\nHost *\n  Port 1\n"
    cfg = loads(text)
    try:
        cfg.set("target", "User", value)
    except SshConfigError:
        assert dumps(cfg) == text  # a refused value leaves the text alone
        return
    before, after = text.split("\n"), dumps(cfg).split("\n")
    target = len(before) - 4
    assert len(after) == len(before)
    assert [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if b != a] in ([target], [])
    assert after[target].endswith("   # keep")
    keyword, rest = sshconfig.lexing._head(after[target]) or ("", "")
    assert keyword == "user"
    assert sshconfig.lexing._argv(rest or "") == [value]


# --------------------------------------------------------------------------- writing


def test_dump_mode_0600_and_creates_dirs(tmp_path):
    path = tmp_path / "new" / "dir" / "config"
    dump(loads("Host a\n"), path, create_dirs=True)
    assert path.read_text() == "Host a\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileNotFoundError):
        dump(loads(""), tmp_path / "missing" / "config")


def test_dump_is_atomic_and_leaves_no_temp_file_on_error(tmp_path, monkeypatch):
    path = tmp_path / "config"
    path.write_text("original\n")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(sshconfig.document.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        dump(loads("Host new\n"), path)
    assert path.read_text() == "original\n"
    assert os.listdir(tmp_path) == ["config"]


def test_dump_writes_through_a_symlink(tmp_path):
    real = tmp_path / "dotfiles-ssh-config"
    real.write_text("old\n")
    link = tmp_path / "config"
    link.symlink_to(real)
    dump(loads("Host a\n"), link)
    assert link.is_symlink()
    assert real.read_text() == "Host a\n"
