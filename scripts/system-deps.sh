#!/bin/sh
# Installs the system programs the test suite drives for real (sshd, plink/pscp,
# ip netns), when they are missing. As root it uses apt-get; otherwise it names
# what is missing and goes on: tests that need a missing part are skipped with a reason.
set -u
missing=""
need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || missing="$missing $2"; }
need sshd openssh-server
need ssh openssh-client
need plink putty-tools
need ip iproute2
need ps procps
need sudo sudo
# containers: podman on runc, and a STATIC busybox to build the test image from
need podman podman
need runc runc
[ -x /bin/busybox ] && ! head -c 4096 /bin/busybox | grep -q ld-linux || missing="$missing busybox-static"
# podman here may set no ulimits and no pids limit, and uses runc: written only when different
containers_conf='[containers]
default_ulimits = []
pids_limit = 0

[engine]
runtime = "runc"'
if [ "$(id -u)" = 0 ] && [ "$(cat /etc/containers/containers.conf 2>/dev/null)" != "$containers_conf" ]; then
    mkdir -p /etc/containers
    [ -f /etc/containers/containers.conf ] && [ ! -f /etc/containers/containers.conf.tether-orig ] &&
        cp /etc/containers/containers.conf /etc/containers/containers.conf.tether-orig
    printf '%s\n' "$containers_conf" >/etc/containers/containers.conf
    echo "system-deps: wrote /etc/containers/containers.conf"
fi
[ -z "$missing" ] && exit 0
# de-duplicate package names
pkgs=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing $pkgs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq $pkgs >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $pkgs >/dev/null; } || {
        echo "system-deps: apt-get could not install: $pkgs" >&2; exit 1; }
else
    echo "system-deps: missing $pkgs (not root or no apt-get: install them yourself; tests needing them are skipped)" >&2
fi
