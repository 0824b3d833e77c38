"""``fangpin relief``: calc reads one case and prints one JSON object; bad input exits non-zero."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

GUAN = {
    "date": "2019-09-01",
    "county": "130432",
    "household_type": "marginal",
    "circumstance": "education",
    "members": 6,
    "annual_income": "27588",
    "self_paid": "16400",
}


def run(*args: str, stdin: str | None = None, monkeypatch=None) -> dict:
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    call_command("relief", *args, stdout=out)
    return json.loads(out.getvalue())


def test_calc_reads_a_case_file_and_prints_one_json_object(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(GUAN), encoding="utf-8")
    result = run("calc", "--json", str(path))
    assert set(result) == {"eligible", "amount", "reasons", "explanation"}
    assert result["eligible"] is True
    assert result["amount"] == "4540.00"
    assert any("4,540.00 元" in r and "Relief 4,540.00" in r for r in result["reasons"])
    explanation = result["explanation"]
    assert explanation["income_test"]["per_capita"] == "1864.67"
    assert [b["earned"] for b in explanation["brackets"]] == ["2500.00", "2040.00", "0.00"]
    assert explanation["cap"] == {
        "amount": "20000.00",
        "scope": "student_year",
        "ladder_total": "4540.00",
        "bound": False,
    }
    reads = {p["path"]: p for p in explanation["parameters"]}
    assert reads["relief.education.start_line"]["value"] == "8000"
    assert reads["relief.education.start_line"]["source"] == "stated"
    assert reads["income_test.line"]["effective"] == "2019-01-01"


def test_calc_reads_the_case_from_stdin(monkeypatch):
    result = run(
        "calc",
        "--json",
        "-",
        stdin=json.dumps({**GUAN, "paid_this_year": "540"}),
        monkeypatch=monkeypatch,
    )
    assert result["amount"] == "4000.00"
    assert result["explanation"]["netting"]["paid_this_year"] == "540.00"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"members": 0}, "members"),
        ({"self_paid": "-1"}, "self_paid"),
        ({"annual_income": "lots"}, "annual_income"),
        ({"date": "2016-06-01"}, "date"),
        ({"county": "130499"}, "county"),
        ({"household_type": "rich"}, "household_type"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_exits_non_zero_naming_the_field(monkeypatch, change, field):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({**GUAN, **change})))
    with pytest.raises(CommandError) as info:
        call_command("relief", "calc", "--json", "-")
    assert info.value.returncode == 2
    assert f"field {field!r}" in str(info.value)


def test_a_missing_field_is_named(monkeypatch):
    data = {k: v for k, v in GUAN.items() if k != "circumstance"}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(data)))
    with pytest.raises(CommandError, match="field 'circumstance': is missing"):
        call_command("relief", "calc", "--json", "-")


def test_unreadable_or_malformed_input_is_refused(tmp_path, monkeypatch):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("relief", "calc", "--json", str(tmp_path / "absent.json"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("{not json"))
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("relief", "calc", "--json", "-")


def test_the_fangpin_command_exits_non_zero_on_bad_input():
    bad = json.dumps({**GUAN, "members": "six"})
    done = subprocess.run(
        [sys.executable, "-m", "fangpin", "relief", "calc", "--json", "-"],
        input=bad,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "field 'members'" in done.stderr
    assert done.stdout == ""
    good = subprocess.run(
        [sys.executable, "-m", "fangpin", "relief", "calc", "--json", "-"],
        input=json.dumps(GUAN),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["amount"] == "4540.00"


def test_params_lists_the_parameters_in_force_with_their_source_marks():
    out = io.StringIO()
    call_command(
        "relief", "params", "--county", "130432", "--date", "2018-03-01", "--json", stdout=out
    )
    payload = json.loads(out.getvalue())
    rows = {r["path"]: r for r in payload["parameters"]}
    assert rows["income_test.line"]["value"] == "4833"
    assert rows["relief.accident.cap"]["source"] == "stated"
    notice = rows["procedure.public_notice_working_days"]
    assert (notice["value"], notice["unit"], notice["source"]) == (5, "working days", "stated")
    assert rows["risk.stable_days"]["value"] == 183 and rows["risk.stable_days"]["source"] == (
        "inferred"
    )
    text = io.StringIO()
    call_command("relief", "params", "--county", "130432", "--date", "2018-03-01", stdout=text)
    assert "relief.medical.cap" in text.getvalue() and "I 推断" in text.getvalue()


def test_check_validates_a_parameter_tree(tree):
    out = io.StringIO()
    call_command("relief", "check", "--root", str(tree), stdout=out)
    # the relief rules, the procedure (with the two warning clocks), pairing and risk
    assert out.getvalue().startswith("ok: 33 parameters")
    medical = tree / "city" / "relief" / "medical.yaml"
    medical.write_text(medical.read_text().replace("rate: 0.60", "rate: 6.0"))
    with pytest.raises(
        CommandError,
        match=r"city/relief/medical.yaml: relief.medical.brackets @ 2017-01-01 bracket 2: rate 6.0 is outside 0–1",
    ):
        call_command("relief", "check", "--root", str(tree))
