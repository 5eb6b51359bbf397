"""Run the anchors (PyTorch, JAX: :mod:`betavae_sym.bench.peer`) in fresh Python processes, alone or side by side.

Each run starts ``python peer.py SPEC`` (the script by its path, so the child
imports NumPy and the framework and nothing of betavae_sym), with the bench
process's environment. Neither framework is a dependency: :func:`missing_note`
says why one is left out.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from betavae_sym.errors import CheckFailed

#: The anchors, in the order they run, with their names in notes.
FRAMEWORKS = {"torch": "PyTorch", "jax": "JAX"}
#: What installs each (neither is a dependency of betavae-sym).
INSTALL = {"torch": "pip install torch", "jax": "pip install jax jaxlib (optax for its Adam)"}
PEER_SCRIPT = Path(__file__).with_name("peer.py")


def installed(framework: str) -> bool:
    """Whether ``framework`` can be imported here (looked up without importing it)."""
    modules = ("jax", "jaxlib") if framework == "jax" else (framework,)
    return all(importlib.util.find_spec(module) is not None for module in modules)


def missing_note(framework: str) -> str:
    return f"{FRAMEWORKS[framework]} is not installed (it is not a dependency); {INSTALL[framework]} to compare"


def peer_spec(framework: str, architecture, *, n: int, batch_size: int, epochs: int, networks: int = 1,
              threads: int | None = None, data: str | None = None, seed: int = 0, beta: float = 1.0) -> dict:
    """The JSON spec of one anchor process (see :func:`betavae_sym.bench.peer.train_peer`)."""
    return {"framework": framework, "layers": [list(layer) for layer in architecture.layers()], "n": n,
            "batch_size": batch_size, "epochs": epochs, "networks": networks, "threads": threads,
            "data": data, "seed": seed, "beta": beta}


def _failed(spec: dict, returncode, stderr: str) -> CheckFailed:
    last = (stderr.strip().splitlines() or ["no output"])[-1]
    return CheckFailed(f"bench: the {FRAMEWORKS[spec['framework']]} anchor failed in its own process "
                       f"(exit {returncode}): {last}")


def run_peer(spec: dict) -> dict:
    """Train as ``spec`` says in one fresh process; its result (``examples``, ``seconds``, ...)."""
    done = subprocess.run([sys.executable, str(PEER_SCRIPT), json.dumps(spec)], capture_output=True, text=True)
    if done.returncode != 0:
        raise _failed(spec, done.returncode, done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_side_by_side(specs: list[dict]) -> dict:
    """One fresh process per spec, their timed parts started together; their combined throughput.

    Each process warms up, says it is ready and waits; when all are ready they
    are released at once. Result: ``examples`` (all processes), ``seconds``
    (from the first start to the last end, wall clock), ``version`` (the framework's),
    ``processes`` (each one's result).
    """
    children = [subprocess.Popen([sys.executable, str(PEER_SCRIPT), json.dumps({**spec, "barrier": True})],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for spec in specs]
    try:
        for child, spec in zip(children, specs):
            if not child.stdout.readline().strip().startswith("{"):
                child.wait()
                raise _failed(spec, child.returncode, child.stderr.read())
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child, spec in zip(children, specs):
            out, err = child.communicate()
            if child.returncode != 0:
                raise _failed(spec, child.returncode, err)
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return {"examples": sum(r["examples"] for r in results),
            "seconds": max(r["end"] for r in results) - min(r["start"] for r in results),
            "version": results[0]["version"], "processes": results}
