# A FastHttpUser API suite using rest(), the helper the Locust docs show for JSON APIs.
from locust import FastHttpUser, task, between


class ItemsApi(FastHttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self):
        resp = self.client.post("/login", json={"username": "api", "password": "key"})
        self.auth = {"Authorization": "Bearer " + resp.json()["token"]}

    @task(3)
    def list_items(self):
        with self.rest("GET", "/api/items?limit=5", headers=self.auth) as resp:
            if resp.status_code != 200:
                resp.failure("list failed")

    @task
    def create_and_delete(self):
        with self.rest("POST", "/api/items", json={"name": "widget", "tags": ["new"]}, headers=self.auth) as resp:
            item_id = resp.js["id"]
        self.client.request("GET", f"/api/items/{item_id}", name="/api/items/[id]", headers=self.auth)
        self.client.request("DELETE", f"/api/items/{item_id}", name="/api/items/[id]", headers=self.auth)
