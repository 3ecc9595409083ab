def test_dbg(secure_app, login_as, create_retiree, retiree_payload):
    create_retiree(1)
    p = retiree_payload(1)
    c = login_as("c_cl11")
    page = c.get("/retiree/list/").get_data(as_text=True)
    print("ALL", p["id_card_no"][:6] + "********" in page, page.count("<tr"))
    page = c.get(f"/retiree/list/?_flt_0_id_card_no={p['id_card_no']}").get_data(as_text=True)
    print("FLT", page.count("<tr"), "张三" in page)
    import re
    print(re.findall(r"alert.*?</div>", page, re.S)[:3])
    assert 0
