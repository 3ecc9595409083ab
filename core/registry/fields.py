"""The registration form (基本信息登记表) field by field: API name, Chinese label, choices.

One source for the model, the screens, the REST schema, the Excel template and the
printed form, so a label or a coded value is spelt the same everywhere.
"""
from dataclasses import dataclass, field

GENDER = {"male": "男", "female": "女"}
RETIREMENT_TYPE = {"retired": "退休", "resigned": "退职", "retired_support": "退养"}
BENEFIT = {  # A4
    "basic_pension": "基本养老金",
    "disability_pension": "伤残抚恤金",
    "living_allowance": "生活费",
}
CATEGORY = {  # A4, F3
    "enterprise": "企业退休",
    "self_employed": "自谋职业",
    "agreement_retained": "协保",
    "industry_pooled": "原行业统筹",
}
RESIDENCE_TYPE = {"local": "本地人员", "outside": "居外人员"}  # F5
FAMILY_STATUS = {"none": "无", "extreme_poverty": "特困", "minimum_living": "低保"}  # F6
SERIOUS_ILLNESS = {  # F7
    "none": "无",
    "mental": "精神病",
    "tumour": "恶性肿瘤",
    "uraemia": "尿毒症",
    "no_self_care": "因病丧失生活自理能力",
}
MANAGEMENT_STATE = {  # A5, A13, A16
    "employer_managed": "单位管理",
    "community_managed": "社区管理",
    "deceased": "已死亡",
    "removed": "已注销",
}
IN_REGISTER = ("employer_managed", "community_managed")  # 在册: living, not removed
POLITICAL_STATUS = {
    "masses": "群众",
    "cpc_member": "中共党员",
    "cpc_probationary": "中共预备党员",
    "other_party": "民主党派",
}
ENTERPRISE_STATUS = {
    "active": "正常",
    "bankrupt": "破产",
    "closed": "关闭",
    "revoked": "撤销",
    "restructured": "改制",
}


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    section: str
    choices: dict[str, str] | None = None
    required: bool = False
    kind: str = "text"  # text | date | bool | choice | ref
    help: str = ""
    extra: dict = field(default_factory=dict)


SECTIONS = ("基本情况", "单位与档案", "居住情况", "家庭与特殊情况", "签字确认")

FORM_FIELDS: tuple[FormField, ...] = (
    FormField("name", "姓名", "基本情况", required=True),
    FormField("gender", "性别", "基本情况", GENDER, True, "choice"),
    FormField("birth_date", "出生日期", "基本情况", required=True, kind="date"),
    FormField("id_card_no", "身份证号", "基本情况", required=True,
              help="18位居民身份证号码，末位可为X"),
    FormField("personal_no", "个人编号", "基本情况", required=True,
              help="医疗保险证或退休养老证上的8位个人编号，不足8位前面补0"),
    FormField("retirement_date", "退休日期", "基本情况", required=True, kind="date"),
    FormField("retirement_type", "退休类别", "基本情况", RETIREMENT_TYPE, True, "choice"),
    FormField("benefit", "领取待遇", "基本情况", BENEFIT, True, "choice"),
    FormField("political_status", "政治面貌", "基本情况", POLITICAL_STATUS, kind="choice"),
    FormField("phone", "联系电话", "基本情况"),
    FormField("category", "人员类别", "单位与档案", CATEGORY, True, "choice"),
    FormField("employer", "原工作单位", "单位与档案", kind="ref",
              help="填单位编号；原单位破产、改制的填承继单位"),
    FormField("custodian_agency", "托管档案的就业管理机构", "单位与档案", kind="ref",
              help="自谋职业、协保人员必填"),
    FormField("party_cadre", "区以上党委管理干部", "单位与档案", kind="bool",
              help="人事档案暂不移交"),
    FormField("residence_type", "居住类型", "居住情况", RESIDENCE_TYPE, True, "choice"),
    FormField("community", "所在社区", "居住情况", kind="ref",
              help="本地人员填区、街道、社区；居外人员不填"),
    FormField("hukou_address", "户口所在地", "居住情况", help="按户口簿填写"),
    FormField("residence_address", "现居住地", "居住情况", help="实际居住地址"),
    FormField("family_status", "家庭状况", "家庭与特殊情况", FAMILY_STATUS, kind="choice"),
    FormField("serious_illness", "重病情况", "家庭与特殊情况", SERIOUS_ILLNESS, kind="choice"),
    FormField("widowed_alone", "鳏寡", "家庭与特殊情况", kind="bool"),
    FormField("disabled", "残疾", "家庭与特殊情况", kind="bool"),
    FormField("health_notes", "健康状况", "家庭与特殊情况"),
    FormField("employer_handler_name", "单位经办人", "签字确认"),
    FormField("employer_handler_date", "单位经办日期", "签字确认", kind="date"),
    FormField("community_worker_name", "社区工作人员", "签字确认"),
    FormField("community_worker_date", "社区确认日期", "签字确认", kind="date"),
    FormField("retiree_signed_name", "退休人员本人签字", "签字确认"),
    FormField("retiree_signed_date", "本人签字日期", "签字确认", kind="date"),
)

FIELDS_BY_NAME = {f.name: f for f in FORM_FIELDS}
LABELS = {f.name: f.label for f in FORM_FIELDS} | {
    "management_state": "管理状态",
    "form_complete": "登记表完整",
    "very_old": "高龄",
    "death_date": "死亡日期",
    "death_cause": "死亡原因",
    "death_reporter": "报告人",
    "archive_transferred_on": "档案移交日期",
    "region_path": "所属区域",
}
