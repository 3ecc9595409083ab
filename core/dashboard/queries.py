"""Core's charts and number cards, counted in one pass over the region's rows.

Every number is a *cell*: a list of conditions (``criteria.Cond``) on the retirees of the
chosen region. The cells of all core charts and cards are counted together (``Tally``):
one scan of the table however many numbers the page shows, grouped by community and
form completeness, with one ``COUNT(*) FILTER (WHERE …)`` per distinct set of the other
conditions; the completeness by community is read off the same groups. No row is ever
loaded, and everything goes through the scoped session, so only the user's subtree is
counted. The same cell
renders the retiree-list URL that shows exactly the people it counts.

Who is counted: the registered people (在册: managed by the employer or the community;
the dead and the removed are left out) of the chosen region whose retirement date lies
in the chosen range. The management-state chart counts every state; deaths count by the
date of death.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import url_for
from sqlalchemy import and_, func, select, text, true

from core.charts import ChartData, ChartFilters, ChartSpec
from core.dashboard.criteria import (
    Cond,
    RegionRef,
    among,
    at,
    between,
    eq,
    holds,
    list_url,
    neq,
    outside_of,
    under,
    where,
)
from core.regions import LEVEL_LABELS, Region
from core.registry.fields import (
    CATEGORY,
    FAMILY_STATUS,
    IN_REGISTER,
    MANAGEMENT_STATE,
    SERIOUS_ILLNESS,
)
from core.registry.models import Retiree
from core.scoping import current_scope

PEOPLE = "人数"
AGE_BANDS = ((None, 55), (55, 60), (60, 65), (65, 70), (70, 75), (75, 80), (80, 85),
             (85, 90), (90, None))
MONTHS_SHOWN = 12  # the monthly chart without a date range: this month and the 11 before
MAX_MONTHS = 36  # a longer range is counted by year


# --- counting ---------------------------------------------------------------------

class Tally:
    """Cells counted together, in one scan of the rows ``scope`` selects.

    The scan is grouped by the columns in GROUPED (a community's path, the form's
    completeness, the management state, the gender): a cell's conditions on those
    columns are checked here, on each group's key, and the rest become one conditional
    count, ``COUNT(*) FILTER (WHERE …)``, shared by every cell with the same rest. So
    the region chart's bars, the in-register test of nearly every cell and the
    completeness by community cost no condition per row and no second scan, and the age
    pyramid's two sides share their age bands' counts (issue 6: at a million rows each
    condition evaluated per row costs about 8–11 ms; grouping by gender took the city's
    dashboard from about 1.0 s to 0.83 s). The groups are at most communities × 2 ×
    states × 2, a few thousand rows. Grouping by more columns (category) costs more in
    Python, on the groups, than it saves in SQL. A cell is given with the scope's
    conditions too (its list URL needs them)."""

    GROUPED = ("region_path", "form_complete", "management_state", "gender")

    def __init__(self, scope: list[Cond]):
        self.scope = scope
        self._cells: dict[tuple[Cond, ...], int] = {}
        self._counts: dict[tuple[Cond, ...], int] = {}
        self._groups: list[tuple] = []
        self._chosen: dict[tuple, list[tuple]] = {}
        self._values: list[int] = []

    def add(self, conds: list[Cond]) -> int:
        key = tuple(c for c in conds if c not in self.scope)
        self._counts.setdefault(self._counted(key), len(self._counts))
        return self._cells.setdefault(key, len(self._cells))

    def _counted(self, cell: tuple[Cond, ...]) -> tuple[Cond, ...]:
        return tuple(_cheap_first([c for c in cell if c.column not in self.GROUPED]))

    def run(self, session) -> None:
        if not self._cells:
            return
        keys = [getattr(Retiree, name) for name in self.GROUPED]
        cols = [func.count().filter(and_(true(), *where(counted))) if counted else func.count()
                for counted in self._counts]
        if session.get_bind().dialect.name == "postgresql":
            # JIT compiling this one-pass aggregate costs more than it saves (~10%).
            session.execute(text("SET LOCAL jit = off"))
        self._groups = [tuple(row) for row in session.execute(
            select(*keys, *cols).select_from(Retiree).where(*where(self.scope))
            .group_by(*keys))]
        self._values = [sum(row[self._column(cell)] for row in self._rows(cell))
                        for cell in self._cells]

    def _column(self, cell: tuple[Cond, ...]) -> int:
        return len(self.GROUPED) + self._counts[self._counted(cell)]

    def _rows(self, cell: tuple[Cond, ...]) -> list[tuple]:
        """The groups that meet the cell's conditions on the grouped columns; worked out
        once for each distinct set of such conditions (a few dozen, however many cells)."""
        tests = tuple((self.GROUPED.index(c.column), c) for c in cell
                      if c.column in self.GROUPED)
        if tests not in self._chosen:
            self._chosen[tests] = [row for row in self._groups
                                   if all(holds(c, row[i]) for i, c in tests)]
        return self._chosen[tests]

    def groups(self, conds: list[Cond], by: tuple[str, ...]) -> dict[tuple, int]:
        """After ``run``: the count of ``conds`` (added before ``run``) per value of the
        grouped columns ``by``, the values with no one left out."""
        cell = tuple(c for c in conds if c not in self.scope)
        column, at = self._column(cell), [self.GROUPED.index(name) for name in by]
        out: dict[tuple, int] = {}
        for row in self._rows(cell):
            if row[column]:
                key = tuple(row[i] for i in at)
                out[key] = out.get(key, 0) + row[column]
        return out

    def __getitem__(self, i: int) -> int:
        return self._values[i]


# Most rows fail a cell on its narrowest condition: test that first (AND short-circuits),
# the conditions that hold for nearly everyone (in the register, not removed) last.
_OP_ORDER = {"eq": 0, "at": 0, "gt": 1, "lt": 1, "under": 2, "in": 3, "not_in": 3, "neq": 3}


def _cheap_first(cell) -> list[Cond]:
    return sorted(cell, key=lambda c: _OP_ORDER.get(c.op, 2))


@dataclass
class Plan:
    """What the charts of one request share: the region, the filters, the tally."""

    session: object
    filters: ChartFilters
    node: Region
    tally: Tally = field(init=False)

    def __post_init__(self) -> None:
        self.tally = Tally([under(ref(self.node))])

    def people(self, states=IN_REGISTER) -> list[Cond]:
        return people(self.node, self.filters, states)

    def cell(self, conds: list[Cond]) -> int:
        return self.tally.add(conds)


Render = Callable[[], ChartData]
Planner = Callable[[Plan], Render]


def node_of(session, filters: ChartFilters) -> Region | None:
    """The region the charts are about: the chosen one, else the user's own."""
    path = filters.region_path or current_scope()
    if path is None:
        return session.scalar(select(Region).where(Region.parent_id.is_(None))
                              .order_by(Region.id))
    return session.scalar(select(Region).where(Region.region_path == path))


def ref(region: Region) -> RegionRef:
    return RegionRef(region.code, region.region_path)


def people(node: Region, filters: ChartFilters, states=IN_REGISTER) -> list[Cond]:
    """The people of ``node`` in ``states`` (None: any) who retired in the range."""
    conds = [under(ref(node))]
    if states:
        conds.append(among("management_state", states))
    return conds + between("retirement_date", filters.date_from, filters.date_to)


def series(name: str, numbers: list[int], lists: list[str | None],
           color: str | None = None) -> dict:
    out = {"name": name, "data": numbers, "lists": lists}
    if color:
        out["color"] = color
    return out


def counted(p: Plan, name: str, labels: list[str], cells: list[list[Cond]],
            color: str | None = None, **extra) -> Render:
    """A one-series chart of ``cells`` (one per label), each with its list."""
    index = [p.cell(c) for c in cells]
    return lambda: ChartData(labels, [series(name, [p.tally[i] for i in index],
                                             [list_url(c) for c in cells], color)], **extra)


def drill_url(region: Region, filters: ChartFilters) -> str:
    args = {"region": region.code}
    if filters.date_from:
        args["from"] = filters.date_from.isoformat()
    if filters.date_to:
        args["to"] = filters.date_to.isoformat()
    return url_for("DashboardView.index", **args)


def unique_labels(regions: list[Region]) -> list[str]:
    """Names; when two are alike, every name is prefixed with its parent's, then the
    full name is used, then the code is added."""
    for label in (lambda r: r.name,
                  lambda r: f"{r.parent.name}{r.name}" if r.parent else r.name,
                  lambda r: r.full_name):
        labels = [label(r) for r in regions]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{r.full_name}（{r.code}）" for r in regions]


# --- cards -------------------------------------------------------------------------

def plan_cards(p: Plan) -> Callable[[], list[dict]]:
    """Total registered, local / outside residents, incomplete forms (F2), deaths this
    year (or in the chosen range, by date of death)."""
    base = p.people()
    if p.filters.date_from or p.filters.date_to:
        first, last, death_title = p.filters.date_from, p.filters.date_to, "期间死亡"
    else:
        today = date.today()
        first, last, death_title = date(today.year, 1, 1), date(today.year, 12, 31), "本年死亡"
    cards = [
        ("total", "在册人员", base, "单位管理与社区管理的人员"),
        ("local", "本地人员", [*base, eq("residence_type", "local")], "居住在统筹范围内"),
        ("outside", "居外人员", [*base, eq("residence_type", "outside")],
         "居住在统筹范围外"),
        ("incomplete", "登记表未完整", [*base, eq("form_complete", False)], "缺少签字确认"),
        ("deaths", death_title, [under(ref(p.node)), eq("management_state", "deceased"),
                                 *between("death_date", first, last)], "按死亡日期"),
    ]
    index = [p.cell(conds) for _, _, conds, _ in cards]
    return lambda: [{"key": key, "title": title, "value": p.tally[i], "url": list_url(conds),
                     "hint": hint}
                    for (key, title, conds, hint), i in zip(cards, index, strict=True)]


# --- charts ------------------------------------------------------------------------

def plan_region(p: Plan) -> Render:
    """Registered people by the next level down (district → street → community); a bar
    drills down, a community's bar opens its list."""
    node, base = p.node, p.people()
    children = p.session.execute(select(Region).where(Region.parent_id == node.id)
                                 .order_by(Region.code)).scalars().all()
    if not children:
        url = list_url(base)
        return counted(p, PEOPLE, [node.name], [base], links={node.name: url} if url else {},
                       note=f"{node.name}的在册人员")
    labels = unique_labels(children)
    cells = [[*base, under(ref(child))] for child in children]
    direct = [*base, at(ref(node))]
    index = [p.cell(c) for c in cells]
    direct_i = p.cell(direct)

    def render() -> ChartData:
        numbers = [p.tally[i] for i in index]
        lists = [list_url(c) for c in cells]
        links = {label: url if child.level == "community" else drill_url(child, p.filters)
                 for child, label, url in zip(children, labels, lists, strict=True)}
        names = list(labels)
        if p.tally[direct_i]:
            names.append("居外人员" if node.level == "city" else f"{node.name}直属")
            numbers.append(p.tally[direct_i])
            lists.append(list_url(direct))
        level = LEVEL_LABELS.get(children[0].level, "")
        return ChartData(names, [series(PEOPLE, numbers, lists)], links=links,
                         note=f"按{level}", hint="点击柱形进入下一级，社区的柱形打开人员名单")
    return render


def _coded(p: Plan, base: list[Cond], column: str, labels: dict[str, str], **extra) -> Render:
    """One bar per known code, and 其他 for any other value found."""
    cells = [[*base, eq(column, code)] for code in labels]
    other = [*base, outside_of(column, list(labels))]
    index = [p.cell(c) for c in cells]
    other_i = p.cell(other)

    def render() -> ChartData:
        names, numbers = list(labels.values()), [p.tally[i] for i in index]
        lists = [list_url(c) for c in cells]
        if p.tally[other_i]:
            names.append("其他")
            numbers.append(p.tally[other_i])
            lists.append(list_url(other))
        return ChartData(names, [series(PEOPLE, numbers, lists)], **extra)
    return render


def plan_category(p: Plan) -> Render:
    """A4, F3: registered people by category."""
    return _coded(p, p.people(), "category", CATEGORY)


def plan_state(p: Plan) -> Render:
    """A5, A13, A16: everyone on record (dead and removed too) by management state."""
    return _coded(p, p.people(states=None), "management_state", MANAGEMENT_STATE,
                  note="含已死亡、已注销人员")


def special_parts(health: bool) -> list[tuple[str, Cond]]:
    """F6, F7: family status, serious illness (only with ``health``), widowed and alone,
    disabled."""
    return [
        *((label, eq("family_status", code)) for code, label in FAMILY_STATUS.items()
          if code != "none"),
        *((label, eq("serious_illness", code)) for code, label in SERIOUS_ILLNESS.items()
          if code != "none" and health),
        ("鳏寡", eq("widowed_alone", True)),
        ("残疾", eq("disabled", True)),
    ]


def plan_special(p: Plan) -> Render:
    """F6, F7: registered people in each family status and special situation (one person
    may be in several). Illness counts only for the roles that may read health fields
    (PIPL, as the retiree list: a small community's count would point at a person)."""
    from core.release.service import health_visible

    health = health_visible()
    base, parts = p.people(), special_parts(health)
    note = "一人可属多项" if health else "一人可属多项；重病情况仅对有健康信息权限的人员显示"
    return counted(p, PEOPLE, [label for label, _ in parts], [[*base, c] for _, c in parts],
                   note=note)


def years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def age_band_label(low: int | None, high: int | None) -> str:
    if low is None:
        return f"{high}岁以下"
    if high is None:
        return f"{low}岁及以上"
    return f"{low}–{high - 1}岁"


def plan_age(p: Plan) -> Render:
    """Registered people by age band today and sex: born after the day ``high`` years
    ago and on or before the day ``low`` years ago."""
    base, today = p.people(), date.today()
    labels = [age_band_label(low, high) for low, high in AGE_BANDS]
    sexes = (("male", "男", "#5470c6"), ("female", "女", "#ee6666"))
    cells = {}
    for sex, _, _ in sexes:
        for low, high in AGE_BANDS:
            born = [Cond("birth_date", "gt", years_before(today, high))] if high else []
            if low is not None:
                born += between("birth_date", None, years_before(today, low))
            cells[sex, low] = [*base, *born, eq("gender", sex)]
    index = {k: p.cell(c) for k, c in cells.items()}

    def render() -> ChartData:
        out = [series(name, [p.tally[index[sex, low]] for low, _ in AGE_BANDS],
                      [list_url(cells[sex, low]) for low, _ in AGE_BANDS], color)
               for sex, name, color in sexes]
        return ChartData(labels, out, note=f"年龄按今天（{today.isoformat()}）计算")
    return render


def months_of(filters: ChartFilters) -> tuple[date, date]:
    """The monthly chart's range: the chosen one, else this month and the 11 before."""
    today = date.today()
    last = filters.date_to or today
    if filters.date_from:
        return filters.date_from, last
    year, month = last.year, last.month - (MONTHS_SHOWN - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1), last


def buckets(first: date, last: date) -> tuple[list[tuple[str, date, date]], bool]:
    """(label, first day, last day) of each month of the range, clipped to it; of each
    year when the range spans more than MAX_MONTHS months."""
    yearly = (last.year - first.year) * 12 + last.month - first.month + 1 > MAX_MONTHS
    out = []
    if yearly:
        for y in range(first.year, last.year + 1):
            out.append((f"{y}年", max(date(y, 1, 1), first), min(date(y, 12, 31), last)))
        return out, True
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        out.append((f"{y}-{m:02d}", max(date(y, m, 1), first),
                    min(nxt - timedelta(days=1), last)))
        y, m = nxt.year, nxt.month
    return out, False


def plan_monthly(p: Plan) -> Render:
    """New retirements (by retirement date; removed records left out) and deaths (by date
    of death) per month of the range, or per year for a long range."""
    first, last = months_of(p.filters)
    if first > last:
        return lambda: ChartData([], [], note="日期范围为空")
    spans, yearly = buckets(first, last)
    region = [under(ref(p.node))]
    kinds = (("新增退休", [*region, neq("management_state", "removed")], "retirement_date",
              "#5470c6"),
             ("死亡", [*region, eq("management_state", "deceased")], "death_date", "#6e7074"))
    cells = {(name, label): [*conds, *between(column, lo, hi)]
             for name, conds, column, _ in kinds for label, lo, hi in spans}
    index = {k: p.cell(c) for k, c in cells.items()}

    def render() -> ChartData:
        labels = [label for label, _, _ in spans]
        out = [series(name, [p.tally[index[name, label]] for label in labels],
                      [list_url(cells[name, label]) for label in labels], color)
               for name, _, _, color in kinds]
        return ChartData(labels, out, note=f"{first.isoformat()} 至 {last.isoformat()}"
                         f"，{'按年' if yearly else '按月'}；死亡按死亡日期")
    return render


def plan_forms(p: Plan) -> Render:
    """F2: registered people per community with a complete and an incomplete form,
    communities with the most incomplete forms first (the tally's groups)."""
    base = p.people()
    p.cell(base)

    def render() -> ChartData:
        counts = p.tally.groups(base, by=("region_path", "form_complete"))
        paths = {path for path, _ in counts}
        communities = p.session.execute(
            select(Region).where(Region.level == "community", Region.region_path.in_(paths))
        ).scalars().all() if paths else []

        def tally(c: Region, done: bool) -> int:
            return counts.get((c.region_path, done), 0)

        communities.sort(key=lambda c: (-tally(c, False), c.code))
        out = [series(name, [tally(c, done) for c in communities],
                      [list_url([*base, under(ref(c)), eq("form_complete", done)])
                       for c in communities], color)
               for name, done, color in (("未完整", False, "#ee6666"), ("完整", True, "#91cc75"))]
        total = sum(sum(s["data"]) for s in out)
        missing = sum(out[0]["data"])
        rate = f"{100 * (total - missing) / total:.1f}%" if total else "—"
        return ChartData(unique_labels(communities), out,
                         note=f"{len(communities)} 个社区，完整率 {rate}；未完整最多的在前")
    return render


# --- the core charts as ChartSpecs --------------------------------------------------

def compute(session, filters: ChartFilters, keys: list[str] | None = None,
            with_cards: bool = True) -> tuple[list[dict], dict[str, ChartData]]:
    """Cards and the core charts named by ``keys`` (None: all), with one tally."""
    wanted = [k for k in PLANNERS if keys is None or k in keys]
    node = node_of(session, filters)
    if node is None:
        return [], {k: ChartData([], []) for k in wanted}
    plan = Plan(session, filters, node)
    cards = plan_cards(plan) if with_cards else None
    renders = {k: PLANNERS[k](plan) for k in wanted}
    plan.tally.run(session)
    return (cards() if cards else []), {k: render() for k, render in renders.items()}


def _alone(key: str) -> Callable[..., ChartData]:
    def data(session, filters: ChartFilters) -> ChartData:
        return compute(session, filters, [key], with_cards=False)[1][key]
    return data


def cards(session, filters: ChartFilters) -> list[dict]:
    return compute(session, filters, [], with_cards=True)[0]


PLANNERS: dict[str, Planner] = {
    "region": plan_region, "category": plan_category, "state": plan_state,
    "special": plan_special, "age": plan_age, "monthly": plan_monthly, "forms": plan_forms,
}
CORE_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("region", "在册人员分布（按区域）", "bar", _alone("region"),
              "按下一级区域统计在册退休人员，可逐级下钻到社区和人员名单。", wide=True),
    ChartSpec("category", "人员类别", "pie", _alone("category"),
              "企业退休、自谋职业、协保、原行业统筹。"),
    ChartSpec("state", "管理状态", "pie", _alone("state"),
              "单位管理、社区管理、已死亡、已注销。"),
    ChartSpec("special", "家庭状况与特殊情况", "hbar", _alone("special"),
              "特困、低保、重病、鳏寡、残疾。"),
    ChartSpec("age", "年龄结构（按性别）", "pyramid", _alone("age"), "在册人员的年龄金字塔。"),
    ChartSpec("monthly", "每月新增退休与死亡", "line", _alone("monthly"),
              "按退休日期和死亡日期统计。", wide=True),
    ChartSpec("forms", "登记表完整情况（按社区）", "stack", _alone("forms"),
              "登记表须有单位经办人、社区工作人员和本人三方签字确认。", wide=True),
)
