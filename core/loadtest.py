"""The load test (issue 7): ``locust -f core/loadtest.py`` against a running server.

Each simulated user logs in as a community clerk or a city administrator and browses the
pages staff use all day: the retiree list (first page, a deep page, a filter with a name
search), the API list, one person's record, the home page. Run against loopback only;
``.ci/loadtest`` runs it bounded in users and time and checks the result.
"""
import os
import random
import re

import gevent
from locust import FastHttpUser, between, events, task

PASSWORD = os.environ.get("LOADTEST_PASSWORD", "Demo@2024pw")
USERS = os.environ.get("LOADTEST_USERS", "community,city,district,street").split(",")
# Seconds after the last user has arrived (and logged in: scrypt, deliberately slow) before
# the figures start counting: they measure the steady browsing, not the login storm.
WARMUP = float(os.environ.get("LOADTEST_WARMUP", "4"))


@events.init.add_listener
def _count_after_warmup(environment, **_):
    @environment.events.spawning_complete.add_listener
    def _later(**__):
        gevent.spawn_later(WARMUP, environment.stats.reset_all)


class Staff(FastHttpUser):
    # geventhttpclient: the load generator shares the two cores with the server under test,
    # and requests' client costs several times more CPU per request.
    wait_time = between(0.5, 1.5)

    def on_start(self):
        form = self.client.get("/login/", name="login form").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
        with self.client.post("/login/", name="login", allow_redirects=False, catch_response=True,
                              data={"username": random.choice(USERS), "password": PASSWORD,
                                    "csrf_token": token.group(1) if token else ""}) as r:
            if r.status_code != 302 or "/login" in r.headers.get("Location", ""):
                r.failure(f"login refused ({r.status_code})")
        page = self.client.get("/api/v1/retiree/?q=(page_size:20)", name="api list").json()
        self.ids = [row["id"] for row in page.get("result", [])] or [1]

    def page(self, url: str, name: str) -> None:
        """A page counts only if it is the page: a redirect (to the login, when a session
        was refused) is a failure, not a fast success."""
        with self.client.get(url, name=name, allow_redirects=False,
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.headers.get('Location', '')}")

    @task(4)
    def list_first(self):
        self.page("/retiree/list/", "list first page")

    @task(2)
    def list_deep(self):
        self.page(f"/retiree/list/?page_RetireeModelView={random.randint(5, 40)}",
                  "list deep page")

    @task(2)
    def list_filtered(self):
        self.page("/retiree/list/?_flt_0_category=enterprise&_flt_0_name=%E7%8E%8B",
                  "list filter+name")

    @task(2)
    def api_list(self):
        self.page("/api/v1/retiree/?q=(page_size:20)", "api list")

    @task(2)
    def show(self):
        self.page(f"/retiree/show/{random.choice(self.ids)}", "show")

    @task(1)
    def home(self):
        self.page("/", "home")
