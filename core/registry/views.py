"""Screens and REST APIs of the registry (A30–A32): retirees, enterprises, agencies."""
from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import date

from flask import Response, abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.exceptions import DatabaseException
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual, get_field_setup_query
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.urltools import (
    get_filter_args,
    get_order_args,
    get_page_args,
    get_page_size_args,
)
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from core.downloads import download_response, today_stamp
from core.errors import RuleViolation, RuleViolations, ScopeViolation
from core.extensions import db
from core.regions import Region
from core.registry import service
from core.registry.fields import (
    FORM_FIELDS,
    LABELS,
    SECTIONS,
)
from core.registry.models import (
    EmploymentAgency,
    Enterprise,
    Retiree,
    RetireeHistory,
    RetireeTransfer,
)
from core.registry.reference import check_agency_write, check_enterprise_write
from core.registry.validators import mask_id_card, mask_phone, normalize_id_card_no
from core.scoping import current_scope, path_in_scope, unscoped
from core.views.base import (
    ScopedInterface,
    ScopedModelRestApi,
    ScopedModelView,
    actor_name,
    interface,
    violation_text,
)
from core.views.filters import TextFilter
from core.views.search import current_filters

# --- search filters ----------------------------------------------------------------


class FilterNameOrInitials(TextFilter):
    """Name contains the text, or the pinyin initials start with it (``zs`` → 张三)."""

    name = "姓名或拼音首字母"
    arg_name = "ra_name"

    def condition(self, text: str):
        return name_or_initials(text)


def name_or_initials(text: str):
    return or_(Retiree.name.contains(text, autoescape=True),
               Retiree.name_initials.startswith(text.lower(), autoescape=True))


class FilterIdCard(BaseFilter):
    """A full ID number finds its person without showing the number in the list."""

    name = "完整身份证号"
    arg_name = "ra_idc"
    exact_match = True  # issue 12: offered to users who may not unmask (core.views.sensitive)

    def apply(self, query, value):
        try:
            no = normalize_id_card_no(value)
        except RuleViolation:
            return query.filter(Retiree.id.is_(None))
        return query.filter(Retiree.id_card_no == no)


class FilterInRegion(BaseFilter):
    """Rows under a region given by its code or name: a district, street or community."""

    name = "属于区域（代码或名称）"
    arg_name = "ra_region"

    def apply(self, query, value):
        text = (value or "").strip()
        region = db.session.execute(
            select(Region).where(or_(Region.code == text, Region.name == text))
            .order_by(Region.id)).scalars().first()
        if region is None:
            return query.filter(self.model.id.is_(None))
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field.startswith(region.region_path, autoescape=True))


class FilterVeryOld(BaseFilter):
    """A17: 高龄 — born on or before today less VERY_OLD_AGE years (是/否)."""

    name = "高龄（是/否）"
    arg_name = "ra_old"

    def apply(self, query, value):
        from flask import current_app

        today = date.today()
        age = current_app.config["VERY_OLD_AGE"]
        try:
            cutoff = today.replace(year=today.year - age)
        except ValueError:  # 29 February
            cutoff = today.replace(year=today.year - age, day=28)
        if str(value).strip() in ("否", "0", "n", "N", "false"):
            return query.filter(Retiree.birth_date > cutoff)
        return query.filter(Retiree.birth_date <= cutoff)


_ID_CARD_TYPED = re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}")
_PERSONAL_NO_TYPED = re.compile(r"[0-9]{1,8}")


def _find_by(text: str) -> tuple[str, type, str, object]:
    """What the search box's ``text`` is: (search column, filter class, filter value,
    condition on Retiree)."""
    if _ID_CARD_TYPED.fullmatch(text):
        try:
            no = normalize_id_card_no(text)
        except RuleViolation:
            return "id_card_no", FilterIdCard, text, Retiree.id.is_(None)
        return "id_card_no", FilterIdCard, no, Retiree.id_card_no == no
    if _PERSONAL_NO_TYPED.fullmatch(text):
        no = text.zfill(8)  # F4
        return "personal_no", FilterEqual, no, Retiree.personal_no == no
    return "name", FilterNameOrInitials, text, name_or_initials(text)


# --- forms ---------------------------------------------------------------------------

# Numbers whose length is a rule of their own (F4, ID numbers, phones): the service says
# what is wrong with them, not the form's (or the API schema's) generic "at most n".
RULE_CHECKED_TEXT = ("personal_no", "id_card_no", "phone")


def _form_fields() -> dict:
    fields = {}
    for f in FORM_FIELDS:
        if f.name in RULE_CHECKED_TEXT:
            fields[f.name] = StringField(
                f.label, description=f.help, widget=BS3TextFieldWidget(),
                validators=[DataRequired(message=f"{f.label}不能为空")] if f.required
                else [Optional()])
        elif f.kind == "bool":
            # FAB makes a non-nullable Boolean column's checkbox required: unticked
            # (the usual answer) would then never validate.
            fields[f.name] = BooleanField(f.label, description=f.help)
        elif f.kind == "choice":
            choices = list(f.choices.items())
            if not f.required:
                choices = [("", "（未填）"), *choices] if f.name == "political_status" else choices
            fields[f.name] = SelectField(
                f.label, choices=choices, widget=Select2Widget(), description=f.help,
                validators=[DataRequired()] if f.required else [Optional()])
    return fields


# PIPL (issue #12 item 1): opening the edit form is no unmask. The ID number and phone
# show masked and read-only there and are never saved from it; they change only through
# the 更正证件号/电话 step (``RetireeModelView.correct``), which asks for a reason.
CORRECTED_APART = ("id_card_no", "phone")
CORRECT_HINT = "已脱敏；如需更正，请使用“更正证件号/电话”（须说明原因）"


# A32: the reason of an edit, written to each history row of the change (never a column).
CHANGE_REASON = "change_reason"


def _edit_form_fields() -> dict:
    return _form_fields() | {"version": HiddenField()} | {
        name: StringField(LABELS[name], description=CORRECT_HINT, widget=BS3TextFieldWidget(),
                          render_kw={"readonly": True}) for name in CORRECTED_APART} | {
        CHANGE_REASON: StringField(
            "修改原因", widget=BS3TextFieldWidget(), description="选填；记入修改记录",
            validators=[Optional(), Length(max=200, message="修改原因最多200个字")])}


def _fieldsets(names: list[str], hidden: tuple[str, ...] = (),
               shown_as: dict[str, str] | None = None) -> list:
    """The paper form's sections. ``hidden`` fields ride in the last one: FAB builds a
    form from its fieldsets, renders hidden fields once (``form.hidden_tag``) and skips
    them in the rows. ``shown_as`` puts another column in a field's place (the masked
    numbers on the show page)."""
    shown_as = shown_as or {}
    out = []
    for section in SECTIONS:
        cols = [shown_as.get(f.name, f.name) for f in FORM_FIELDS
                if f.section == section and f.name in names]
        if cols:
            out.append((section, {"fields": cols}))
    out[-1][1]["fields"] += hidden
    return out


FORM_COLUMNS = [f.name for f in FORM_FIELDS]
# PIPL: shown only to roles with the health permission (core.release.service).
HEALTH_COLUMNS = ("serious_illness", "illness_label", "health_notes")
RETIREE_LABELS = dict(LABELS) | {
    "gender_label": "性别", "category_label": "人员类别", "state_label": "管理状态",
    "id_card_masked": "身份证号", "phone_masked": "联系电话", "community": "所在社区",
    "employer": "原工作单位", "family_label": "家庭状况",
    "illness_label": "重病情况", "residence_label": "居住类型", "age": "年龄",
    "created_at": "登记时间", "created_by": "登记人", "updated_at": "修改时间",
    "updated_by": "修改人", "version": "版本", "removed_reason": "注销原因",
}


def _label_of(choices: dict):
    return lambda value: "" if value is None else choices.get(value, value)


def _yes_no(value) -> str:
    return "是" if value else "否"


# Screens print a coded value as its label, a box as 是/否, an empty field as nothing.
FORMATTERS = {f.name: _yes_no if f.kind == "bool" else _label_of(f.choices or {})
              for f in FORM_FIELDS} | {"form_complete": _yes_no} | {
    name: _label_of({}) for name in ("archive_transferred_on", "death_date", "death_cause",
                                     "removed_reason")}


def _show_sections() -> list:
    """The show page's form sections: the masked ID number and phone in 基本情况 where
    the form has them, the age after the birth date."""
    sections = _fieldsets(FORM_COLUMNS, shown_as=dict(MASKED_FROM_FORM))
    basic = sections[0][1]["fields"]
    basic.insert(basic.index("birth_date") + 1, "age")
    return sections


MASKED_FROM_FORM = {"id_card_no": "id_card_masked", "phone": "phone_masked"}


def person_name(login: str | None) -> str:
    """A user named by their display name, not their login (issue 14 item 11); a login
    no user has any more (or "system") is shown as it is. One query per login and
    request."""
    if not login:
        return ""
    known = g.setdefault("ra_display_names", {})
    if login not in known:
        from flask import current_app

        user_model = current_app.appbuilder.sm.user_model
        row = db.session.execute(select(user_model.first_name, user_model.last_name)
                                 .where(user_model.username == login)).first()
        known[login] = (f"{row[0] or ''}{row[1] or ''}" or login) if row else login
    return known[login]


def community_text(community) -> str:
    """A community as a city or district user needs it: with its district and street
    (“姑苏区/双塔街道/龙华社区”: five demo communities share a name); below that level
    its own name is enough."""
    if community is None:
        return ""
    user = g.get("ra_user")
    level = getattr(getattr(user, "region", None), "level", None)
    if level not in ("city", "district"):
        return community.name
    names = g.get("ra_region_names")
    if names is None:  # the districts' and streets' names, once per request
        with unscoped():
            names = g.ra_region_names = dict(db.session.execute(
                select(Region.code, Region.name).where(Region.level.in_(("district", "street")))
                .execution_options(unscoped=True)).all())
    codes = [code for code in community.region_path.split("/") if code][1:-1]
    return "/".join([*(names.get(code, code) for code in codes), community.name])


def _moment(value) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


# --- saving a screen's form: refusals keep the input, edits are version-checked -------

STALE_MESSAGE = "该记录在您打开之后已被他人修改，本次修改未保存：请重新载入该记录后再修改"
NO_VERSION_MESSAGE = ("未保存：表单缺少版本号，无法确认您修改的是该记录的最新内容，"
                      "请重新打开编辑页面后再修改")


CORRECTION_REFUSED = "更正身份证号或联系电话须有查看完整信息的权限；未保存任何修改"


class CorrectionRefused(Exception):
    """PIPL: an API write changing an ID number or phone by a user who may not unmask."""


class StaleVersion(Exception):
    """Optimistic locking (A32: a change applies to the record as its author saw it):
    the row changed since the version the user edited."""


class VersionedInterface(ScopedInterface):
    """A write that finds the row's version moved on (``version_id_col``: a concurrent
    edit committed between the check and the UPDATE) raises ``StaleVersion``."""

    def edit(self, item, commit: bool = True) -> None:
        try:
            super().edit(item, commit)
        except DatabaseException as exc:
            if isinstance(exc.__cause__, StaleDataError):
                raise StaleVersion from exc
            raise


class KeepInputOnRefusal:
    """Add and edit screens: when a rule refuses the save, the form comes back with what
    was typed and each message under its field, and nothing is written (FAB would flash
    the message and redirect, losing the input). An edit form's hidden ``version`` is
    compared with the row's: a stale form is refused (optimistic locking), and so is a
    form without it (issue 12 item 11: it would overwrite a change it never saw). The
    fields named in ``kept_on_edit`` are never written by the edit form (whatever is
    posted)."""

    kept_on_edit: tuple[str, ...] = ()

    def _add(self):
        if request.method != "POST":
            return super()._add()
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        self._fill_form_exclude_cols(exclude_cols, form)
        if form.validate():
            self.process_form(form, True)
            if self._save(form, self.datamodel.obj(), True):
                return None
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def _edit(self, pk):
        if request.method != "POST":
            return super()._edit(pk)
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        form = self.edit_form.refresh(request.form)
        self._fill_form_exclude_cols(exclude_cols, form)
        form._id = self.datamodel.get_pk_value(item)
        if form.validate():
            self.process_form(form, False)
            if self._save(form, item, False):
                return None
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        return self._get_related_views_widgets(
            item, filters={}, orders=get_order_args(), pages=get_page_args(),
            page_sizes=get_page_size_args(), widgets=widgets)

    def _save(self, form, item, is_new: bool) -> bool:
        version = None if is_new else form._fields.get("version")
        if version is not None and not version.data:
            flash(NO_VERSION_MESSAGE, "danger")
            return False
        try:
            if version is not None and version.data != str(item.version):
                raise StaleVersion
            for name, field in form._fields.items():
                if field is not version and (is_new or name not in self.kept_on_edit):
                    field.populate_obj(item, name)
            self.prepare_item(item, is_new)
            (self.datamodel.add if is_new else self.datamodel.edit)(item)
        except (RuleViolations, RuleViolation, ScopeViolation) as exc:
            db.session.rollback()
            # Refused because someone saved this row meanwhile (their change made a
            # check fail): the loser of the race is told so, not a rule's message.
            if version is not None and str(item.version) != version.data:
                flash(STALE_MESSAGE, "danger")
            else:
                self._show_refusal(form, exc)
            return False
        except StaleVersion:
            db.session.rollback()
            flash(STALE_MESSAGE, "danger")
            return False
        except (DatabaseException, SQLAlchemyError):
            db.session.rollback()
            flash("未保存：数据库拒绝了这次写入，请核对填写的内容后重试", "danger")
            return False
        (self.post_add if is_new else self.post_update)(item)
        flash(self.add_row_message if is_new else self.edit_row_message, "success")
        return True

    @staticmethod
    def _show_refusal(form, exc: Exception) -> None:
        violations = exc.violations if isinstance(exc, RuleViolations) else [exc]
        marked = []
        for violation in violations:
            field = form._fields.get(getattr(violation, "field", None) or "")
            if field is None:
                flash(f"未保存：{violation.message}", "danger")
            else:
                field.errors = [*field.errors, violation.message]
                marked.append(str(field.label.text))
        if marked:
            flash(f"未保存：请按“{'”“'.join(dict.fromkeys(marked))}”栏下的提示修改", "danger")


# --- screens ---------------------------------------------------------------------------

HISTORY_ACTIONS = {"create": "登记", "update": "修改", "correct": "更正证件号/电话",
                   "import": "Excel导入",
                   "archive": "档案移交接收", "move": "迁移", "death": "死亡申报",
                   "remove": "注销"}
# History rows name a reference by its foreign key (service.TRACKED).
HISTORY_FIELDS = RETIREE_LABELS | {"employer_id": RETIREE_LABELS["employer"],
                                   "custodian_agency_id": RETIREE_LABELS["custodian_agency"],
                                   "community_id": RETIREE_LABELS["community"]}


class RetireeHistoryView(ScopedModelView):
    """A32: the history tab of a retiree, in Chinese: the field's label, the business
    done, coded values as their labels."""

    datamodel = interface(RetireeHistory)
    list_title = "修改记录"
    show_title = "修改记录详情"
    base_permissions = ["can_list", "can_show"]
    list_columns = ["at", "actor", "action", "field", "old_label", "new_label", "reason"]
    show_columns = ["retiree", *list_columns]
    # Issue 12: no filter or ordering on the stored values, which hold health data (a
    # filter on them would answer what the labels hide).
    search_columns = ["at", "actor", "action", "field", "reason"]
    coded_columns = {"action": HISTORY_ACTIONS,
                     "field": {f: HISTORY_FIELDS[f] for f in service.TRACKED}}
    order_columns = ["at", "actor", "action", "field"]
    label_columns = {"at": "时间", "actor": "操作人", "action": "业务", "field": "字段",
                     "old_label": "原值", "new_label": "新值", "reason": "原因",
                     "retiree": "退休人员"}
    formatters_columns = {"at": _moment, "action": _label_of(HISTORY_ACTIONS),
                          "field": _label_of(HISTORY_FIELDS), "reason": _label_of({}),
                          "actor": person_name}
    base_order = ("id", "desc")


class RetireeTransferView(ScopedModelView):
    """A32: moves between communities, seen from both sides."""

    datamodel = interface(RetireeTransfer)
    list_title = "迁移记录"
    show_title = "迁移记录详情"
    base_permissions = ["can_list", "can_show"]
    # Issue 14 item 1: the text copied at the move, readable by the sender too (who no
    # longer sees the person nor, often, the receiving community).
    list_columns = ["retiree_name", "personal_no", "from_community_name", "to_community_name",
                    "moved_on", "reason", "actor"]
    label_columns = {"retiree_name": "退休人员", "personal_no": "个人编号",
                     "from_community_name": "迁出社区", "to_community_name": "迁入社区",
                     "retiree": "退休人员", "from_community": "迁出社区", "to_community": "迁入社区",
                     "moved_on": "迁移日期", "reason": "原因", "actor": "经办人", "at": "登记时间"}
    show_columns = [*list_columns, "at"]
    search_columns = list_columns
    formatters_columns = {"at": _moment, "reason": _label_of({}), "actor": person_name}
    base_order = ("id", "desc")


def _moved(item: Retiree, transfer: RetireeTransfer) -> tuple[str, str]:
    """Issue 14 item 1: after a move, the message naming where the person went, and the
    page to land on: the person's page while still in the user's scope, else the move
    record (the person's page would answer 404)."""
    if transfer.to_community_id is None:
        message = f"{transfer.retiree_name}已迁出统筹范围，由市退管中心集中管理"
    else:
        message = f"{transfer.retiree_name}已迁往{transfer.to_community_name}"
    if path_in_scope(item.region_path, current_scope()):
        return message, url_for("RetireeModelView.show", pk=item.id)
    return message, url_for("RetireeTransferView.show", pk=transfer.id)


class MoveForm(FlaskForm):
    community = SelectField("迁入社区", coerce=str, validators=[Optional()],
                            widget=Select2Widget(),
                            description="选择“迁出统筹范围（居外人员）”则由市退管中心集中管理")
    moved_on = DateField("迁移日期", validators=[DataRequired(message="请填写迁移日期")])
    reason = StringField("迁移原因", validators=[DataRequired(message="请填写迁移原因")])


class DeathForm(FlaskForm):
    death_date = DateField("死亡日期", validators=[DataRequired(message="请填写死亡日期")])
    cause = StringField("死亡原因")
    reporter = StringField("报告人", validators=[DataRequired(message="请填写报告人")])


class RemoveForm(FlaskForm):
    reason = TextAreaField("注销原因（仅限录入错误）",
                           validators=[DataRequired(message="请填写注销原因")])


REASON_LENGTH = Length(min=4, max=200, message="原因须为4至200个字")


class FullPrintForm(FlaskForm):
    reason = TextAreaField("打印原因", validators=[
        DataRequired(message="请说明打印完整登记表的原因"), REASON_LENGTH])


class CorrectionForm(FlaskForm):
    id_card_no = StringField("更正后的身份证号", validators=[Optional()])
    phone = StringField("更正后的联系电话", validators=[Optional()])
    reason = TextAreaField("更正原因", validators=[
        DataRequired(message="请说明更正身份证号或联系电话的原因"), REASON_LENGTH])
    version = HiddenField()


class ArchiveForm(FlaskForm):
    accepted_on = DateField("档案接收日期", validators=[DataRequired(message="请填写接收日期")])


ENDED_STATES = ("deceased", "removed")
# The roster's switch showing the deceased and removed too (issue 14 item 12).
SHOW_ENDED = "ended"


class RosterInterface(VersionedInterface):
    """The roster's lists leave out the deceased and removed people unless the request
    asked for them (``RetireeModelView.hides_ended``); a row is still opened by id."""

    def _apply_inner_all(self, query, *args, **kwargs):
        # FAB builds the interfaces of related models (drop-downs) from this class too.
        if self.obj is Retiree and g.get("ra_hide_ended"):
            query = query.filter(Retiree.management_state.not_in(ENDED_STATES))
        return super()._apply_inner_all(query, *args, **kwargs)


class RetireeModelView(KeepInputOnRefusal, ScopedModelView):
    """The registry screens (A30–A32, F1–F9). No delete: removal is recorded."""

    datamodel = RosterInterface(Retiree, db.session)
    route_base = "/retiree"
    list_title = "退休人员名册"
    show_title = "退休人员基本信息"
    add_title = "登记退休人员"
    edit_title = "修改退休人员信息"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_move", "can_death",
                        "can_remove", "can_archive", "can_print", "can_card", "can_export"]
    # The roster's batch actions need the permission of their single screen.
    method_permission_name = {"batch_print": "print", "batch_card": "card",
                              "batch_export": "export", "batch_archive": "archive"}
    list_columns = ["name", "gender_label", "age", "personal_no", "id_card_masked",
                    "phone_masked", "category_label", "community", "state_label",
                    "form_complete"]
    order_columns = ["name", "personal_no"]
    base_order = ("id", "desc")
    search_columns = ["name", "personal_no", "id_card_no", "region_path", "community",
                      "category", "residence_type", "family_status", "serious_illness",
                      "widowed_alone", "disabled", "management_state", "form_complete",
                      "birth_date", "retirement_date", "employer"]
    search_filters = {
        "name": [FilterNameOrInitials],
        "id_card_no": [FilterIdCard],
        "region_path": [FilterInRegion],
        "birth_date": [FilterVeryOld],
    }
    label_columns = RETIREE_LABELS
    add_columns = FORM_COLUMNS
    edit_columns = [*FORM_COLUMNS, CHANGE_REASON, "version"]
    add_fieldsets = _fieldsets(FORM_COLUMNS)
    edit_fieldsets = [*_fieldsets(FORM_COLUMNS),
                      ("修改说明", {"fields": [CHANGE_REASON, "version"]})]
    add_form_extra_fields = _form_fields()
    edit_form_extra_fields = _edit_form_fields()
    description_columns = {f.name: f.help for f in FORM_FIELDS if f.help}
    add_form_query_rel_fields = {"community": [["level", FilterEqual, "community"]]}
    edit_form_query_rel_fields = add_form_query_rel_fields
    search_form_query_rel_fields = add_form_query_rel_fields
    # The masked numbers sit where the paper form has them (基本情况), with the age.
    show_fieldsets = [
        *_show_sections(),
        ("管理状态", {"fields": ["state_label", "form_complete", "archive_transferred_on",
                             "death_date", "death_cause", "removed_reason", "created_by",
                             "created_at", "updated_by", "updated_at"]}),
    ]
    formatters_columns = FORMATTERS | {"community": community_text,
                                       "created_by": person_name, "updated_by": person_name}
    add_template = "ra_retiree_add.html"
    show_template = "ra_retiree_show.html"
    edit_template = "ra_retiree_edit.html"
    list_template = "ra_retiree_list.html"
    related_views = [RetireeHistoryView]

    def prepare_item(self, item, is_new: bool) -> None:
        """A32: an edit's stated reason goes to its history rows."""
        reason = None if is_new else (request.form.get(CHANGE_REASON) or "").strip()
        service.prepare(db.session, item, actor_name(), reason=reason or None)

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        """A new person lives in the clerk's own community when the clerk has one."""
        region = getattr(g.get("ra_user"), "region", None)
        if request.method == "GET" and region is not None and region.level == "community":
            form.community.data = region
        return super()._get_add_widget(form, exclude_cols, widgets)

    def post_add(self, item) -> None:
        g.ra_added_pk = item.id

    def post_add_redirect(self):
        """Saving a registration opens the new record (with 打印登记表 at hand)."""
        pk = g.get("ra_added_pk")
        return redirect(url_for(".show", pk=pk) if pk else url_for(".list"))

    def prefill_form(self, form, pk) -> None:
        """PIPL: the edit form shows the ID number and phone masked (issue #12 item 1)."""
        form.id_card_no.data = mask_id_card(form.id_card_no.data)
        form.phone.data = form.phone.data and mask_phone(form.phone.data)

    @property
    def kept_on_edit(self) -> tuple[str, ...]:
        """Never written by the edit form: the ID number and phone (their own correction
        step), and the health fields for a user who may not see them (PIPL)."""
        from core.release.service import health_visible

        kept = (*CORRECTED_APART, CHANGE_REASON)  # the reason is history, not a column
        return kept if health_visible() else (*kept, *HEALTH_COLUMNS)

    # --- PIPL: health fields only for the roles that need them (core.release) ---------
    def _get_edit_widget(self, form, exclude_cols=None, widgets=None):
        from core.release.service import health_visible

        if not health_visible():
            exclude_cols = [*(exclude_cols or []), *HEALTH_COLUMNS]
        return super()._get_edit_widget(form, exclude_cols, widgets)

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        from core.release.service import health_visible

        if not health_visible():
            show_fieldsets = [(name, {**spec, "fields": [
                f for f in spec["fields"] if f not in HEALTH_COLUMNS]})
                for name, spec in (show_fieldsets or self.show_fieldsets)]
        g.ra_shown_retiree = item  # the page's buttons follow the person's state
        return super()._get_show_widget(pk, item, widgets, actions, show_fieldsets)

    @staticmethod
    def hides_ended() -> bool:
        """Issue 14 item 12: the roster is the living, registered people unless the
        request asks for everyone (``?ended=1``) or filters on the state itself."""
        return request.args.get(SHOW_ENDED) != "1" and not any(
            key.endswith("_management_state") for key in request.args)

    @expose("/list/")
    @has_access
    def list(self):
        from core.release.service import health_visible

        if not health_visible() and any(
                c in key for key in request.args for c in HEALTH_COLUMNS):
            abort(403)
        get_filter_args(self._filters)  # read again by FAB's list: its result is the same
        g.ra_current_filters = current_filters(self._filters, self.label_columns)
        g.ra_hide_ended = self.hides_ended()
        return super().list()

    @expose("/find/")
    @has_access
    @permission_name("list")
    def find(self):
        """The navbar's search box (issue 14 item 9): a name (a part of it), pinyin
        initials, a full ID number (exact only, issue 12) or a personal number with or
        without its leading zeros (F4: ``100380`` is ``00100380``). One person in the
        user's scope opens that person; otherwise the roster lists the matches under that
        filter. The scoped session answers: someone outside the scope is not found, with
        the same answer as someone who does not exist."""
        text = (request.args.get("q") or "").strip()[:50]
        if not text:
            return redirect(url_for(".list"))
        column, kind, value, condition = _find_by(text)
        found = db.session.scalars(select(Retiree.id).where(condition).limit(2)).all()
        if len(found) == 1:
            return redirect(url_for(".show", pk=found[0]))
        index = next(n for n, flt in enumerate(self._filters._all_filters[column])
                     if isinstance(flt, kind))
        return redirect(url_for(".list", **{f"_flt_{index}_{column}": value}))

    # --- lifecycle operations (A13, A16, A32) ------------------------------------------
    def _item(self, pk) -> Retiree:
        item = self.datamodel.get(pk)
        if item is None:
            abort(404)
        return item

    def _operation(self, pk, form, title: str, apply):
        """``apply`` may return the message and the page to land on (default: the
        person's page with "<title>：已完成")."""
        item = self._item(pk)
        if form.validate_on_submit():
            try:
                landing = apply(item, form)
                db.session.commit()
            except RuleViolations as exc:
                db.session.rollback()
                flash(violation_text(exc), "danger")
            else:
                message, target = landing or (f"{title}：已完成", url_for(".show", pk=pk))
                flash(message, "success")
                return redirect(target)
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return self.render_template("ra_operation.html", form=form, title=title, item=item,
                                    cancel=url_for(".show", pk=pk))

    @expose("/move/<int:pk>", methods=["GET", "POST"])
    @has_access
    def move(self, pk):
        form = MoveForm()
        # Any community may receive the person (A32): the choices, their full names and
        # the chosen target are read past a community clerk's scope.
        with unscoped():
            communities = db.session.execute(
                select(Region).where(Region.level == "community").order_by(Region.code)
                .execution_options(unscoped=True)).scalars()
            form.community.choices = [("", "迁出统筹范围（居外人员）")] + [
                (str(c.id), f"{c.full_name}（{c.code}）") for c in communities]

        def apply(item, form):
            to = (db.session.get(Region, int(form.community.data),
                                 execution_options={"unscoped": True})
                  if form.community.data else None)
            transfer = service.move(db.session, item, to, form.moved_on.data,
                                    form.reason.data, actor_name())
            return _moved(item, transfer)
        return self._operation(pk, form, "迁移", apply)

    @expose("/death/<int:pk>", methods=["GET", "POST"])
    @has_access
    def death(self, pk):
        def apply(item, form):
            service.report_death(db.session, item, form.death_date.data, form.cause.data,
                                 form.reporter.data, actor_name())
        return self._operation(pk, DeathForm(), "死亡申报", apply)

    @expose("/remove/<int:pk>", methods=["GET", "POST"])
    @has_access
    def remove(self, pk):
        def apply(item, form):
            service.remove(db.session, item, form.reason.data, actor_name())
        return self._operation(pk, RemoveForm(), "注销（录入错误）", apply)

    @expose("/archive/<int:pk>", methods=["GET", "POST"])
    @has_access
    def archive(self, pk):
        def apply(item, form):
            service.accept_archive(db.session, item, form.accepted_on.data, actor_name())
        return self._operation(pk, ArchiveForm(), "档案移交接收", apply)

    # --- printing (F1, A13); PIPL: the full form is an unmask (issue #12 item 1) -------
    @staticmethod
    def _pdf(data: bytes, document: str, fallback: str, item: Retiree) -> Response:
        return download_response(data, f"{document}-{item.name}-{item.personal_no}.pdf",
                                 f"{fallback}-{item.personal_no}.pdf", "application/pdf",
                                 inline=True)

    @expose("/print/<int:pk>")
    @has_access
    def print(self, pk):
        """The registration form masked (ID number, phone) and without health data, for
        every role that may print; audited as ``person.print``."""
        from core.registry.documents import registration_form_for

        item = self._item(pk)
        return self._pdf(registration_form_for(item), "基本信息登记表", "registration", item)

    @expose("/print-full/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("print")
    def print_full(self, pk):
        """打印完整登记表: full ID number and phone, health data only with the health
        permission. Needs the unmask permission and a stated reason; audited as
        ``person.print_full`` with the reason."""
        from core.audit.trail import record
        from core.registry.documents import registration_form_for
        from core.release.service import health_visible, unmask_allowed

        item = self._item(pk)
        if not unmask_allowed():
            abort(403)
        health = health_visible()
        form = FullPrintForm()
        form.reason.description = (
            f"完整登记表含完整身份证号、联系电话{'和健康信息' if health else ''}；"
            "本次打印及原因将记入安全审计日志")
        if form.validate_on_submit():
            record("person.print_full", object_type="Retiree", object_id=pk,
                   detail={"reason": form.reason.data.strip(), "health": health})
            return self._pdf(registration_form_for(item, full=True, health=health),
                             "基本信息登记表（完整）", "registration-full", item)
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return self.render_template("ra_operation.html", form=form, title="打印完整登记表",
                                    item=item, cancel=url_for(".show", pk=pk))

    @expose("/card/<int:pk>")
    @has_access
    def card(self, pk):
        """A13: the contact card (no ID number, phone or health data); ``person.card``."""
        from core.registry.documents import contact_card_for

        item = self._item(pk)
        return self._pdf(contact_card_for(item), "联系卡", "card", item)

    # --- batch work on the rows ticked in the roster (issue 14 item 13) ----------------
    # ScopedModelView.action_post reads every posted id again within the user's scope
    # (404, nothing done, when one is not) and FAB checks the action's permission (the
    # single screen's: ``method_permission_name``) before these run.
    def _batch(self, items: list[Retiree]) -> list[Retiree] | None:
        """The people ticked, in the order posted; None (and a message) above the cap."""
        cap = current_app.config["BATCH_MAX_ROWS"]
        if len(items) > cap:
            flash(f"一次最多批量处理{cap}人，本次勾选了{len(items)}人：请分批操作，"
                  "未做任何处理", "danger")
            return None
        return items

    @staticmethod
    def _back():
        return redirect(request.referrer or url_for(".list"))

    def _batch_pdf(self, items, render, action: str, document: str, fallback: str):
        """The ticked people's documents in one PDF (``render``), each audited as
        ``action`` with the batch size."""
        from core.audit.trail import record

        people = self._batch(items)
        if people is None:
            return self._back()
        for r in people:
            record(action, object_type="Retiree", object_id=r.id, detail={"batch": len(people)})
        return download_response(render(people), f"{document}-{len(people)}人.pdf", fallback,
                                 "application/pdf", inline=True)

    @action("batch_print", "批量打印登记表", icon="fa-print", single=False)
    def batch_print(self, items):
        """The ticked people's registration forms in one PDF, masked as the single
        print (no full numbers, no health data); ``person.print`` for each."""
        from core.registry.documents import registration_forms_for

        return self._batch_pdf(items, registration_forms_for, "person.print", "基本信息登记表",
                               "registration-forms.pdf")

    @action("batch_card", "批量打印联系卡", icon="fa-id-card-o", single=False)
    def batch_card(self, items):
        """A13: the ticked people's contact cards in one PDF; ``person.card`` for each."""
        from core.registry.documents import contact_cards_for

        return self._batch_pdf(items, contact_cards_for, "person.card", "联系卡",
                               "contact-cards.pdf")

    @action("batch_export", "导出所选人员（Excel）", icon="fa-file-excel-o", single=False)
    def batch_export(self, items):
        """A30, A33: the ticked people through the list's export (same columns, masking
        and release rules)."""
        people = self._batch(items)
        if people is None:
            return self._back()
        query = self.datamodel.session.query(Retiree).filter(
            Retiree.id.in_([r.id for r in people])).order_by(Retiree.id)
        return self._send_export(query)

    @action("batch_archive", "批量接收档案", "确认接收所选人员的档案（接收日期记为今天）？",
            icon="fa-archive", single=False)
    def batch_archive(self, items):
        """A13 in batch: each ticked person's archive accepted today by the single
        screen's service, one transaction per person: a person refused (state, A12,
        A29) is listed with the reason and does not stop the others."""
        people = self._batch(items)
        if people is None:
            return self._back()
        done, refused = [], []
        for r in people:
            name = str(r)
            if r.management_state != "employer_managed":
                refused.append(f"{name}（{r.state_label}，无需或不能接收档案）")
                continue
            try:
                service.accept_archive(db.session, r, date.today(), actor_name())
                db.session.commit()
            except RuleViolations as exc:
                db.session.rollback()
                refused.append(f"{name}（{violation_text(exc)}）")
            else:
                done.append(name)
        if done:
            flash(f"已接收{len(done)}人的档案：{'、'.join(done)}", "success")
        if refused:
            flash(f"未接收{len(refused)}人（逐人办理，不影响已接收的人员）："
                  + "；".join(refused), "warning")
        return redirect(url_for(".list"))

    # --- 更正证件号/电话: the only way the screens change these numbers (issue #12) ---
    @expose("/correct/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def correct(self, pk):
        """Correct a person's ID number or phone: needs the edit and the unmask
        permission and a reason; the new values pass the rules of a save (F-rules on
        the ID number, city-wide uniqueness) and the version check; audited as
        ``person.correct`` with the reason. The current numbers stay masked here."""
        from core.audit.trail import record
        from core.release.service import unmask_allowed

        item = self._item(pk)
        if not unmask_allowed():
            abort(403)
        form = CorrectionForm()
        form.id_card_no.description = f"当前：{item.id_card_masked}；不更正请留空"
        form.phone.description = f"当前：{item.phone_masked or '（未填）'}；不更正请留空"
        if request.method == "GET":
            form.version.data = str(item.version)
        elif form.validate_on_submit():
            changed = self._apply_correction(item, form)
            if changed:
                record("person.correct", object_type="Retiree", object_id=pk,
                       detail={"reason": form.reason.data.strip(), "fields": changed})
                flash("已更正：" + "、".join(LABELS[f] for f in changed), "success")
                return redirect(url_for(".show", pk=pk))
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return self.render_template("ra_operation.html", form=form, title="更正证件号/电话",
                                    item=item, cancel=url_for(".show", pk=pk))

    def _apply_correction(self, item: Retiree, form: CorrectionForm) -> list[str]:
        """Write the corrected numbers; the fields changed, or [] when refused (the
        messages are on the form or flashed, nothing is written)."""
        new = {name: (form[name].data or "").strip() for name in CORRECTED_APART}
        new = {name: value for name, value in new.items() if value}
        if not new:
            form.id_card_no.errors = [*form.id_card_no.errors,
                                      "请填写更正后的身份证号或联系电话"]
            return []
        if form.version.data and form.version.data != str(item.version):
            flash(STALE_MESSAGE, "danger")
            return []
        for name, value in new.items():
            setattr(item, name, value)
        try:
            service.prepare(db.session, item, actor_name(), "correct",
                            form.reason.data.strip())
            self.datamodel.edit(item)
        except (RuleViolations, RuleViolation) as exc:
            db.session.rollback()
            self._show_refusal(form, exc)
            return []
        except StaleVersion:
            db.session.rollback()
            flash(STALE_MESSAGE, "danger")
            return []
        return sorted(new)

    # --- export of the current filtered list (A30) ------------------------------------
    @expose("/export/")
    @has_access
    def export(self):
        get_filter_args(self._filters)
        g.ra_hide_ended = self.hides_ended()  # the list as shown (issue 14 item 12)
        query = self.datamodel.apply_all(
            self.datamodel.session.query(Retiree), self._filters, order_column="id",
            order_direction="asc")
        return self._send_export(query)

    def _send_export(self, query):
        """Write ``query``'s people to xlsx under the release rules (A33)."""
        from core.registry.exchange import export_retirees
        from core.release.files import send_temporary
        from core.release.service import open_export, record_release, watermark

        # A33: large or unmasked exports need an approved release request (?release=No.).
        try:
            query, req, options = open_export(db.session, query, Retiree.region_path,
                                              request.args.get("release"), "Retiree")
        except RuleViolation as exc:
            flash(exc.message, "danger")
            return redirect(url_for(".list"))
        fd, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(fd)
        count = export_retirees(query, path, watermark=req and watermark(req, actor_name()),
                                **options)
        record_release(req, count, "Retiree")
        response = send_temporary(path, f"退休人员名册-{today_stamp()}.xlsx",
                                  f"retirees-{today_stamp()}.xlsx")
        response.headers["X-Row-Count"] = str(count)
        return response


ENTERPRISE_LABELS = {
    "unit_no": "单位编号", "name": "单位名称", "industry_authority": "行业主管部门",
    "status": "单位状态", "status_label": "单位状态", "successor": "承继单位",
    "district": "注册所在区", "gongtou_group": "属市工投公司系统或创元集团",
    "address": "地址", "contact_person": "联系人", "phone": "电话"}


def prepare_enterprise(item: Enterprise, is_new: bool) -> None:
    """The rules of every write of an enterprise, screen or API: who may change it
    (reference data), and F3's successor."""
    check_enterprise_write(item, is_new)
    item.unit_no = (item.unit_no or "").strip()
    if item.successor_id is not None and item.successor_id == item.id or \
            item.successor is item:
        raise RuleViolations([RuleViolation("承继单位不能是本单位", "successor")])
    if item.status == "active" and item.successor is not None:
        raise RuleViolations([RuleViolation(
            "正常经营的单位不填承继单位；单位关闭、破产、改制后再填写", "successor", "F3")])


class EnterpriseModelView(KeepInputOnRefusal, ScopedModelView):
    """F3, A12: insured employers with status and the chain of successors; reference
    data changed by city staff and the staff of the district of registration
    (``core.registry.reference``)."""

    datamodel = interface(Enterprise)
    list_title = "参保单位"
    add_title = "登记参保单位"
    edit_title = "修改参保单位"
    show_title = "参保单位详情"
    list_columns = ["unit_no", "name", "industry_authority", "status_label", "successor"]
    search_columns = ["unit_no", "name", "industry_authority", "status"]
    add_columns = ["unit_no", "name", "district", "industry_authority", "status", "successor",
                   "gongtou_group", "address", "contact_person", "phone"]
    edit_columns = add_columns
    add_form_query_rel_fields = {"district": [["level", FilterEqual, "district"]]}
    edit_form_query_rel_fields = add_form_query_rel_fields
    base_order = ("unit_no", "asc")
    label_columns = dict(ENTERPRISE_LABELS)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]

    def __init__(self, *args, **kwargs):
        from core.registry.fields import ENTERPRISE_STATUS

        self.add_form_extra_fields = {"status": SelectField(
            "单位状态", choices=list(ENTERPRISE_STATUS.items()), widget=Select2Widget()),
            # Unticked must validate (see _form_fields).
            "gongtou_group": BooleanField(self.label_columns["gongtou_group"])}
        self.edit_form_extra_fields = self.add_form_extra_fields
        super().__init__(*args, **kwargs)

    def prepare_item(self, item, is_new: bool) -> None:
        prepare_enterprise(item, is_new)


class EmploymentAgencyModelView(KeepInputOnRefusal, ScopedModelView):
    """F3, A27: employment agencies keeping the archives of 自谋职业 and 协保 retirees."""

    datamodel = interface(EmploymentAgency)
    list_title = "就业管理机构"
    add_title = "登记就业管理机构"
    edit_title = "修改就业管理机构"
    show_title = "就业管理机构详情"
    list_columns = ["code", "name", "address", "phone"]
    add_columns = ["code", "name", "address", "phone"]
    edit_columns = add_columns
    search_columns = ["code", "name"]
    label_columns = {"code": "机构编号", "name": "机构名称", "address": "地址", "phone": "电话"}
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]

    def prepare_item(self, item, is_new: bool) -> None:
        check_agency_write(item, is_new)


# --- REST API -----------------------------------------------------------------------

MASKED_FROM = {"id_card_masked": "id_card_no", "phone_masked": "phone"}
API_COLUMNS = ["personal_no", "id_card_no", "name", "gender", "birth_date", "retirement_date",
               "retirement_type", "benefit", "category", "employer", "custodian_agency",
               "party_cadre", "residence_type", "community", "family_status", "serious_illness",
               "widowed_alone", "disabled", "political_status", "health_notes",
               "hukou_address", "residence_address", "phone", "employer_handler_name",
               "employer_handler_date", "community_worker_name", "community_worker_date",
               "retiree_signed_name", "retiree_signed_date"]


# marshmallow's refusals in Chinese, {label} being the field's label: by error key, else
# by the field's kind (the first class it is an instance of: Date before DateTime).
class RetireeApi(ScopedModelRestApi):
    """``/api/v1/retiree/``: the registry over REST. Invalid input → 422 per field, in
    Chinese (F4: the personal number's own message).

    Optimistic locking: a PUT carrying the ``version`` read with GET is refused with 409
    when the row has changed since, and nothing is written. A PUT without ``version`` is
    applied to the current row: this PUT changes only the fields sent (FAB merges the
    rest in), so a client setting one field need not read the row first, and, as with
    HTTP's optional If-Match, making the update conditional is the client's choice; a
    client saving what it read and edited sends the version.

    PIPL (issue #12 item 1): GET shows the ID number and phone masked only, so a PUT
    sending back a masked value (one with ``*``) leaves the stored number as it is. A
    PUT changing either number is a correction: it needs the unmask permission (403
    otherwise, nothing written) and is audited as ``person.correct``. The API asks no
    reason (its clients are systems; the screen's 更正证件号/电话 step asks one)."""

    resource_name = "retiree"
    datamodel = VersionedInterface(Retiree, db.session)
    list_title = RetireeModelView.list_title
    show_title = RetireeModelView.show_title
    add_title = RetireeModelView.add_title
    edit_title = RetireeModelView.edit_title
    allow_browser_login = True
    include_route_methods = {"get", "get_list", "post", "put", "info"}
    list_columns = ["id", "personal_no", "id_card_masked", "name", "gender", "birth_date",
                    "category", "residence_type", "community.id", "community.name",
                    "management_state", "form_complete", "phone_masked"]
    show_columns = ["id", *[c for c in API_COLUMNS if c not in ("id_card_no", "phone")],
                    "id_card_masked", "phone_masked", "management_state", "form_complete",
                    "version"]
    # The masked properties read the plain columns: selected with the row, or each
    # property would load its column with a query of its own, twice per person.
    list_select_columns = [MASKED_FROM.get(c, c) for c in list_columns]
    show_select_columns = [*(MASKED_FROM.get(c, c) for c in show_columns),
                           "employer_id", "custodian_agency_id", "community_id"]
    add_columns = API_COLUMNS
    edit_columns = [*API_COLUMNS, "version"]
    rule_checked_columns = RULE_CHECKED_TEXT
    search_columns = ["name", "personal_no", "category", "management_state", "form_complete",
                      "community", "residence_type", "family_status"]
    order_columns = ["id", "name", "personal_no"]
    base_order = ("id", "desc")
    label_columns = RETIREE_LABELS | {"id": "编号", "community.id": "所在社区编号",
                                      "community.name": "所在社区名称"}
    add_query_rel_fields = {"community": [["level", FilterEqual, "community"]]}
    edit_query_rel_fields = add_query_rel_fields

    def prepare_item(self, item, is_new: bool) -> None:
        service.prepare(db.session, item, actor_name())

    def _merge_update_item(self, model_item, data: dict) -> dict:
        """Compare the ``version`` sent with the row's, then load the row's own: the
        version only ever moves by SQLAlchemy's count (``version_id_col``)."""
        g.ra_loaded_version = (model_item.id, model_item.version)
        if "version" in data:
            sent = data["version"]
            if isinstance(sent, bool) or not isinstance(sent, int):
                raise RuleViolation("版本号须为整数：请填写读取该记录时得到的version", "version")
            if sent != model_item.version:
                raise StaleVersion
        data = self._without_masked(model_item, data)
        return super()._merge_update_item(model_item, data) | {"version": model_item.version}

    @staticmethod
    def _without_masked(model_item, data: dict) -> dict:
        """Drop the masked numbers sent back; note the corrected ones (or refuse them)."""
        from core.release.service import unmask_allowed

        kept, changed = dict(data), []
        for name in CORRECTED_APART:
            value = kept.get(name)
            if isinstance(value, str) and "*" in value:
                del kept[name]
            elif name in kept and value != getattr(model_item, name):
                changed.append(name)
        if changed and not unmask_allowed():
            raise CorrectionRefused
        g.ra_corrected = changed
        return kept

    def post_headless(self):
        response = super().post_headless()
        if response.status_code == 201:
            self._answer_as_shown(response, response.get_json()["id"])
        return response

    def put_headless(self, pk):
        from core.audit.trail import record

        try:
            response = super().put_headless(pk)
        except StaleVersion:
            db.session.rollback()
            return self.response(409, message=STALE_MESSAGE)
        except CorrectionRefused:
            db.session.rollback()
            return self.response(403, message=CORRECTION_REFUSED)
        if response.status_code == 422 and self._lost_race():
            return self.response(409, message=STALE_MESSAGE)
        if response.status_code == 200:
            self._answer_as_shown(response, pk)
            if g.get("ra_corrected"):
                record("person.correct", object_type="Retiree", object_id=pk,
                       detail={"fields": g.ra_corrected, "via": "api"})
        return response

    @staticmethod
    def _lost_race() -> bool:
        """Issue 12 item 11: a PUT refused (a number "已登记", a database constraint)
        after another writer committed a change to this row since it was read lost a
        race: it answers 409, whatever check the other's change made fail."""
        loaded = g.pop("ra_loaded_version", None)
        if loaded is None:
            return False
        pk, version = loaded
        with unscoped():
            current = db.session.scalar(select(Retiree.version).where(Retiree.id == pk)
                                        .execution_options(unscoped=True))
        return current is not None and current != version

    def _answer_as_shown(self, response, pk) -> None:
        """PIPL: a write answers the record as GET shows it (ID number and phone masked,
        health fields only for the roles that need them), not the full values sent."""
        data = {"result": self.show_model_schema.dump(self.datamodel.get(pk))}
        self.pre_get(data)
        body = response.get_json()
        body["result"] = data["result"]
        response.set_data(json.dumps(body, ensure_ascii=False))

    def pre_get(self, data: dict) -> None:
        """PIPL: health fields only for the roles that need them."""
        from core.release.service import health_visible

        if not health_visible():
            for name in HEALTH_COLUMNS:
                data.get("result", {}).pop(name, None)


class EnterpriseApi(ScopedModelRestApi):
    resource_name = "enterprise"
    datamodel = interface(Enterprise)
    list_title = EnterpriseModelView.list_title
    show_title = EnterpriseModelView.show_title
    add_title = EnterpriseModelView.add_title
    edit_title = EnterpriseModelView.edit_title
    label_columns = ENTERPRISE_LABELS | {"id": "编号", "successor.id": "承继单位编号",
                                         "district.id": "注册所在区编号"}
    allow_browser_login = True
    include_route_methods = {"get", "get_list", "post", "put", "info"}
    list_columns = ["id", "unit_no", "name", "industry_authority", "status", "successor.id"]
    show_columns = ["id", "unit_no", "name", "district.id", "industry_authority", "status",
                    "successor.id", "gongtou_group", "address", "contact_person", "phone"]
    add_columns = ["unit_no", "name", "district", "industry_authority", "status", "successor",
                   "gongtou_group", "address", "contact_person", "phone"]
    edit_columns = add_columns

    def prepare_item(self, item, is_new: bool) -> None:
        prepare_enterprise(item, is_new)


def register(appbuilder) -> None:
    appbuilder.add_view(RetireeModelView, "退休人员名册", category="退休人员",
                        icon="fa-users", category_icon="fa-users")
    appbuilder.add_link("登记表未完整", href="/retiree/list/?_flt_1_form_complete=y",
                        category="退休人员", icon="fa-exclamation-circle")
    appbuilder.add_view(RetireeTransferView, "迁移记录", category="退休人员", icon="fa-exchange")
    appbuilder.add_view_no_menu(RetireeHistoryView)
    appbuilder.add_view(EnterpriseModelView, "参保单位", category="单位与机构",
                        icon="fa-building", category_icon="fa-building")
    appbuilder.add_view(EmploymentAgencyModelView, "就业管理机构", category="单位与机构",
                        icon="fa-briefcase")
    appbuilder.add_api(RetireeApi)
    appbuilder.add_api(EnterpriseApi)
