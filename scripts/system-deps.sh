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
