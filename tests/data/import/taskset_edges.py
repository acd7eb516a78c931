# Task sets blast cannot reproduce exactly: each is listed by line, the rest still imports.
from locust import HttpUser, TaskSet, task, between


class Forever(TaskSet):
    wait_time = between(0.1, 0.2)

    @task
    def browse(self):
        self.client.get("/products")


class Visit(TaskSet):
    def on_start(self):
        self.client.get("/")

    @task(3)
    def view(self):
        self.client.get("/products/3", name="/products/[id]")

    @task
    def leave(self):
        self.interrupt()


class EdgeUser(HttpUser):
    wait_time = between(1, 2)
    tasks = {Forever: 1, Visit: 1}

    @task
    def hello(self):
        self.client.get("/hello")
