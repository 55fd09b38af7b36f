"""``Client.identities(as_string=True)``: the Manager's view as indented text."""

from __future__ import annotations

from typing import Any


def format_identities(identity: dict[str, Any], indent: int = 2) -> str:
    space = " " * indent
    lines = [f"Manager[{identity.get('hostname')}:{identity.get('port')}]"]
    for key in sorted(identity):
        if key in ("clients", "services", "hostname", "port"):
            continue
        if key == "attributes":
            lines.append(space + "attributes:")
            lines += [2 * space + f"{name}{sig}" for name, sig in sorted(identity[key].items())]
        else:
            lines.append(space + f"{key}: {identity[key]}")
    clients = identity.get("clients", {})
    lines.append(f"Clients [{len(clients)}]:")
    for network_name in sorted(clients):
        lines.append(space + network_name)
        lines += [2 * space + f"{k}: {v}" for k, v in sorted(clients[network_name].items())
                  if k not in ("name", "address")]
    services = identity.get("services", {})
    lines.append(f"Services [{len(services)}]:")
    for name in sorted(services):
        service = services[name]
        lines.append(space + f"{name}[{service.get('address')}]")
        for key in sorted(service):
            if key == "attributes":
                lines.append(2 * space + "attributes:")
                for attr, sig in sorted(service[key].items()):
                    if not isinstance(sig, str) or not sig.startswith("("):
                        sig = f"() -> {sig}"
                    lines.append(3 * space + f"{attr}{sig}")
            elif key != "address":
                lines.append(2 * space + f"{key}: {service[key]}")
    return "\n".join(lines)
