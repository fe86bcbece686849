"""``dag.test()`` for tests that share a DAG module across runs.

``dag.test()`` runs the tasks in this process and merges the run conf into the task
objects' params in place. A DAG module is imported once per session, so one test's conf
would be the next run's default (a test that turned an SLO off turned it off for the next
test's run too): ``run_in_process`` restores the params afterwards.
"""

from __future__ import annotations

import copy
from typing import Any


def run_in_process(dag, conf: dict[str, Any] | None = None, **kwargs: Any):
    """``dag.test(run_conf=conf, **kwargs)`` with ``dag``'s params restored; the DagRun."""
    saved = copy.deepcopy(dag.params), {t.task_id: copy.deepcopy(t.params) for t in dag.tasks}
    try:
        return dag.test(run_conf=conf or {}, **kwargs)
    finally:
        dag.params = saved[0]
        for task in dag.tasks:
            task.params = saved[1][task.task_id]
