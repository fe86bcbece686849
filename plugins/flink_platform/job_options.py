"""Allow-lists for what a run may pass to a job: ``--set`` job arguments and Flink options.

Both reach a command line (``flink run -D...``, the FlinkDeployment's PythonDriver args)
and the jobs' SQL (``--set`` values are formatted into statements), so keys come from an
allow-list and values match :data:`SAFE_VALUE` (no quotes, semicolons, ``$``, backslashes,
newlines; one space between words, as in ``2 h``). Anything else is a :class:`ValueError`
naming the key, raised while the config or a run's overrides are validated (trigger time).

* Job arguments: the keys of ``COMMON_DEFAULTS`` (include/flink_jobs/job_common.py) and of
  the entrypoint's own ``DEFAULTS``, read from the source with :mod:`ast` (the jobs import
  PyFlink, which Airflow does not have), so the list cannot drift from what the job parses.
* Flink options (``flink_conf``): :data:`FLINK_OPTION_KEYS` and :data:`FLINK_OPTION_PREFIXES`:
  the options this project sets plus parallelism, memory, state, checkpointing, restart,
  table execution and a few pipeline settings. Security, network and class-loading options
  (``security.*``, ``rest.*``, ``env.java.opts*``, ``kubernetes.*``, ``fs.*``, ``s3.*``,
  ``pipeline.jars`` / ``pipeline.classpaths``) stay out: they would change who the job runs
  as, what code it loads or where it writes.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache

from flink_platform.config import PROJECT_ROOT

JOBS_DIR = PROJECT_ROOT / "include" / "flink_jobs"
_WORD = r"[A-Za-z0-9_.:/=,+@-]+"
SAFE_VALUE = rf"^(?=.{{1,256}}$){_WORD}( {_WORD})*$"
FLINK_OPTION_KEYS = frozenset({
    "parallelism.default", "pipeline.name", "pipeline.max-parallelism",
    "pipeline.object-reuse", "pipeline.auto-watermark-interval",
    "pipeline.operator-chaining.enabled", "taskmanager.numberOfTaskSlots",
    "python.fn-execution.bundle.size", "python.fn-execution.bundle.time",
    "python.execution-mode",
})
FLINK_OPTION_PREFIXES = (
    "taskmanager.memory.", "jobmanager.memory.", "state.", "execution.checkpointing.",
    "restart-strategy.", "table.exec.", "table.optimizer.",
)
FLINK_OPTION_KEY = (r"^(" + "|".join(re.escape(k) for k in sorted(FLINK_OPTION_KEYS)) + "|"
                    + "|".join(re.escape(p) + r"[A-Za-z0-9.-]+" for p in FLINK_OPTION_PREFIXES)
                    + r")$")


@lru_cache(maxsize=8)
def _defaults_keys(path: str, name: str) -> frozenset[str]:
    """Keys of the module-level dict literal ``name`` in the job source ``path``."""
    tree = ast.parse((JOBS_DIR / path).read_text())
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == name and isinstance(node.value, ast.Dict):
            return frozenset(k.value for k in node.value.keys if isinstance(k, ast.Constant))
    return frozenset()


def job_arg_keys(entrypoint: str) -> frozenset[str]:
    """The ``--set`` keys the job ``entrypoint`` accepts (job_common.parse_args)."""
    own = _defaults_keys(entrypoint, "DEFAULTS") if (JOBS_DIR / entrypoint).is_file() else set()
    return _defaults_keys("job_common.py", "COMMON_DEFAULTS") | own


def _check_value(kind: str, key: str, value: str) -> None:
    if not re.match(SAFE_VALUE, value):
        raise ValueError(f"{kind} {key!r} = {value!r}: value must match {SAFE_VALUE} "
                         "(no quotes, ';', '$', backslashes or newlines)")


def check_job_args(entrypoint: str, args: dict[str, str]) -> None:
    allowed = job_arg_keys(entrypoint)
    for key, value in args.items():
        if key not in allowed:
            raise ValueError(f"job argument {key!r} is not a parameter of {entrypoint}; "
                             f"allowed: {', '.join(sorted(allowed))}")
        _check_value("job argument", key, value)


def check_flink_options(options: dict[str, str]) -> None:
    for key, value in options.items():
        if not re.match(FLINK_OPTION_KEY, key):
            raise ValueError(f"Flink option {key!r} is not allowed in a run's flink_conf; "
                             f"allowed: {', '.join(sorted(FLINK_OPTION_KEYS))} and "
                             f"{', '.join(p + '*' for p in FLINK_OPTION_PREFIXES)}")
        _check_value("Flink option", key, value)


def param_schema(entrypoints: list[str] | None = None) -> dict[str, object]:
    """JSON schema of a DAG Param holding Flink options, or the job arguments of
    ``entrypoints`` (any of them): the trigger form rejects a bad key or value before a run
    exists; the config model then checks each job's own keys."""
    if entrypoints is None:
        names: dict[str, object] = {"pattern": FLINK_OPTION_KEY}
    else:
        names = {"enum": sorted(set().union(*(job_arg_keys(e) for e in entrypoints)))}
    return {"type": "object", "propertyNames": names,
            "additionalProperties": {"type": "string", "pattern": SAFE_VALUE}}
