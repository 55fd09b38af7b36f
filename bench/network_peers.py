"""Processes the network benchmarks start: services for tether and msl-network, and the floor.

    python network_peers.py relay PORT [CERT KEY]      a plain asyncio JSON relay (the floor)
    python network_peers.py relay-service PORT [CERT]  the floor's service end
    python network_peers.py tether-service PORT CERT   tether's BenchService
    python network_peers.py msl-service PORT CERT      msl-network's BenchService

The relay is what any broker must at least do: read a JSON line, look at it,
write it on to the other side (one service, many clients, routed by uid).
Each prints READY once it serves.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys


def _server_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_context(cert: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cert)
    context.check_hostname = False
    return context


async def relay(port: int, cert: str | None, key: str | None) -> None:
    service: list[asyncio.StreamWriter] = []
    clients: dict[str, asyncio.StreamWriter] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = json.loads(await reader.readline())
        if first.get("type") == "service":
            service.append(writer)
            while line := await reader.readline():
                reply = json.loads(line)
                target = clients.get(reply["requester"])
                if target is not None:
                    target.write(line)
            return
        name = str(id(writer))
        clients[name] = writer
        while line := await reader.readline():
            request = json.loads(line)
            request["requester"] = name
            service[0].write(json.dumps(request).encode() + b"\r\n")
        del clients[name]

    context = _server_context(cert, key) if cert and key else None
    server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=context, limit=1 << 30)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


async def relay_service(port: int, cert: str | None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context(cert) if cert else None,
                                                   limit=1 << 30)
    writer.write(b'{"type": "service"}\r\n')
    print("READY", flush=True)
    while line := await reader.readline():
        request = json.loads(line)
        result = BenchCore.call(request["attribute"], request["args"])
        writer.write(json.dumps({"error": False, "requester": request["requester"], "result": result,
                                 "uid": request["uid"]}).encode() + b"\r\n")


class BenchCore:
    @staticmethod
    def call(attribute: str, args: list) -> object:
        if attribute == "size":
            return len(args[0])
        return args[0] + args[1]


class BenchMethods:
    """What the benchmark service offers, whichever library serves it."""

    def add(self, a, b):
        return a + b

    def size(self, payload):
        return len(payload)


def serve(service_base: type, port: int, cert: str) -> None:
    service = type("BenchService", (BenchMethods, service_base), {})()
    print("READY", flush=True)
    service.start(host="localhost", port=port, cert_file=cert, assert_hostname=False)


if __name__ == "__main__":
    kind, port_text, *files = sys.argv[1:]
    port = int(port_text)
    if kind == "relay":
        asyncio.run(relay(port, *(files or [None, None])))
    elif kind == "relay-service":
        asyncio.run(relay_service(port, files[0] if files else None))
    elif kind == "tether-service":
        from tether.network import Service

        serve(Service, port, files[0])
    elif kind == "msl-service":
        from msl.network import Service as MslService

        serve(MslService, port, files[0])
    else:
        raise SystemExit(f"unknown kind {kind!r}")
