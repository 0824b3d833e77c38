import csv

import pytest
import xlsxwriter

from fangpin.common.idnumber import check_char
from fangpin.regions.models import Level, Region

HEADER_ZH = [
    "户编号",
    "村代码",
    "户类型",
    "姓名",
    "身份证号",
    "与户主关系",
    "年度",
    "家庭年可支配收入",
    "开户行",
    "银行账号",
]
HEADER_EN = [
    "household_no",
    "village_code",
    "household_type",
    "name",
    "id_number",
    "relation",
    "year",
    "annual_income",
    "bank",
    "bank_account",
]


def idn(birth: str, seq: int, area: str = "130434") -> str:
    first17 = f"{area}{birth}{seq:03d}"
    return first17 + check_char(first17)


def write_csv(path, rows, header=HEADER_ZH, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_xlsx(path, rows, header=HEADER_ZH):
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("农户")
    ws.write_row(0, 0, header)
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            ws.write_string(i, j, value) if isinstance(value, str) else ws.write(i, j, value)
    wb.close()
    return path


@pytest.fixture
def villages(county):
    return list(
        Region.objects.filter(level=Level.VILLAGE, path__startswith=county.path).order_by("code")
    )


@pytest.fixture
def family(villages):
    """Rows of one new household of three, in the first village."""
    v = villages[0].code
    return [
        [
            "T-0001",
            v,
            "marginal",
            "关建国",
            idn("19700315", 11),
            "户主",
            "2019",
            "27588",
            "邮储银行",
            "6217000011112222",
        ],
        [
            "T-0001",
            v,
            "marginal",
            "李秀兰",
            idn("19720506", 22),
            "配偶",
            "2019",
            "27588",
            "邮储银行",
            "6217000011112222",
        ],
        [
            "T-0001",
            v,
            "marginal",
            "关晨旭",
            idn("20000901", 31),
            "子",
            "2019",
            "27588",
            "邮储银行",
            "6217000011112222",
        ],
    ]
