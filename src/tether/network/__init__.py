"""tether.network: Manager, Service, Client and LinkedClient over TLS (msl-network's model and wire).

::

    from tether.network import Service, run_services, connect

    class Calculator(Service):
        def add(self, a, b):
            return a + b

    run_services(Calculator())          # in one process: a Manager and the service

    cxn = connect(cert_file="~/.tether/network/certs/<host>.crt")   # in another
    cxn.link("Calculator").add(1, 2)    # 3

``tether.network.ssh`` starts a Manager and services on another machine.
"""

from .client import Client, connect
from .link import Link, LinkedClient
from .manager import Manager
from .runner import create_manager, run_forever, run_services
from .service import Service
from .wire import PORT

__all__ = ["PORT", "Client", "Link", "LinkedClient", "Manager", "Service", "connect", "create_manager",
           "run_forever", "run_services"]
