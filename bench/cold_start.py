"""Cold start: how long each cloud entry module takes to import, and which cloud SDKs it pulls in.

Measured as `python -X importtime -c "import MODULE"` in a fresh interpreter without SECRETWATCH_*
settings (as a new function instance starts), best of a few runs; the figure is the module's cumulative
import time as the interpreter reports it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass

ENTRIES = {
    "aws": "functions.aws.handler",
    "gcp": "functions.gcp.main",
    "azure": "functions.azure.function_app",
}
#: Top-level packages of each cloud's SDK; an entry module may import only its own cloud's.
SDKS = {
    "aws": frozenset({"boto3", "botocore", "aws_lambda_powertools", "s3transfer"}),
    "gcp": frozenset({"google", "functions_framework", "cloudevents", "flask", "grpc"}),
    "azure": frozenset({"azure"}),
}
TARGET_MS = 300.0
_PROBE = (
    "import json, sys; before = set(sys.modules); import {module}; "
    "print(json.dumps(sorted({{name.split('.')[0] for name in set(sys.modules) - before}})))"
)


@dataclass(frozen=True, slots=True)
class ColdStart:
    cloud: str
    module: str
    import_ms: float | None  # None when the module or its SDK is not installed
    foreign_sdks: tuple[str, ...]  # packages of another cloud's SDK it imported

    @property
    def ok(self) -> bool:
        return self.import_ms is not None and self.import_ms <= TARGET_MS and not self.foreign_sdks


def measure(runs: int = 3) -> list[ColdStart]:
    return [_measure(cloud, module, runs) for cloud, module in ENTRIES.items()]


def _measure(cloud: str, module: str, runs: int) -> ColdStart:
    if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None or not _importable(module):
        return ColdStart(cloud, module, None, ())
    times = [_import_ms(module) for _ in range(runs)]
    others = frozenset().union(*(sdk for name, sdk in SDKS.items() if name != cloud))
    foreign = tuple(sorted(set(_imported_packages(module)) & others))
    return ColdStart(cloud, module, min(times), foreign)


#: Loads the built-in pack in a fresh interpreter, after its imports, and prints the milliseconds it took.
_PACK_PROBE = (
    "import time; from core.rules.loader import load_pack; started = time.perf_counter(); load_pack(); "
    "print((time.perf_counter() - started) * 1000)"
)


def pack_load_ms(runs: int = 3) -> float:
    """Loading and compiling the built-in rule pack in a fresh interpreter, imports excluded, best of `runs`: what
    every entry adds to its cold start when it builds its pipeline (at import in Lambda, at the first delivery
    elsewhere), and every CLI run to its start-up."""
    return min(float(_run("-c", _PACK_PROBE).stdout) for _ in range(runs))


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SECRETWATCH_")}
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)  # in Lambda the handler builds its pipeline at import
    return env


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=_env(), check=False)


def _importable(module: str) -> bool:
    return _run("-c", f"import {module}").returncode == 0


def _import_ms(module: str) -> float:
    """The module's cumulative time from `-X importtime` (its own line: the last one naming it)."""
    result = _run("-X", "importtime", "-c", f"import {module}")
    for line in reversed(result.stderr.splitlines()):
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no import time reported for {module}: {result.stderr[-500:]}")


def _imported_packages(module: str) -> list[str]:
    result = _run("-c", _PROBE.format(module=module))
    packages: list[str] = json.loads(result.stdout)
    return packages
