"""
Chat4All chunked upload through the application's API: initiate, 1 MiB multipart chunks (the
last one shorter), complete, and the service's SHA-256 checked against the bytes sent.

    locust -f side_upload.py --host=http://localhost:8000 --users=2 --spawn-rate=2 --run-time=5s --headless
"""
import hashlib
import math
import os

from locust import HttpUser, constant_pacing, task

FILE_SIZE = 3 * 1024 * 1024 + 12345
CHUNK_SIZE = 1024 * 1024
TOTAL_CHUNKS = math.ceil(FILE_SIZE / CHUNK_SIZE)
SLOW_CHUNK_SECONDS = 5


class UploadUser(HttpUser):
    host = "http://127.0.0.1:8000"
    wait_time = constant_pacing(1)

    def on_start(self):
        r = self.client.post("/auth/login", json={"username": "uploader", "password": "secret"}, name="POST /auth/login")
        self.headers = {"Authorization": "Bearer " + r.json()["access_token"]}

    @task
    def upload_file(self):
        data = os.urandom(FILE_SIZE)
        expected_sha = hashlib.sha256(data).hexdigest()
        with self.client.post(
            "/v1/files/initiate",
            json={"filename": "side.bin", "size": FILE_SIZE, "chunk_size": CHUNK_SIZE},
            headers=self.headers,
            name="POST /v1/files/initiate",
            catch_response=True,
        ) as r:
            if r.status_code != 201:
                r.failure(f"initiate returned {r.status_code}")
            upload_id = r.json()["upload_id"]

        for i in range(TOTAL_CHUNKS):
            chunk = data[i * CHUNK_SIZE:(i + 1) * CHUNK_SIZE]
            with self.client.post(
                f"/v1/files/{upload_id}/chunks",
                data={"chunk_index": i},
                files={"chunk": (f"chunk-{i}.bin", chunk, "application/octet-stream")},
                headers=self.headers,
                name="POST /v1/files/{id}/chunks",
                catch_response=True,
            ) as r:
                if r.elapsed.total_seconds() > SLOW_CHUNK_SECONDS:
                    r.failure("Slow Chunks")

        with self.client.post(
            f"/v1/files/{upload_id}/complete",
            headers=self.headers,
            name="POST /v1/files/{id}/complete",
            catch_response=True,
        ) as r:
            if r.status_code not in (200, 201):
                r.failure(f"complete returned {r.status_code}")
            elif r.json()["sha256"] != expected_sha:
                r.failure("checksum mismatch")
