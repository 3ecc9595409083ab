"""The Park agreement as written (seed: 苏州工业园区企业退休人员社会化管理协议书), P1–P4.

The printed agreement and the duty checklists of each new version start from these
texts; a version keeps its own copy, so a later revision (P4) never rewrites an old one.
"""
from __future__ import annotations

PARK = "320571"  # 工业园区
TITLE = "苏州工业园区企业退休人员社会化管理协议书"
# P1: party B.
PARTY_B = "苏州工业园区企业退休人员社会化管理服务中心"
# P1: the basis of the agreement.
BASIS = "苏园管[2024]44号"
PREAMBLE = ("根据《苏州工业园区企业退休人员社会化管理服务工作实施意见》（{basis}）精神，园区企业的"
            "退休人员，由用人单位管理服务转向社区管理服务，逐步实现“老有所养，老有所医，老有所为，"
            "老有所学，老有所乐”的工作目标。经甲、乙双方共同协商，特制订本协议。")
# P2: the archive centre of the Park's enterprises.
ARCHIVE_CENTRE = "苏州工业园区公积金管理中心"

PARTY_A_HEADING = "甲方义务和责任"
PARTY_B_HEADING = "乙方义务与责任"
# P2, verbatim.
PARTY_A_DUTIES = (
    "按《关于做好苏州工业园区企业退休人员进入社区管理过程中档案移交工作的通知》要求，负责将本单位"
    "退休人员档案整理成册，移交给园区公积金管理中心。",
    "与退休人员签订协议书，明确基本养老保险基金统筹以外按省、市规定应由企业发放的项目继续由甲方"
    "按原办法发放。",
    "对原由企业承担的经济责任、企业补充医疗保险等福利待遇，企业要继续加以落实，不得以社会化管理"
    "为由推卸或减少。",
    "在退休人员纳入社会化管理前后，及时告知退休人员档案移交情况及社会化管理服务内容，协助乙方发放"
    "宣传资料，做好宣传解释工作，保持退休人员思想稳定。",
    "继续关心本单位的退休人员，尽力帮助特困退休人员解决实际困难，并协助乙方做好本单位退休人员的"
    "政治思想工作和矛盾化解工作。",
)
# P3, verbatim.
PARTY_B_DUTIES = (
    "按照属地管理的原则，将企业退休人员移交给居住地所在社区管理，建立和完善退休人员基本信息库和"
    "管理网络。",
    "做好社保关系的协调工作，确保退休人员基本养老金按时足额发放，组织实施退休人员享受社会保险"
    "待遇资格认证工作。",
    "协调甲方与社区之间的关系，做好退休人员社会化管理的宣传和政策咨询服务工作。",
    "定期召集甲方及各级退管服务机构，研讨和部署社会化管理工作，总结推广经验，不断提升退休人员"
    "社会化管理水平。",
)
# P4, verbatim.
ORIGINALS_CLAUSE = "本协议一式三份，甲方一份，乙方两份（其中一份存档）。"
REVISION_CLAUSE = "如遇国家、省、市、园区政策调整，可重新修订本协议。"
# P4: the three originals: (copy number, holder, filed).
ORIGINALS = ((1, "party_a", False), (2, "party_b", False), (3, "party_b", True))
HOLDERS = {"party_a": "甲方", "party_b": "乙方"}

DUTY_STATUS = {"pending": "待落实", "in_progress": "落实中", "done": "已落实",
               "not_applicable": "不适用"}
VERSION_STATUS = {"draft": "待签订", "in_force": "生效", "superseded": "已被新版本取代"}
RESIDENT_STATUS = {"pending": "待分配社区", "serving": "社区服务中", "ended": "已结束"}
