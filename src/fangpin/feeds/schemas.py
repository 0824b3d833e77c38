"""Department feed schemas, as data: one ``FeedSchema`` per kind of feed.

Each schema names the department that sends the feed (Chinese and English),
its columns (field name, Chinese header, type, required), the column that
gives the batch its period (a date → its year, or a ``year`` column), the key
that must be unique, and the cross-column rules. ``validate.py`` turns a schema
into set-based polars checks; ``services.py`` writes the valid rows to the lake.

Column types:

=========  ===================================================================
id_number  resident ID number (GB 11643: length, digits, province, birth date, check digit)
text       free text, at most ``max_len`` characters
code       letters, digits and ``-``, at most ``max_len`` characters
date       ``YYYY-MM-DD`` (or ``YYYY/MM/DD``, ``YYYYMMDD``), not in the future
year       a whole year from 2000, not in the future
money      yuan, at most two decimals, not negative; stored as integer fen (Int64)
bool       是/否, true/false, yes/no, 1/0
choice     one of ``choices`` (Chinese or English)
=========  ===================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fangpin.accounts.models import Department

ID_NUMBER = "id_number"
TEXT = "text"
CODE = "code"
DATE = "date"
YEAR = "year"
MONEY = "money"
BOOL = "bool"
CHOICE = "choice"
TYPES = (ID_NUMBER, TEXT, CODE, DATE, YEAR, MONEY, BOOL, CHOICE)

# Cross-column rules (validate.py implements each).
RULE_SELF_PAID = "self_paid_is_total_minus_reimbursements"  # within one fen
RULE_REIMBURSED_NOT_ABOVE_TOTAL = "reimbursements_not_above_total"
RULE_DATE_ORDER = "admitted_not_after_discharged"
RULE_COMPENSATION_NOT_ABOVE_LOSS = "compensation_not_above_loss"


@dataclass(frozen=True)
class FeedColumn:
    field: str
    zh: str
    type: str
    required: bool = True
    max_len: int = 64
    choices: dict[str, str] = field(default_factory=dict)  # accepted spelling -> code
    en: str = ""  # English label for people (the field name is the English header)


@dataclass(frozen=True)
class FeedSchema:
    kind: str
    title_zh: str
    title_en: str
    department_zh: str
    department_en: str
    columns: tuple[FeedColumn, ...]
    period: str  # the date or year column that gives a row its year
    key: tuple[str, ...]  # unique within a batch
    rules: tuple[str, ...] = ()
    exclusion: str = ""  # the policy exclusion (spec.EXCLUSIONS) the feed checks, if any

    def column(self, name: str) -> FeedColumn:
        for col in self.columns:
            if col.field == name:
                return col
        raise KeyError(name)

    @property
    def label(self) -> str:
        return f"{self.title_zh} {self.title_en} ({self.department_zh} {self.department_en})"


def _yes_no() -> dict[str, str]:
    return {
        **dict.fromkeys(("是", "true", "yes", "y", "1", "t"), "true"),
        **dict.fromkeys(("否", "false", "no", "n", "0", "f"), "false"),
    }


ID = FeedColumn("id_number", "身份证号", ID_NUMBER, en="resident ID number")

ROSTER = FeedSchema(
    kind="roster",
    title_zh="户籍人口",
    title_en="population roster",
    department_zh="公安",
    department_en="public security (household registration)",
    columns=(
        FeedColumn("year", "年度", YEAR, en="year of the roster"),
        ID,
        FeedColumn("name", "姓名", TEXT, en="name"),
        FeedColumn("household_no", "户编号", CODE, max_len=32, en="household number"),
        FeedColumn("village_code", "村代码", CODE, max_len=12, en="village code"),
        FeedColumn("relation", "与户主关系", TEXT, max_len=16, en="relation to head"),
    ),
    period="year",
    key=("year", "id_number"),
)

MEDICAL = FeedSchema(
    kind="medical",
    title_zh="住院结算",
    title_en="in-patient settlements",
    department_zh="医保",
    department_en="medical insurance bureau",
    columns=(
        FeedColumn("settlement_no", "结算单号", CODE, en="settlement number"),
        ID,
        FeedColumn("hospital", "医疗机构", TEXT, required=False, en="hospital"),
        FeedColumn("admitted", "入院日期", DATE, en="admitted"),
        FeedColumn("discharged", "出院日期", DATE, en="discharged"),
        FeedColumn("total_cost", "总费用", MONEY, en="total cost"),
        FeedColumn("basic_insurance", "基本医保报销", MONEY, en="basic medical insurance"),
        FeedColumn("serious_illness", "大病保险报销", MONEY, en="serious-illness insurance"),
        FeedColumn("medical_assistance", "医疗救助", MONEY, en="medical assistance"),
        FeedColumn("self_paid", "个人自付", MONEY, en="self-paid"),
    ),
    period="discharged",
    key=("settlement_no",),
    rules=(RULE_DATE_ORDER, RULE_REIMBURSED_NOT_ABOVE_TOTAL, RULE_SELF_PAID),
)

EDUCATION_LEVELS = {
    "高中": "senior_high",
    "senior_high": "senior_high",
    "中职": "vocational_secondary",
    "vocational_secondary": "vocational_secondary",
    "专科": "college",
    "高职": "college",
    "college": "college",
    "本科": "bachelor",
    "bachelor": "bachelor",
    "研究生": "postgraduate",
    "硕士": "postgraduate",
    "博士": "postgraduate",
    "postgraduate": "postgraduate",
}
# Levels beyond compulsory education that count (POLICY.md, education: full-time academic).
EDUCATION_COUNTED_LEVELS = (
    "senior_high",
    "vocational_secondary",
    "college",
    "bachelor",
    "postgraduate",
)

EDUCATION = FeedSchema(
    kind="education",
    title_zh="学生资助与学费",
    title_en="students, fees and student aid",
    department_zh="教育",
    department_en="education bureau",
    columns=(
        ID,
        FeedColumn("school", "学校", TEXT, en="school"),
        FeedColumn("level", "学历层次", CHOICE, choices=EDUCATION_LEVELS, en="level"),
        FeedColumn("full_time", "全日制", BOOL, choices=_yes_no(), en="full-time"),
        FeedColumn("term_start", "学年开始日期", DATE, en="start of the school year"),
        FeedColumn("tuition", "学费", MONEY, en="tuition"),
        FeedColumn("accommodation", "住宿费", MONEY, en="accommodation"),
        FeedColumn("textbooks", "教材费", MONEY, en="textbooks"),
        FeedColumn("loan", "助学贷款", MONEY, en="student loan"),
        FeedColumn("grant", "助学金", MONEY, en="grants"),
    ),
    period="term_start",
    key=("id_number", "term_start"),
)

ACCIDENT_KINDS = {
    "交通事故": "traffic",
    "traffic": "traffic",
    "火灾": "fire",
    "fire": "fire",
    "自然灾害": "disaster",
    "disaster": "disaster",
    "意外伤害": "injury",
    "injury": "injury",
    "其他": "other",
    "other": "other",
}

ACCIDENT = FeedSchema(
    kind="accident",
    title_zh="事故与灾害",
    title_en="accidents and disasters",
    department_zh="公安/应急管理",
    department_en="public security / emergency management",
    columns=(
        FeedColumn("event_no", "事件编号", CODE, en="event number"),
        ID,
        FeedColumn("event_date", "发生日期", DATE, en="date"),
        FeedColumn("event_kind", "事件类别", CHOICE, choices=ACCIDENT_KINDS, en="kind"),
        FeedColumn("loss", "损失金额", MONEY, en="loss"),
        FeedColumn("insurance_paid", "商业保险赔付", MONEY, en="commercial insurance paid"),
        FeedColumn("assistance_paid", "社会救助", MONEY, en="social assistance paid"),
    ),
    period="event_date",
    key=("event_no", "id_number"),
    rules=(RULE_COMPENSATION_NOT_ABOVE_LOSS,),
)

FARMING_CAUSES = {
    "自然灾害": "natural_disaster",
    "natural_disaster": "natural_disaster",
    "市场价格": "market_price",
    "market_price": "market_price",
}

FARMING = FeedSchema(
    kind="farming",
    title_zh="产业损失",
    title_en="farming losses",
    department_zh="农业农村",
    department_en="agriculture and rural affairs bureau",
    columns=(
        FeedColumn("project_no", "项目编号", CODE, en="project number"),
        ID,
        FeedColumn("project", "项目名称", TEXT, en="project"),
        FeedColumn("insured", "参加政策性农业保险", BOOL, choices=_yes_no(), en="insured"),
        FeedColumn("cause", "损失原因", CHOICE, choices=FARMING_CAUSES, en="cause"),
        FeedColumn("loss_date", "损失日期", DATE, en="date of the loss"),
        FeedColumn("loss", "损失金额", MONEY, en="loss"),
        FeedColumn("insurance_paid", "保险赔付", MONEY, en="insurance paid"),
    ),
    period="loss_date",
    key=("project_no", "loss_date"),
    rules=(RULE_COMPENSATION_NOT_ABOVE_LOSS,),
)

PROPERTY = FeedSchema(
    kind="property",
    title_zh="不动产登记",
    title_en="real-estate register",
    department_zh="不动产登记中心",
    department_en="real-estate registration centre",
    columns=(
        FeedColumn("certificate_no", "不动产权证号", CODE, en="certificate number"),
        ID,
        FeedColumn("registered", "登记日期", DATE, en="registered"),
        FeedColumn("location", "坐落", TEXT, required=False, max_len=128, en="location"),
        FeedColumn("commercial", "城镇商品房", BOOL, choices=_yes_no(), en="commercial housing"),
    ),
    period="registered",
    key=("certificate_no", "id_number"),
    exclusion="commercial_housing",
)

VEHICLE_USES = {
    "非营运": "private",
    "private": "private",
    "营运": "commercial",
    "commercial": "commercial",
    "农用": "farm",
    "farm": "farm",
}

VEHICLE = FeedSchema(
    kind="vehicle",
    title_zh="机动车登记",
    title_en="vehicle register",
    department_zh="车管所",
    department_en="vehicle administration",
    columns=(
        FeedColumn("plate", "号牌号码", TEXT, max_len=16, en="plate"),
        ID,
        FeedColumn("registered", "登记日期", DATE, en="registered"),
        FeedColumn("use", "使用性质", CHOICE, choices=VEHICLE_USES, en="use"),
    ),
    period="registered",
    key=("plate",),
    exclusion="vehicle",
)

BUSINESS = FeedSchema(
    kind="business",
    title_zh="市场主体登记",
    title_en="business register",
    department_zh="市场监管",
    department_en="market regulation",
    columns=(
        FeedColumn("credit_code", "统一社会信用代码", CODE, max_len=18, en="credit code"),
        ID,
        FeedColumn("registered", "登记日期", DATE, en="registered"),
        FeedColumn("capital", "注册资本", MONEY, en="registered capital"),
    ),
    period="registered",
    key=("credit_code",),
    exclusion="business",
)

PAYROLL = FeedSchema(
    kind="payroll",
    title_zh="财政供养人员",
    title_en="public payroll",
    department_zh="财政",
    department_en="finance bureau",
    columns=(
        FeedColumn("year", "年度", YEAR, en="year"),
        ID,
        FeedColumn("employer", "单位", TEXT, max_len=128, en="employer"),
    ),
    period="year",
    key=("year", "id_number"),
    exclusion="public_payroll",
)

ASSISTANCE_KINDS = {
    "低保": "dibao",
    "dibao": "dibao",
    "特困": "tekun",
    "tekun": "tekun",
    "临时救助": "temporary",
    "temporary": "temporary",
}

ASSISTANCE = FeedSchema(
    kind="assistance",
    title_zh="社会救助",
    title_en="social assistance",
    department_zh="民政",
    department_en="civil affairs bureau",
    columns=(
        FeedColumn("year", "年度", YEAR, en="year"),
        ID,
        FeedColumn("assistance", "救助类别", CHOICE, choices=ASSISTANCE_KINDS, en="assistance"),
        FeedColumn("amount", "年度救助金额", MONEY, en="amount received in the year"),
        # 核定家庭人均年收入: assessed when 低保/特困 is granted; the income a feed implies
        FeedColumn(
            "assessed_income",
            "核定家庭人均年收入",
            MONEY,
            required=False,
            en="assessed per-capita income",
        ),
    ),
    period="year",
    key=("year", "id_number", "assistance"),
)

DISABILITY_CATEGORIES = {
    "视力": "visual",
    "visual": "visual",
    "听力": "hearing",
    "hearing": "hearing",
    "言语": "speech",
    "speech": "speech",
    "肢体": "physical",
    "physical": "physical",
    "智力": "intellectual",
    "intellectual": "intellectual",
    "精神": "mental",
    "mental": "mental",
    "多重": "multiple",
    "multiple": "multiple",
}
DISABILITY_GRADES = {
    "一级": "1",
    "二级": "2",
    "三级": "3",
    "四级": "4",
    **{str(g): str(g) for g in range(1, 5)},
}

DISABILITY = FeedSchema(
    kind="disability",
    title_zh="残疾人证",
    title_en="disability certificates",
    department_zh="残联",
    department_en="disabled persons' federation",
    columns=(
        FeedColumn("certificate_no", "残疾人证号", CODE, max_len=24, en="certificate number"),
        ID,
        FeedColumn("category", "残疾类别", CHOICE, choices=DISABILITY_CATEGORIES, en="category"),
        FeedColumn("grade", "残疾等级", CHOICE, choices=DISABILITY_GRADES, en="grade"),
        FeedColumn("issued", "发证日期", DATE, en="issued"),
    ),
    period="issued",
    key=("certificate_no",),
)

SCHEMAS: dict[str, FeedSchema] = {
    s.kind: s
    for s in (
        ROSTER,
        MEDICAL,
        EDUCATION,
        ACCIDENT,
        FARMING,
        ASSISTANCE,
        DISABILITY,
        PROPERTY,
        VEHICLE,
        BUSINESS,
        PAYROLL,
    )
}
KINDS: tuple[str, ...] = tuple(SCHEMAS)

# which department (accounts.models.Department) sends each kind: a department data officer
# may send only these
SENT_BY: dict[str, frozenset[str]] = {
    "roster": frozenset({Department.PUBLIC_SECURITY}),
    "medical": frozenset({Department.MEDICAL_INSURANCE}),
    "education": frozenset({Department.EDUCATION}),
    "accident": frozenset({Department.PUBLIC_SECURITY, Department.EMERGENCY}),
    "farming": frozenset({Department.AGRICULTURE}),
    "property": frozenset({Department.HOUSING}),
    "vehicle": frozenset({Department.VEHICLES}),
    "business": frozenset({Department.MARKET}),
    "payroll": frozenset({Department.FINANCE}),
    "assistance": frozenset({Department.CIVIL_AFFAIRS}),
    "disability": frozenset({Department.DISABILITY}),
}


def kinds_sent_by(department: str) -> tuple[str, ...]:
    """The feed kinds ``department`` sends, in the order of ``KINDS``."""
    return tuple(kind for kind in KINDS if department in SENT_BY[kind])
