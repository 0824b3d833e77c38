"""``fangpin relief``: the policy engine from the command line.

    fangpin relief calc --json case.json        one case in, one JSON object out
    fangpin relief calc --json -                 the case read from stdin
    fangpin relief params --county 130432 --date 2019-09-01 [--json]
    fangpin relief check [--root PATH]           validate a parameter tree

``calc`` prints ``{"eligible", "amount", "reasons", "explanation"}``. Bad input
exits with status 2 and a message on stderr naming each wrong field.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fangpin.common import clock
from fangpin.policy import spec
from fangpin.policy.inputs import CaseInputError, case_from_mapping
from fangpin.policy.loader import (
    ParameterError,
    PolicyInputError,
    canonical,
    parameters_default,
    parameters_load,
)
from fangpin.policy.scalar import relief_calculate

ERR_READ = "--json: cannot read {path}: {problem}"
ERR_JSON = "--json: not valid JSON ({problem})"
EXIT_BAD_INPUT = 2


class Command(BaseCommand):
    help = "Relief calculation (防贫救助测算): calc, params, check"

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        calc = actions.add_parser("calc", help="compute one case from JSON; print one JSON object")
        calc.add_argument(
            "--json",
            dest="json_path",
            required=True,
            metavar="PATH",
            help="case file, or - for stdin",
        )
        params = actions.add_parser("params", help="the parameters in force in a county on a date")
        params.add_argument("--county", required=True, help="6-digit county code")
        params.add_argument("--date", default=None, help="ISO date (default: today)")
        params.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
        check = actions.add_parser("check", help="validate a parameter tree")
        check.add_argument("--root", default=None, help="parameter root (default: the one in use)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "calc":
            self._calc(options["json_path"])
        elif action == "params":
            self._params(options["county"], options["date"], options["as_json"])
        elif action == "check":
            self._check(options["root"])

    # -- calc --------------------------------------------------------------
    def _calc(self, path: str) -> None:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(
                ERR_READ.format(path=path, problem=exc.strerror), returncode=EXIT_BAD_INPUT
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(ERR_JSON.format(problem=exc), returncode=EXIT_BAD_INPUT) from None
        try:
            case = case_from_mapping(data)
            result = relief_calculate(case)
        except CaseInputError as exc:
            lines = [f"field {field!r}: {message}" for field, message in exc.errors]
            raise CommandError(
                "invalid case (输入有误):\n  " + "\n  ".join(lines), returncode=EXIT_BAD_INPUT
            ) from None
        except PolicyInputError as exc:
            raise CommandError(
                f"invalid case (输入有误):\n  field {exc.field!r}: {exc.message}",
                returncode=EXIT_BAD_INPUT,
            ) from None
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))

    # -- params ------------------------------------------------------------
    def _params(self, county: str, on_text: str | None, as_json: bool) -> None:
        try:
            on = datetime.date.fromisoformat(on_text) if on_text else clock.today()
        except ValueError:
            raise CommandError(
                f"--date: not an ISO date: {on_text!r}", returncode=EXIT_BAD_INPUT
            ) from None
        parameters = parameters_default()
        try:
            force = parameters.in_force(county, on)
        except PolicyInputError as exc:
            raise CommandError(f"--{exc.field}: {exc.message}", returncode=EXIT_BAD_INPUT) from None
        rows = [
            {
                "path": r.path,
                "value": canonical(r.value),
                "unit": r.unit,
                "effective": r.effective.isoformat(),
                "source": r.source,
                "origin": r.origin,
                "reference": r.reference,
            }
            for r in sorted(force.readings.values(), key=lambda r: r.path)
        ]
        if as_json:
            payload = {
                "county": county,
                "date": on.isoformat(),
                "parameter_version": force.version,
                "parameters": rows,
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            f"county {county} on {on.isoformat()} · parameter version {force.version}"
        )
        for row in rows:
            value = json.dumps(row["value"], ensure_ascii=False)
            mark = spec.SOURCE_MARK_LABELS[row["source"]]
            self.stdout.write(
                f"{row['path']:<40} {value}  [{row['unit']}]  since {row['effective']}"
                f"  ({mark}; {row['origin']})"
            )

    # -- check -------------------------------------------------------------
    def _check(self, root: str | None) -> None:
        try:
            parameters = parameters_load(root)
        except ParameterError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_INPUT) from None
        overrides = ", ".join(sorted(parameters.overrides)) or "none"
        self.stdout.write(
            f"ok: {len(parameters.leaves)} parameters; county overrides: {overrides}; "
            f"in force from {parameters.policy_start().isoformat()}; "
            f"fingerprint {parameters.fingerprint}"
        )
