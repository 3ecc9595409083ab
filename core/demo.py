"""Realistic demo data (Faker zh_CN): streets, communities, enterprises, agencies,
users for every level, and retirees that satisfy every registry rule by construction.
Retirees are bulk-inserted, so the benchmark can build a million of them."""
from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timedelta
from functools import lru_cache

from faker import Faker
from flask import current_app
from sqlalchemy import func, insert, select, text

from core import caching
from core.extensions import db
from core.regions import Region
from core.registry.models import EmploymentAgency, Enterprise, Retiree
from core.registry.validators import name_initials

# Issue #14 item 23: each district's real streets (the district layout the region tree
# uses: 沧浪、平江、金阊 as before their 2012 merger into 姑苏区), and for each street
# community names a Suzhou clerk knows. No community name repeats in the city.
DISTRICT_STREETS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "沧浪区": [("双塔街道", ("定慧寺", "滚绣坊", "二郎巷", "竹辉")),
              ("南门街道", ("南门", "盘溪", "新沧浪", "大龙港")),
              ("胥江街道", ("胥江", "万年桥", "百花洲", "泰让桥")),
              ("吴门桥街道", ("吴门桥", "杨枝", "裕新", "觅渡")),
              ("葑门街道", ("葑溪", "十全街", "凤凰街", "南园")),
              ("友新街道", ("友新", "新郭", "龙华", "梅亭"))],
    "平江区": [("观前街道", ("北局", "碧凤坊", "大儒巷", "醋库巷")),
              ("平江街道", ("仓街", "中张家巷", "菉葭巷", "钮家巷")),
              ("苏锦街道", ("苏锦", "齐门", "锦华苑", "城北")),
              ("娄门街道", ("娄门", "东园", "潘儒巷", "北园")),
              ("桃花坞街道", ("桃花坞", "西大营门", "廖家巷", "双荷花池"))],
    "金阊区": [("石路街道", ("石路", "阊门", "西中市", "吊桥")),
              ("彩香街道", ("彩香", "三香", "盘胥", "沧浪新城")),
              ("留园街道", ("留园", "西园", "虎阜", "山塘")),
              ("白洋湾街道", ("白洋湾", "金阊新城", "珠江", "虹桥"))],
    "虎丘区": [("狮山街道", ("狮山", "玉山", "何山", "塔园")),
              ("枫桥街道", ("枫桥", "寒山", "马涧", "金山")),
              ("横塘街道", ("横塘", "新升", "晋源", "竹园"))],
    "高新区": [("浒墅关街道", ("浒墅关", "青灯", "华通", "阳山")),
              ("通安街道", ("通安", "树山", "华金", "金墅")),
              ("东渚街道", ("东渚", "龙景", "东欣", "镇湖"))],
    "吴中区": [("长桥街道", ("宝带", "龙西", "新家", "溪苑")),
              ("越溪街道", ("越溪", "旺山", "吴山", "珠村")),
              ("郭巷街道", ("郭巷", "尹山湖", "淞南", "官浦")),
              ("城南街道", ("城南", "碧波", "石湖", "东吴"))],
    "相城区": [("元和街道", ("元和", "御窑", "活力岛", "朱泾")),
              ("太平街道", ("太平", "莲港", "沈桥", "旺巷")),
              ("黄桥街道", ("黄桥", "生田", "方浜", "占上")),
              ("北桥街道", ("北桥", "灵峰", "漕湖", "庄基"))],
    "工业园区": [("娄葑街道", ("金鸡湖", "东港", "葑谊", "独墅湖")),
                ("斜塘街道", ("斜塘", "星港", "莲花", "淞泽")),
                ("唯亭街道", ("唯亭", "青剑湖", "亭南", "夷亭")),
                ("胜浦街道", ("胜浦", "浪花苑", "金苑", "滨江"))],
}
# The roads of each district, for addresses of local residents and communities.
DISTRICT_ROADS = {
    "沧浪区": ("人民路", "十全街", "凤凰街", "竹辉路", "南环东路", "友新路", "三元路", "干将西路"),
    "平江区": ("平江路", "临顿路", "干将东路", "白塔东路", "齐门路", "东环路", "北园路"),
    "金阊区": ("景德路", "石路", "广济路", "留园路", "金门路", "西环路", "白洋湾路"),
    "虎丘区": ("狮山路", "长江路", "塔园路", "玉山路", "运河路", "金山路"),
    "高新区": ("珠江路", "嵩山路", "华山路", "太湖大道", "浒墅关大街"),
    "吴中区": ("宝带西路", "东吴北路", "越溪路", "苏蠡路", "吴中大道", "郭巷路"),
    "相城区": ("相城大道", "阳澄湖西路", "御窑路", "太平路", "春申湖路", "华元路"),
    "工业园区": ("星湖街", "现代大道", "金鸡湖大道", "唯亭大街", "苏虹中路", "钟园路"),
}
# Given names of the generation now retired, by sex; surnames common in Suzhou.
SURNAMES = ("陈", "张", "王", "李", "周", "顾", "陆", "沈", "吴", "徐", "朱", "钱", "蒋", "潘",
            "孙", "金", "杨", "许", "姚", "范", "汤", "葛", "邹", "冯", "华", "叶", "倪", "俞")
MALE_GIVEN = ("建国", "国强", "志明", "卫东", "建华", "伟", "勇", "军", "明", "强", "荣根",
              "金根", "福林", "德兴", "国平", "永康", "根宝", "宏伟", "文彬", "海林", "建平",
              "志刚", "振华", "庆生", "阿大", "国良", "兴元", "耀明", "宝林", "正荣", "家骏",
              "洪涛", "卫国", "建新", "云龙")
FEMALE_GIVEN = ("秀英", "桂英", "玉兰", "凤英", "美华", "丽娟", "雪芳", "素珍", "月娥",
                "金妹", "彩娟", "琴", "芳", "敏", "红", "惠芬", "秀珍", "菊英", "兰英", "阿珍",
                "小妹", "月芳", "美英", "佩华", "雅琴", "亚萍", "丽华", "国芬", "根娣",
                "凤娟", "慧敏", "建英", "惠珍", "巧英", "水娟")
# Former state enterprises and the companies that took them over (F3), with their
# authority; the successors are the active insured units.
STATE_ENTERPRISES = [
    ("苏州第一光学仪器厂", "苏州光学仪器有限公司", "市工投公司"),
    ("苏州电扇总厂", "苏州长城电器有限公司", "市轻工业局"),
    ("苏州电视机厂", "苏州孔雀电器集团有限公司", "市工投公司"),
    ("苏州电冰箱厂", "苏州香雪海电器有限公司", "市轻工业局"),
    ("苏州第一丝厂", "苏州丝绸集团有限公司", "市纺织工业局"),
    ("苏州振亚丝织厂", "苏州振亚丝绸有限公司", "市纺织工业局"),
    ("苏州东吴丝织厂", "苏州东吴丝绸有限公司", "市纺织工业局"),
    ("苏州第一棉纺织厂", "苏州苏纶纺织有限公司", "市纺织工业局"),
    ("苏州长风机械总厂", "苏州长风机械有限公司", "创元集团"),
    ("苏州砂轮厂", "苏州远东砂轮有限公司", "创元集团"),
    ("苏州开关厂", "苏州电器开关有限公司", "创元集团"),
    ("苏州电缆厂", "苏州电缆有限公司", "市工投公司"),
    ("苏州钢铁厂", "苏州苏钢集团有限公司", "市工投公司"),
    ("苏州第二制药厂", "苏州第二制药有限公司", "市工投公司"),
    ("苏州搪瓷厂", "苏州搪瓷有限公司", "市轻工业局"),
    ("苏州手表总厂", "苏州手表有限公司", "市轻工业局"),
    ("苏州刺绣厂", "苏州刺绣研究所有限公司", "市轻工业局"),
    ("苏州第一百货商店", "苏州人民商场股份有限公司", "市商业局"),
    ("苏州市粮油供应公司", "苏州市粮食集团有限责任公司", "市粮食局"),
    ("苏州市汽车运输公司", "苏州汽车客运集团有限公司", "市交通局"),
    ("苏州市第一建筑工程公司", "苏州第一建筑集团有限公司", "市建设局"),
    ("苏州红叶造纸厂", "苏州红叶纸业有限公司", "市轻工业局"),
    ("苏州无线电厂", "苏州无线电有限公司", "市工投公司"),
    ("苏州阀门厂", "苏州纽威阀门有限公司", "创元集团"),
    ("苏州啤酒厂", "苏州啤酒有限公司", "市轻工业局"),
    ("苏州第二毛纺织厂", "苏州毛纺织有限公司", "市纺织工业局"),
    ("苏州化工厂", "苏州化工有限公司", "市工投公司"),
    ("苏州印刷厂", "苏州印刷总厂有限公司", "市轻工业局"),
    # Registered in the Industrial Park (P1): town enterprises of 娄葑 and 唯亭.
    ("娄葑乡纺织厂", "苏州工业园区娄葑纺织有限公司", "市纺织工业局"),
    ("唯亭镇农机厂", "苏州工业园区唯亭机械有限公司", "市工投公司"),
]
PARK_ENTERPRISES = ("苏州工业园区娄葑纺织有限公司", "苏州工业园区唯亭机械有限公司")
INDUSTRY_AUTHORITIES = ["市工投公司", "创元集团", "市纺织工业局", "市轻工业局", "市商业局",
                        "市建设局", "市交通局", "市粮食局"]
AGENCIES = [("JY001", "苏州市劳动就业管理服务中心"), ("JY002", "沧浪区就业管理服务所"),
            ("JY003", "平江区就业管理服务所")]
DEMO_PASSWORD = "Demo@2024pw"
WEIGHTS_17 = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS_17, strict=True))
    return "10X98765432"[total % 11]


def make_id_card_no(area: str, birth: date, seq: int, gender: str) -> str:
    """A valid 18-digit number; ``seq`` (0–499) is the order code among people of the same
    area, birth date and sex."""
    sex_digit = seq // 100 % 5 * 2 + (1 if gender == "male" else 0)
    first17 = f"{area}{birth:%Y%m%d}{seq % 100:02d}{sex_digit}"
    return first17 + id_check_char(first17)


@lru_cache(maxsize=50_000)
def _initials(name: str) -> str:
    return name_initials(name)


def build_regions(rng: random.Random) -> list[Region]:
    """Three of each district's real streets (DISTRICT_STREETS) and three or four of
    each street's communities, with a phone and an address on the district's roads."""
    districts = db.session.execute(
        select(Region).where(Region.level == "district").order_by(Region.code)).scalars().all()
    for d in districts:
        if any(c.level == "street" for c in d.children):
            continue
        table = DISTRICT_STREETS.get(d.name) or [
            (f"{d.name}第{n}街道", tuple(f"{d.name}{n}-{m}" for m in range(1, 5)))
            for n in range(1, 4)]
        roads = DISTRICT_ROADS.get(d.name, ("人民路",))
        chosen = sorted(rng.sample(range(len(table)), min(3, len(table))))
        for s, index in enumerate(chosen, start=1):
            street_name, community_names = table[index]
            street = Region(code=f"{d.code}{s:03d}", name=street_name, level="street",
                            parent=d, phone=f"0512-6{rng.randint(1000000, 9999999)}")
            db.session.add(street)
            for c, cname in enumerate(community_names[:rng.randint(3, 4)], start=1):
                db.session.add(Region(
                    code=f"{street.code}{c:03d}", name=f"{cname}社区", level="community",
                    parent=street, phone=f"0512-6{rng.randint(1000000, 9999999)}",
                    address=f"苏州市{d.name}{rng.choice(roads)}{rng.randint(1, 300)}号"))
    db.session.flush()
    return db.session.execute(
        select(Region).where(Region.level == "community").order_by(Region.code)).scalars().all()


def build_organisations(fake: Faker, rng: random.Random) -> tuple[list[int], list[int]]:
    """STATE_ENTERPRISES: each former state enterprise (closed, bankrupt or restructured)
    with the company that took it over (active, F3); every other successor registered in
    a district in turn, the Park's in the Park (P1), the rest city-wide."""
    if db.session.scalar(select(func.count()).select_from(Enterprise)) == 0:
        districts = db.session.execute(select(Region).where(Region.level == "district")
                                       .order_by(Region.code)).scalars().all()
        park = next((d for d in districts if d.name == "工业园区"), None)
        others = [d for d in districts if d is not park]
        enterprises = []
        for i, (old_name, new_name, authority) in enumerate(STATE_ENTERPRISES):
            if new_name in PARK_ENTERPRISES and park is not None:
                district = park
            else:
                district = others[i % len(others)] if i % 2 == 0 else None
            where = district.name if district is not None else "沧浪区"
            roads = DISTRICT_ROADS.get(where, ("人民路",))
            successor = Enterprise(
                unit_no=f"{320500001 + 2 * i}", name=new_name, industry_authority=authority,
                status="active", phone=f"0512-6{rng.randint(1000000, 9999999)}",
                address=f"苏州市{where}{rng.choice(roads)}{rng.randint(1, 500)}号",
                district_id=district.id if district is not None else None)
            former = Enterprise(
                unit_no=f"{320500002 + 2 * i}", name=old_name, industry_authority=authority,
                status=("closed", "bankrupt", "restructured")[i % 3], successor=successor,
                phone=successor.phone, address=successor.address,
                district_id=successor.district_id)
            for e in (successor, former):
                e.gongtou_group = authority in ("市工投公司", "创元集团")
                enterprises.append(e)
        db.session.add_all(enterprises)
        for code, name in AGENCIES:
            db.session.add(EmploymentAgency(code=code, name=name,
                                            phone=f"0512-6{rng.randint(1000000, 9999999)}"))
        db.session.flush()
    ents = db.session.execute(select(Enterprise.id)).scalars().all()
    agencies = db.session.execute(select(EmploymentAgency.id)).scalars().all()
    return ents, agencies


def _people(rng: random.Random, given: tuple[str, ...], n: int) -> list[str]:
    return [rng.choice(SURNAMES) + rng.choice(given) for _ in range(n)]


def _homes(communities: list[Region]) -> dict[int, tuple[str, tuple[str, ...]]]:
    """Per community: the address prefix of its residents and its district's roads."""
    out = {}
    for c in communities:
        street = c.parent
        district = street.parent if street is not None else None
        name = district.name if district is not None else ""
        out[c.id] = (f"苏州市{name}{street.name if street is not None else ''}",
                     DISTRICT_ROADS.get(name, ("人民路",)))
    return out


def retiree_rows(n: int, seed: int, communities: list[Region], city_path: str,
                 enterprise_ids: list[int], agency_ids: list[int], first_personal_no: int):
    """Yield ``n`` rows for bulk insert, valid under F2–F9, A4, A19 and the ID rules."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    # Pools keep Faker out of the per-row cost (a million rows in minutes, not an hour).
    # Given names match the sex (issue #14 item 23); local residents live in Suzhou, on
    # their district's roads; outside residents anywhere.
    males = _people(rng, MALE_GIVEN, 3000)
    females = _people(rng, FEMALE_GIVEN, 3000)
    anyone = males + females
    addresses = [fake.address()[:60] for _ in range(5000)]
    homes = _homes(communities)

    def home(community: Region) -> str:
        prefix, roads = homes[community.id]
        return (f"{prefix}{rng.choice(roads)}{rng.randint(1, 400)}号"
                f"{rng.randint(1, 30)}幢{rng.randint(1, 6)}0{rng.randint(1, 4)}室")

    pooling = set(current_app.config["POOLING_AREA_CODES"])
    local = [c for c in communities if c.code[:6] in pooling] or communities
    today, now = date.today(), datetime.now()
    used: dict[tuple, int] = {}  # (area, birth, gender) → next order code: unique IDs
    for i in range(n):
        gender = "male" if rng.random() < 0.48 else "female"
        birth = date(1935, 1, 1) + timedelta(days=rng.randint(0, 35 * 365))
        retire_age = 60 if gender == "male" else rng.choice((50, 55))
        retirement = date(min(birth.year + retire_age, today.year - 1), birth.month, 1)
        name = rng.choice(males if gender == "male" else females)
        category = rng.choices(["enterprise", "self_employed", "agreement_retained",
                                "industry_pooled"], [85, 8, 5, 2])[0]
        outside = rng.random() < 0.12
        community = None if outside else rng.choice(local)
        state = rng.choices(["community_managed", "employer_managed", "deceased"], [70, 25, 5])[0]
        complete = rng.random() < 0.8
        signed = retirement + timedelta(days=rng.randint(10, 200))
        area = community.code[:6] if community else rng.choice(["320502", "320583", "320481"])
        while used.get((area, birth, gender), 0) >= 500:
            birth += timedelta(days=1)
        seq = used[(area, birth, gender)] = used.get((area, birth, gender), 0) + 1
        yield {
            "name": name, "name_initials": _initials(name), "gender": gender,
            "birth_date": birth, "id_card_no": make_id_card_no(area, birth, seq - 1, gender),
            "personal_no": f"{first_personal_no + i:08d}", "retirement_date": retirement,
            "retirement_type": rng.choices(["retired", "resigned", "retired_support"],
                                           [92, 5, 3])[0],
            "benefit": rng.choices(["basic_pension", "disability_pension", "living_allowance"],
                                   [95, 3, 2])[0],
            "political_status": rng.choices(["masses", "cpc_member", None], [60, 30, 10])[0],
            "phone": f"1{rng.choice('3589')}{rng.randint(100000000, 999999999)}",
            "category": category,
            "employer_id": rng.choice(enterprise_ids)
            if category in ("enterprise", "industry_pooled") else None,
            "custodian_agency_id": rng.choice(agency_ids)
            if category in ("self_employed", "agreement_retained") else None,
            "party_cadre": rng.random() < 0.01,
            "residence_type": "outside" if outside else "local",
            "community_id": community.id if community else None,
            "region_path": community.region_path if community else city_path,
            "hukou_address": home(community) if community else rng.choice(addresses),
            "residence_address": home(community) if community else rng.choice(addresses),
            "family_status": rng.choices(["none", "extreme_poverty", "minimum_living"],
                                         [92, 3, 5])[0],
            "serious_illness": rng.choices(["none", "mental", "tumour", "uraemia",
                                            "no_self_care"], [95, 1, 2, 1, 1])[0],
            "widowed_alone": rng.random() < 0.06, "disabled": rng.random() < 0.03,
            "health_notes": None,
            "employer_handler_name": rng.choice(anyone), "employer_handler_date": signed,
            "community_worker_name": rng.choice(anyone) if complete else None,
            "community_worker_date": signed if complete else None,
            "retiree_signed_name": name, "retiree_signed_date": signed,
            "form_complete": complete, "management_state": state,
            "archive_transferred_on": signed if state != "employer_managed" else None,
            "death_date": today - timedelta(days=rng.randint(1, 700))
            if state == "deceased" else None,
            "death_cause": "病故" if state == "deceased" else None,
            "death_reporter": rng.choice(anyone) if state == "deceased" else None,
            "removed_reason": None, "created_at": now, "created_by": "demo",
            "updated_at": now, "updated_by": "demo", "version": 1,
        }


def _copy_rows(rows, columns: list[str]) -> None:
    """PostgreSQL COPY: an order of magnitude faster than INSERT for big demo sets."""
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(
            f"COPY retiree ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def insert_retirees(n: int, seed: int, batch: int = 5000) -> int:
    """Bulk-insert ``n`` demo retirees; returns the number inserted."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    communities = build_regions(rng)
    enterprise_ids, agency_ids = build_organisations(fake, rng)
    city = db.session.scalar(select(Region).where(Region.level == "city"))
    top = db.session.scalar(select(func.max(Retiree.personal_no))) or "00100000"
    rows_iter = retiree_rows(n, seed, communities, city.region_path, enterprise_ids,
                             agency_ids, int(top) + 1)
    if db.engine.dialect.name == "postgresql":
        first = next(rows_iter, None)
        if first is not None:
            _copy_rows(itertools.chain([first], rows_iter), list(first))
        db.session.commit()
        caching.touch("retiree")  # COPY is not seen by the session's write listeners
        # Fresh statistics, or the planner guesses row counts from an empty table and the
        # first list pages scan instead of using the scope index.
        db.session.execute(text("ANALYZE retiree"))
        db.session.commit()
        return n
    rows, done = [], 0
    for row in rows_iter:
        rows.append(row)
        if len(rows) >= batch:
            db.session.execute(insert(Retiree.__table__), rows)
            done += len(rows)
            rows = []
    if rows:
        db.session.execute(insert(Retiree.__table__), rows)
        done += len(rows)
    db.session.commit()
    return done


def build_users() -> list[tuple[str, str, str, str]]:
    """A user for every level, and the logins the plugins' roles ask for (at the role's
    highest level); returns (username, password, role, region name)."""
    from core.commands import create_user
    from core.security import DEMO_LOGINS, ROLE_LEVELS

    sm = current_app.appbuilder.sm
    city = db.session.scalar(select(Region).where(Region.level == "city"))
    district = db.session.scalar(select(Region).where(Region.code == "320502"))
    street = db.session.scalar(select(Region).where(Region.level == "street",
                                                    Region.parent_id == district.id)
                               .order_by(Region.code))
    community = db.session.scalar(select(Region).where(Region.level == "community",
                                                       Region.parent_id == street.id)
                                  .order_by(Region.code))
    plan = [("admin", "system_admin", city), ("city", "city_admin", city),
            ("district", "district_admin", district), ("street", "street_staff", street),
            ("community", "community_staff", community), ("supervisor", "supervisor", city),
            # MLPS level 3: the security and audit administrators hold no business role.
            ("seccity", "security_admin", city), ("auditcity", "audit_admin", city),
            ("secdistrict", "security_admin", district)]
    at_level = {"city": city, "district": district, "street": street, "community": community}
    plan += [(login, role, at_level[ROLE_LEVELS[role][0]])
             for role, login in sorted(DEMO_LOGINS.items())]
    logins = []
    for username, role, region in plan:
        if not sm.find_user(username=username):
            create_user(username, DEMO_PASSWORD, role, region.code, name=f"演示{username}",
                        temporary=False)
        logins.append((username, DEMO_PASSWORD, role, region.full_name))
    return logins


def build_demo(n: int, seed: int) -> list[tuple[str, str, str, str]]:
    insert_retirees(n, seed)
    return build_users()
