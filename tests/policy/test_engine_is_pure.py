"""The engine modules import no Django (ARCHITECTURE.md: policy is "rules as code, no ORM imports")."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import fangpin.policy

ENGINE = ["spec", "schema", "loader", "scalar", "batch", "explain", "inputs", "__init__"]
PACKAGE = Path(fangpin.policy.__file__).parent


def test_no_engine_module_imports_django():
    for name in ENGINE:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert not module.startswith("django"), f"{name}.py imports {module}"
                assert not module.startswith("ninja"), f"{name}.py imports {module}"


def test_the_engine_runs_without_django_loaded():
    code = (
        "import sys, datetime\n"
        "from decimal import Decimal\n"
        "from fangpin.policy import batch, inputs\n"
        "from fangpin.policy.loader import parameters_default\n"
        "case = inputs.case_from_mapping({'date': '2019-09-01', 'county': '130432',"
        " 'household_type': 'marginal', 'circumstance': 'education', 'members': 6,"
        " 'annual_income': '27588', 'self_paid': '16400'})\n"
        "from fangpin.policy.scalar import relief_calculate\n"
        "assert relief_calculate(case).amount == Decimal('4540.00')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'ninja'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PACKAGE.parents[1])},
    )
    assert done.returncode == 0, done.stderr
