"""The app builds on a migrated database and serves the home page to each level."""
import pytest

from tests.conftest import USERS


@pytest.mark.parametrize("username", sorted(USERS))
def test_A6_every_level_logs_in_and_sees_its_region(client_for, username):
    client = client_for(username)
    page = client.get("/").get_data(as_text=True)
    assert "所属区域" in page


def test_create_retiree_through_api(create_retiree, client_for):
    pk = create_retiree()
    body = client_for("c_cl11").get(f"/api/v1/retiree/{pk}").json
    assert body["result"]["name"] == "张三"
    assert body["result"]["personal_no"] == "00001001"
