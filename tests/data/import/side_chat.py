"""
Chat4All API mix, paced: each user posts ten messages for every conversation read, at a fixed
throughput per user (the side-by-side test runs this file with real Locust and its import with
blast against one service).

    locust -f side_chat.py --host=http://localhost:8000 --users=4 --spawn-rate=4 --run-time=5s --headless
"""
import csv
import random
import time

from locust import HttpUser, constant_throughput, task

with open("users.csv") as f:
    USERS = list(csv.DictReader(f))

MESSAGE_LENGTH = 64
PAGE_SIZE = 20
TASKS_PER_SECOND = 10


class ChatUser(HttpUser):
    host = "http://127.0.0.1:8000"
    wait_time = constant_throughput(TASKS_PER_SECOND)

    def on_start(self):
        self.user = random.choice(USERS)
        response = self.client.post(
            "/auth/login",
            json={"username": self.user["name"], "password": self.user["password"]},
            name="POST /auth/login",
        )
        self.client.headers["Authorization"] = "Bearer " + response.json()["access_token"]

    @task(10)
    def post_message(self):
        content = "".join(random.choices("abcdefghijklmnopqrstuvwxyz ", k=MESSAGE_LENGTH))
        with self.client.post(
            "/v1/messages",
            json={"conversation_id": self.user["conversation"], "content": content, "client_ts": int(time.time() * 1000)},
            name="POST /v1/messages",
            catch_response=True,
        ) as r:
            if r.status_code != 201:
                r.failure(f"expected 201, got {r.status_code}")

    @task(1)
    def list_conversations(self):
        self.client.get("/v1/conversations", params={"limit": PAGE_SIZE}, name="GET /v1/conversations")
