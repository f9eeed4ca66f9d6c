"""The scheduled flows as `casebridge worker` deploys them: each with its run-recording
hooks, reachable by a module path (`workflows.engine.deployed.dispatch_outbox`).

Prefect runs a deployment's flow in a fresh process that loads it by entrypoint; pointed at
`workflows.engine.flows` it would load the bare flow and record nothing in engine_runs.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from casebridge.settings import get_settings
    from workflows.engine.schedule import runnable_flows

    for runnable in runnable_flows(get_settings(), "external"):
        if runnable.entry.name == name:
            return runnable.flow
    raise AttributeError(name)
