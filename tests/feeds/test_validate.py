"""Every kind of bad input in a feed is rejected with a clear message naming row and column."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from fangpin.common.tabular import ROW
from fangpin.feeds import schemas as s
from fangpin.feeds import validate as v

from .conftest import ALICE, BOB, CAROL, medical_row

TODAY = dt.date(2020, 6, 30)


def check(kind: str, rows: list[dict]):
    schema = s.SCHEMAS[kind]
    df = pl.DataFrame(rows, schema={k: pl.String for k in rows[0]}).with_row_index(ROW, offset=2)
    df = df.with_columns(pl.col(ROW).cast(pl.Int64))
    from fangpin.common.tabular import map_columns

    df, header, problems = map_columns(df, v._table_columns(schema))
    assert not problems
    return v.feed_check(df, header, schema, today=TODAY)


def messages(problems: pl.DataFrame) -> list[tuple[int, str, str]]:
    return [(r["row"], r["column"], r["message"]) for r in problems.iter_rows(named=True)]


def test_a_good_medical_row_becomes_integer_fen_and_dates():
    valid, problems = check("medical", [medical_row()])
    assert problems.height == 0
    [row] = valid.to_dicts()
    assert row["self_paid"] == 2_399_950 and row["serious_illness"] == 500_050
    assert row["discharged"] == dt.date(2019, 3, 10) and row["period_year"] == 2019


@pytest.mark.parametrize(
    ("change", "column", "message"),
    [
        ({"身份证号": ALICE[:-1] + ("0" if ALICE[-1] != "0" else "1")}, "身份证号", "check digit"),
        ({"身份证号": "12345"}, "身份证号", "18 characters"),
        ({"结算单号": None}, "结算单号", v.ERR_REQUIRED),
        ({"总费用": "-5"}, "总费用", v.ERR_NEGATIVE),
        ({"总费用": "12.345"}, "总费用", v.ERR_AMOUNT),
        ({"总费用": "abc"}, "总费用", v.ERR_AMOUNT),
        ({"出院日期": "2019-13-01"}, "出院日期", v.ERR_DATE),
        ({"出院日期": "2021-01-01", "入院日期": "2020-12-01"}, "出院日期", v.ERR_FUTURE_DATE),
        ({"入院日期": "2019-04-01"}, "入院日期", v.ERR_DATE_ORDER),
        ({"个人自付": "23999.52"}, "个人自付", "(23999.50)"),
        ({"基本医保报销": "60000"}, "总费用", v.ERR_REIMBURSED_ABOVE_TOTAL),
        ({"医疗机构": "院" * 65}, "医疗机构", "longer than 64"),
        ({"结算单号": "S 01"}, "结算单号", v.ERR_CODE),
    ],
)
def test_a_bad_medical_row_is_rejected_naming_its_column(change, column, message):
    valid, problems = check("medical", [medical_row(**change)])
    assert valid.height == 0
    found = messages(problems)
    assert any(r == 2 and c == column and message in m for r, c, m in found), found


def test_self_paid_within_one_fen_of_the_difference_is_accepted():
    valid, problems = check("medical", [medical_row(个人自付="23999.51")])
    assert problems.height == 0 and valid.height == 1


def test_a_duplicate_key_names_the_first_row():
    valid, problems = check("medical", [medical_row(), medical_row(身份证号=BOB)])
    assert valid.height == 1
    [(row, column, message)] = messages(problems)
    assert row == 3 and column == "结算单号" and "duplicate of row 2" in message


def education_row(**change) -> dict:
    row = {
        "身份证号": CAROL,
        "学校": "河北传媒学院",
        "学历层次": "本科",
        "全日制": "是",
        "学年开始日期": "2019-09-01",
        "学费": "18000",
        "住宿费": "1400",
        "教材费": "5000",
        "助学贷款": "8000",
        "助学金": "0",
    }
    row.update(change)
    return row


def test_education_choices_and_booleans_become_codes():
    valid, problems = check("education", [education_row()])
    assert problems.height == 0
    [row] = valid.to_dicts()
    assert (row["level"], row["full_time"], row["tuition"]) == ("bachelor", True, 1_800_000)


@pytest.mark.parametrize(
    ("change", "column", "message"),
    [
        ({"学历层次": "幼儿园"}, "学历层次", "must be one of"),
        ({"全日制": "maybe"}, "全日制", v.ERR_BOOL),
        ({"学费": "1,000"}, "学费", v.ERR_AMOUNT),
    ],
)
def test_a_bad_education_row_is_rejected(change, column, message):
    valid, problems = check("education", [education_row(**change)])
    assert valid.height == 0
    assert any(c == column and message in m for _, c, m in messages(problems))


def test_compensation_above_the_loss_is_rejected_for_accidents_and_farming():
    accident = {
        "事件编号": "A1",
        "身份证号": ALICE,
        "发生日期": "2019-05-01",
        "事件类别": "交通事故",
        "损失金额": "30000",
        "商业保险赔付": "20000",
        "社会救助": "10000.01",
    }
    _, problems = check("accident", [accident])
    assert [m for *_, m in messages(problems)] == [v.ERR_COMPENSATION_ABOVE_LOSS]
    farming = {
        "项目编号": "F1",
        "身份证号": ALICE,
        "项目名称": "肉牛养殖",
        "参加政策性农业保险": "是",
        "损失原因": "市场价格",
        "损失日期": "2019-07-01",
        "损失金额": "20000",
        "保险赔付": "5000",
    }
    valid, problems = check("farming", [farming])
    assert problems.height == 0 and valid["cause"].to_list() == ["market_price"]


def test_a_roster_year_in_the_future_or_before_2000_is_rejected():
    base = {
        "身份证号": ALICE,
        "姓名": "张三",
        "户编号": "H-1",
        "村代码": "130434100200",
        "与户主关系": "户主",
    }
    _, problems = check(
        "roster", [{**base, "年度": "2021"}, {**base, "年度": "1999", "身份证号": BOB}]
    )
    assert [(r, m) for r, _, m in messages(problems)] == [(2, v.ERR_FUTURE_YEAR), (3, v.ERR_YEAR)]


def test_every_schema_has_chinese_and_english_names_and_a_valid_period_and_key():
    for schema in s.SCHEMAS.values():
        assert schema.department_zh and schema.department_en and schema.title_en
        fields = {c.field for c in schema.columns}
        assert schema.period in fields and set(schema.key) <= fields
        for column in schema.columns:
            assert column.zh and column.en and column.type in s.TYPES


def assistance_row(**change) -> dict:
    row = {
        "年度": "2019",
        "身份证号": ALICE,
        "救助类别": "低保",
        "年度救助金额": "3600",
        "核定家庭人均年收入": "2800.50",
    }
    return {**row, **change}


def disability_row(**change) -> dict:
    row = {
        "残疾人证号": "13043419700101001X11",
        "身份证号": BOB,
        "残疾类别": "肢体",
        "残疾等级": "二级",
        "发证日期": "2015-03-01",
    }
    return {**row, **change}


def test_civil_affairs_and_disability_rows_become_codes_and_fen():
    valid, problems = check(
        "assistance",
        [
            assistance_row(),
            assistance_row(
                **{"身份证号": CAROL, "救助类别": "临时救助", "核定家庭人均年收入": None}
            ),
        ],
    )
    assert problems.height == 0
    assert [(r["assistance"], r["assessed_income"]) for r in valid.to_dicts()] == [
        ("dibao", 280_050),
        ("temporary", None),
    ]
    valid, problems = check("disability", [disability_row()])
    assert problems.height == 0
    assert (valid["category"][0], valid["grade"][0]) == ("physical", "2")


@pytest.mark.parametrize(
    ("kind", "row", "column", "message"),
    [
        ("assistance", assistance_row(救助类别="五保"), "救助类别", "must be one of"),
        ("assistance", assistance_row(年度救助金额="-5"), "年度救助金额", v.ERR_NEGATIVE),
        ("assistance", assistance_row(年度="2030"), "年度", v.ERR_FUTURE_YEAR),
        ("assistance", assistance_row(身份证号="130434197001010010"), "身份证号", "check"),
        ("disability", disability_row(残疾等级="五级"), "残疾等级", "must be one of"),
        ("disability", disability_row(发证日期="2031-01-01"), "发证日期", v.ERR_FUTURE_DATE),
    ],
)
def test_a_bad_civil_affairs_or_disability_row_is_rejected(kind, row, column, message):
    valid, problems = check(kind, [row])
    assert valid.height == 0
    assert any(c == column and message in m for _, c, m in messages(problems)), messages(problems)
