"""Issue #14 items 14–15 and the web import's overwrite choice: the template lists the
codes and names the reference columns take and the import accepts unique names; the
result page names the file, counts in order and lists the failed rows; the error report
carries whole rows and imports again once corrected; the import screen lists past
imports."""
import io
from datetime import date

import openpyxl
from sqlalchemy import select

from core.testing import wait_until

COMMUNITY = "320502001001"


def _upload(client, path, name="人员名单.xlsx", **form):
    with open(path, "rb") as fh:
        response = client.post("/retiree-exchange/import",
                               data={"file": (fh, name), **form},
                               content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def _wait(client, job_id):
    def finished():
        status = client.get(f"/jobs/{job_id}/status").json
        return status if status["status"] in ("done", "failed") else None

    return wait_until(finished, 120, f"job {job_id} to finish", interval=0.3)


def _person(app, personal_no):
    from core.extensions import db
    from core.registry.models import Retiree

    with app.app_context():
        r = db.session.scalar(select(Retiree).where(Retiree.personal_no == personal_no))
        if r is not None:
            db.session.expunge(r)
        db.session.remove()
        return r


def _region(app, code):
    from core.extensions import db
    from core.regions import Region

    with app.app_context():
        region = db.session.scalar(select(Region).where(Region.code == code))
        out = (region.id, region.name, region.parent_id)
        db.session.remove()
    return out


def test_the_web_import_refuses_rows_changed_since_the_export_unless_overwrite_is_ticked(
        app, client_for, rows, tmp_path, run_import):
    """The checkbox 覆盖导出后他人所做的修改 (off by default) is the CLI's --overwrite."""
    from core.extensions import db
    from core.registry import excel, exchange, service
    from core.registry.models import Retiree

    excel.write_export(tmp_path / "seed.xlsx", [rows(1), rows(2)])
    assert run_import(tmp_path / "seed.xlsx").created == 2
    old = tmp_path / "old.xlsx"
    with app.app_context():
        exchange.export_retirees(db.session.query(Retiree).order_by(Retiree.id), old)
        r = db.session.scalar(select(Retiree).where(Retiree.personal_no == "00001001"))
        r.residence_address = "苏州市沧浪区新家1号"
        service.prepare(db.session, r, "other_clerk", reason="搬家")
        db.session.commit()
        db.session.remove()
    client = client_for("admin")
    page = client.get("/retiree-exchange/import").get_data(as_text=True)
    assert "覆盖导出后他人所做的修改" in page
    assert 'name="overwrite"' in page and "checked" not in page.split('name="overwrite"')[1][:40]

    status = _wait(client, _upload(client, old))
    assert (status["result"]["更新"], status["result"]["失败"]) == (0, 1), status
    assert status["result"]["failures"][0][2] == "该人员在导出后已被修改，请重新导出"
    assert _person(app, "00001001").residence_address == "苏州市沧浪区新家1号"

    status = _wait(client, _upload(client, old, overwrite="y"))
    assert (status["result"]["更新"], status["result"]["失败"]) == (1, 0), status
    assert status["result"]["覆盖他人修改"] == "是"
    assert _person(app, "00001001").residence_address == "苏州市沧浪区十全街1号"


def test_the_template_lists_codes_and_names_and_says_each_instruction_once(app, client_for):
    """Item 14: a sheet of the user's communities (their scope only) and the enterprises
    and agencies; "填参保单位编号；填单位编号" no longer doubled."""
    response = client_for("c_cl11").get("/retiree-exchange/template")
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(response.data))
    assert wb.sheetnames[:3] == ["基本信息登记表", "填表说明", "单位与社区代码"]
    ref = [[c.value for c in row] for row in wb["单位与社区代码"].iter_rows()]
    assert ref[0][0] == "本辖区社区" and ref[0][4] == "参保单位" and ref[0][7] == "就业管理机构"
    communities = [r[0] for r in ref[2:] if r[0]]
    _, name, _ = _region(app, COMMUNITY)
    assert communities == [COMMUNITY]  # c_cl11's one community, no other
    assert ref[2][1] == name and ref[2][2]  # with its district and street
    enterprises = {r[4]: r[5] for r in ref[2:] if r[4]}
    assert enterprises["320500001"]
    city = openpyxl.load_workbook(io.BytesIO(client_for("admin").get(
        "/retiree-exchange/template").data))["单位与社区代码"]
    assert len([r for r in city.iter_rows(min_row=3, max_col=1, values_only=True) if r[0]]) > 1
    help_rows = {r[0]: r[2] for r in wb["填表说明"].iter_rows(values_only=True) if r and r[0]}
    employer = help_rows["原工作单位编号"]
    assert employer.count("编号") == 1 and "填单位编号" not in employer, employer
    assert "单位全称" in employer and "单位与社区代码" in employer


def test_the_import_accepts_unique_names_and_refuses_a_shared_one_naming_the_candidates(
        app, rows, tmp_path, run_import):
    """Item 14: a community or enterprise name unique in scope stands for its code; a name
    shared by several is refused with the candidates listed."""
    from core.extensions import db
    from core.registry import excel
    from core.registry.models import Enterprise

    with app.app_context():
        unit = db.session.scalar(select(Enterprise).where(Enterprise.unit_no == "320500001"))
        unit_name = unit.name
        db.session.add_all([Enterprise(unit_no="320599901", name="苏州同名机械厂"),
                            Enterprise(unit_no="320599902", name="苏州同名机械厂")])
        db.session.commit()
        db.session.remove()
    _, community_name, _ = _region(app, COMMUNITY)
    path = tmp_path / "names.xlsx"
    excel.write_export(path, [rows(1, employer=unit_name, community=community_name),
                              rows(2, employer="苏州同名机械厂")])
    result = run_import(path)
    assert (result.created, result.failed) == (1, 1), result.errors
    person = _person(app, "00001001")
    assert person.employer_id is not None and person.community_id == _region(app, COMMUNITY)[0]
    message = result.errors[0][2][0]
    assert message == ("原工作单位“苏州同名机械厂”同名的有2个：320599901（苏州同名机械厂）、"
                       "320599902（苏州同名机械厂），请改填原工作单位编号")


def test_the_result_names_the_file_counts_in_order_and_lists_failures(
        app, client_for, import_file):
    """Item 15: 文件 first, then the counts 总行数, 新增, 更新, 无变化, 失败; the failed
    rows with their reasons on the page; the import screen lists the import."""
    path, bad = import_file(12, bad_every=4)
    client = client_for("admin")
    job_id = _upload(client, path, name="三月名单.xlsx")
    status = _wait(client, job_id)
    result = status["result"]
    assert result["文件"] == "三月名单.xlsx"
    keys = list(result)
    counts = [k for k in keys if k in ("总行数", "新增", "更新", "无变化", "失败")]
    assert counts == ["总行数", "新增", "更新", "无变化", "失败"]
    assert keys.index("文件") < keys.index("总行数")
    assert (result["总行数"], result["新增"], result["失败"]) == (12, 9, 3)
    assert [f[0] for f in result["failures"]] == bad and all(f[2] for f in result["failures"])
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "ra-job-failures" in page and "下载错误报告" in page and "返回导入页面" in page
    listing = client.get("/retiree-exchange/import").get_data(as_text=True)
    past = listing.split('id="ra-import-past"')[1]
    assert "三月名单.xlsx" in past and f"/jobs/{job_id}" in past
    assert "<td>12</td><td>9</td><td>0</td><td>0</td><td>3</td>" in past
    assert f"/jobs/{job_id}/download" in past
    other = client_for("c_cl11").get("/retiree-exchange/import").get_data(as_text=True)
    assert "三月名单.xlsx" not in other  # the user's own imports only


def test_the_error_report_carries_whole_rows_and_imports_again_once_corrected(
        app, client_for, rows, tmp_path):
    """Item 15: every column of the failed row and the reason; the clerk fixes a cell of
    the report itself and imports it: the row is added."""
    from core.registry import excel

    path = tmp_path / "people.xlsx"
    excel.write_export(path, [rows(1), rows(2, community="999999999999",
                                           birth_date=date(1950, 1, 3),
                                           residence_address="苏州市平江区仓街5号")])
    client = client_for("admin")
    status = _wait(client, _upload(client, path))
    assert (status["result"]["新增"], status["result"]["失败"]) == (1, 1), status
    report = client.get(f"/jobs/{status['id']}/download")
    report_path = tmp_path / "report.xlsx"
    report_path.write_bytes(report.data)
    wb = openpyxl.load_workbook(report_path)
    ws = wb.worksheets[0]
    headers = [c.value.lstrip("*") for c in ws[1]]
    assert headers[0] == "原行号" and headers[-1] == "错误原因"
    assert {"姓名", "现居住地", "社区代码", "重病情况"} <= set(headers)
    row = {h: c.value for h, c in zip(headers, ws[2], strict=True)}
    assert row["原行号"] == 3 and "999999999999" in row["错误原因"]
    assert row["现居住地"] == "苏州市平江区仓街5号" and row["性别"] == "男"
    assert row["出生日期"].date() == date(1950, 1, 3)
    ws.cell(row=2, column=headers.index("社区代码") + 1, value=COMMUNITY)
    wb.save(report_path)
    status = _wait(client, _upload(client, report_path, name="错误报告改正.xlsx"))
    assert (status["result"]["新增"], status["result"]["失败"]) == (1, 0), status
    assert "未导入的列" not in status["result"]  # 原行号, 错误原因: the report's own
    person = _person(app, "00001002")
    assert person.residence_address == "苏州市平江区仓街5号"
    assert person.birth_date == date(1950, 1, 3)
