# TaskSets written inside the user class, one picked with @task on the class, using
# self.user and a module-level task function.
from locust import HttpUser, TaskSet, task, constant


def index(ts):
    ts.client.get("/")


class MarketUser(HttpUser):
    wait_time = constant(2)
    favourite = "desks"

    @task(3)
    class Browse(TaskSet):
        tasks = [index]

        @task(2)
        def category(self):
            self.client.get("/products", params={"category": self.user.favourite})

        @task
        def leave(self):
            self.client.get("/hello")
            self.interrupt()

    @task
    def search(self):
        self.client.get("/search?q=chair")
