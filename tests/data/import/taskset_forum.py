# TaskSets the way the Locust docs' "TaskSet class" section and older tutorials write them:
# a nested set that interrupts back to its parent, a set used as the user's only task.
from locust import HttpUser, TaskSet, task, between


class ProductSection(TaskSet):
    @task(10)
    def view_product(self):
        self.client.get("/products/7", name="/products/[id]")

    @task(3)
    def search(self):
        self.client.get("/search", params={"q": "lamp"})

    @task
    def stop(self):
        self.interrupt()


class UserBehavior(TaskSet):
    tasks = {ProductSection: 2}

    def on_start(self):
        self.client.post("/login", json={"username": "foo", "password": "bar"})

    @task
    def index(self):
        self.client.get("/")


class WebsiteUser(HttpUser):
    host = "http://127.0.0.1:8089"
    tasks = [UserBehavior]
    wait_time = between(1, 3)
