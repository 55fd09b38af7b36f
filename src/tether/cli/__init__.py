"""tether's command-line interface."""


def main() -> None:
    raise SystemExit("tether: CLI not built yet")
