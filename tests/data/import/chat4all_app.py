"""A Chat4All-like service written the usual FastAPI way, for the side-by-side test of
`blast import` (tests/it/import_side_by_side.rs): real Locust runs a Locust file against it, blast
runs the imported profile against it, and the test compares what the service itself counted.

  POST /auth/login            {"username","password"} -> {"access_token"}; 401 on a bad password
  POST /v1/messages           bearer; JSON message -> 201 {"message_id"}
  GET  /v1/conversations      bearer; ?limit=N -> a page of conversations
  POST /v1/files/initiate     bearer; {"filename","size","chunk_size"} -> 201 {"upload_id"}
  POST /v1/files/{id}/chunks  bearer; multipart chunk_index + chunk (a file part)
  POST /v1/files/{id}/complete bearer; -> 201 {"sha256"} of the chunks in index order, 409 when
                              chunks are missing or their sizes do not add up to the declared size
  GET  /stats, POST /stats/reset   what the service counted (left out of the OpenAPI document)

Run: python chat4all_app.py PORT"""
import hashlib
import secrets
import sys
import threading
from collections import Counter
from typing import Dict

import uvicorn
from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, UploadFile
from pydantic import BaseModel

app = FastAPI(title="Chat4All")
lock = threading.Lock()
stats = Counter()
logins = Counter()
tokens: Dict[str, str] = {}
uploads: Dict[str, dict] = {}


class Login(BaseModel):
    username: str
    password: str


class Message(BaseModel):
    conversation_id: str
    content: str
    client_ts: int


class Initiate(BaseModel):
    filename: str
    size: int
    chunk_size: int


def user(authorization: str = Header(default="")) -> str:
    token = authorization.removeprefix("Bearer ")
    with lock:
        name = tokens.get(token)
        if name is None:
            stats["unauthorized"] += 1
    if name is None:
        raise HTTPException(status_code=401, detail="bad or missing token")
    return name


@app.post("/auth/login")
def login(body: Login):
    # users.csv's rule (scripts/make-users.sh): userN's password is pwN; "uploader" has "secret"
    expected = "secret" if body.username == "uploader" else body.username.replace("user", "pw", 1)
    if body.password != expected:
        with lock:
            stats["bad_logins"] += 1
        raise HTTPException(status_code=401, detail="bad credentials")
    token = secrets.token_hex(16)
    with lock:
        tokens[token] = body.username
        logins[body.username] += 1
    return {"access_token": token, "token_type": "bearer"}


@app.post("/v1/messages", status_code=201)
def post_message(body: Message, who: str = Depends(user)):
    with lock:
        stats["messages"] += 1
        if not body.conversation_id.startswith("conv-"):
            stats["messages_bad_conversation"] += 1
        n = stats["messages"]
    return {"message_id": n, "conversation_id": body.conversation_id}


@app.get("/v1/conversations")
def conversations(limit: int = 20, who: str = Depends(user)):
    with lock:
        stats["conversation_reads"] += 1
        if limit != 20:
            stats["conversation_reads_bad_limit"] += 1
    return {"items": [{"id": f"conv-{i}"} for i in range(min(limit, 20))], "user": who}


@app.post("/v1/files/initiate", status_code=201)
def initiate(body: Initiate, who: str = Depends(user)):
    upload_id = secrets.token_hex(8)
    with lock:
        uploads[upload_id] = {"size": body.size, "chunk_size": body.chunk_size, "chunks": {}}
        stats["uploads_initiated"] += 1
    return {"upload_id": upload_id}


@app.post("/v1/files/{upload_id}/chunks")
async def chunk(upload_id: str, chunk_index: int = Form(...), chunk: UploadFile = File(...), who: str = Depends(user)):
    data = await chunk.read()
    with lock:
        up = uploads.get(upload_id)
        if up is None:
            raise HTTPException(status_code=404, detail="no such upload")
        up["chunks"][chunk_index] = data
        stats["chunks"] += 1
        stats["chunk_bytes"] += len(data)
    return {"upload_id": upload_id, "chunk_index": chunk_index, "received": len(data)}


@app.post("/v1/files/{upload_id}/complete", status_code=201)
def complete(upload_id: str, who: str = Depends(user)):
    with lock:
        up = uploads.pop(upload_id, None)
    if up is None:
        raise HTTPException(status_code=404, detail="no such upload")
    expected = -(-up["size"] // up["chunk_size"])
    chunks = up["chunks"]
    size = sum(len(c) for c in chunks.values())
    if sorted(chunks) != list(range(expected)) or size != up["size"]:
        with lock:
            stats["uploads_incomplete"] += 1
        raise HTTPException(status_code=409, detail=f"{len(chunks)} of {expected} chunks, {size} bytes")
    digest = hashlib.sha256()
    for i in range(expected):
        digest.update(chunks[i])
    with lock:
        stats["uploads_completed"] += 1
        stats["upload_bytes"] += size
    return {"upload_id": upload_id, "sha256": digest.hexdigest(), "size": size}


@app.get("/stats", include_in_schema=False)
def get_stats():
    with lock:
        return {**stats, "logins": dict(logins), "logins_total": sum(logins.values())}


@app.post("/stats/reset", include_in_schema=False)
def reset():
    with lock:
        stats.clear()
        logins.clear()
        tokens.clear()
        uploads.clear()
    return {}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
