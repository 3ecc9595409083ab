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

STREET_NAMES = ["双塔", "平江", "观前", "石路", "金阊", "留园", "虎丘", "狮山", "枫桥", "横塘",
                "娄门", "桃花坞", "彩香", "三元", "南环", "葑门", "沧浪", "胥江", "吴门", "白洋湾",
                "长桥", "越溪", "郭巷", "元和", "黄桥", "娄葑", "斜塘", "唯亭", "苏锦", "城北"]
COMMUNITY_NAMES = ["东园", "西街", "南苑", "北园", "新村", "花园", "景苑", "桂花", "阳光", "滨河",
                   "朝阳", "文庙", "书院", "梅亭", "竹辉", "葑溪", "盘溪", "杨枝", "新沧浪", "府前",
                   "钟楼", "齐门", "仓街", "百花洲", "三香", "友联", "枫津", "何山", "龙华", "康佳"]
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
    """Streets (3 per district) and communities (3–4 per street) under each district."""
    districts = db.session.execute(
        select(Region).where(Region.level == "district").order_by(Region.code)).scalars().all()
    names = iter(rng.sample(STREET_NAMES, len(STREET_NAMES)))
    for d in districts:
        if any(c.level == "street" for c in d.children):
            continue
        for s in range(1, 4):
            street = Region(code=f"{d.code}{s:03d}", name=f"{next(names, f'第{s}')}街道",
                            level="street", parent=d, phone=f"0512-6{rng.randint(1000000, 9999999)}")
            db.session.add(street)
            for c, cname in enumerate(rng.sample(COMMUNITY_NAMES, rng.randint(3, 4)), start=1):
                db.session.add(Region(
                    code=f"{street.code}{c:03d}", name=f"{cname}社区", level="community",
                    parent=street, phone=f"0512-6{rng.randint(1000000, 9999999)}",
                    address=f"{d.name}{street.name}{cname}路{rng.randint(1, 300)}号"))
    db.session.flush()
    return db.session.execute(
        select(Region).where(Region.level == "community").order_by(Region.code)).scalars().all()


def build_organisations(fake: Faker, rng: random.Random) -> tuple[list[int], list[int]]:
    if db.session.scalar(select(func.count()).select_from(Enterprise)) == 0:
        # Every other unit registered in a district, in turn (the district centre changes
        # those, the city centre all); the rest city-wide. No draw: the data stays as seeded.
        districts = db.session.execute(select(Region.id).where(Region.level == "district")
                                       .order_by(Region.code)).scalars().all()
        enterprises = []
        for i in range(1, 61):
            e = Enterprise(unit_no=f"{320500000 + i}", name=fake.unique.company(),
                           industry_authority=rng.choice(INDUSTRY_AUTHORITIES), status="active",
                           phone=fake.phone_number(), address=fake.address()[:60],
                           district_id=districts[i // 2 % len(districts)] if i % 2 else None)
            e.gongtou_group = e.industry_authority in ("市工投公司", "创元集团")
            enterprises.append(e)
        db.session.add_all(enterprises)
        db.session.flush()
        for e in enterprises[50:]:  # F3: closed or bankrupt units with successors
            e.status = rng.choice(["bankrupt", "closed", "restructured"])
            e.successor = rng.choice(enterprises[:50])
        for code, name in AGENCIES:
            db.session.add(EmploymentAgency(code=code, name=name, phone=fake.phone_number()))
        db.session.flush()
    ents = db.session.execute(select(Enterprise.id)).scalars().all()
    agencies = db.session.execute(select(EmploymentAgency.id)).scalars().all()
    return ents, agencies


def retiree_rows(n: int, seed: int, communities: list[Region], city_path: str,
                 enterprise_ids: list[int], agency_ids: list[int], first_personal_no: int):
    """Yield ``n`` rows for bulk insert, valid under F2–F9, A4, A19 and the ID rules."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    # Pools keep Faker out of the per-row cost (a million rows in minutes, not an hour).
    males = [fake.name_male() for _ in range(3000)]
    females = [fake.name_female() for _ in range(3000)]
    anyone = males + females
    addresses = [fake.address()[:60] for _ in range(5000)]
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
            "hukou_address": rng.choice(addresses), "residence_address": rng.choice(addresses),
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
    """A user for every level; returns (username, password, role, region name)."""
    from core.commands import create_user

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
