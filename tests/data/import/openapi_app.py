"""A small FastAPI service for `blast import`'s OpenAPI test: the document is the one FastAPI
serves at /openapi.json; /counts (left out of the document) says what each operation received.
Run: python openapi_app.py PORT"""
import sys
import uuid
from collections import Counter
from enum import Enum
from typing import List, Optional

import uvicorn
from fastapi import FastAPI, Header
from pydantic import BaseModel, Field

app = FastAPI(title="Chat4All API")
counts = Counter()


class Priority(str, Enum):
    low = "low"
    high = "high"


class Message(BaseModel):
    conversation_id: uuid.UUID
    content: str = Field(min_length=1, max_length=500)
    priority: Priority = Priority.low
    attachments: List[str] = []
    reply_to: Optional[int] = None


class Login(BaseModel):
    username: str
    password: str


@app.post("/auth/login")
def login(body: Login):
    counts["POST /auth/login"] += 1
    return {"access_token": "t-" + body.username, "token_type": "bearer"}


@app.post("/v1/messages", status_code=201)
def post_message(msg: Message):
    counts["POST /v1/messages"] += 1
    return {"id": str(uuid.uuid4()), "conversation_id": str(msg.conversation_id)}


@app.get("/v1/conversations")
def conversations(limit: int, offset: int = 0):
    counts["GET /v1/conversations"] += 1
    return {"items": [], "limit": limit}


@app.get("/v1/conversations/{conversation_id}/messages")
def messages(conversation_id: uuid.UUID, x_client: str = Header(...)):
    counts["GET /v1/conversations/{conversation_id}/messages"] += 1
    return {"conversation_id": str(conversation_id), "client": x_client}


@app.delete("/v1/messages/{message_id}", status_code=204)
def delete_message(message_id: int):
    counts["DELETE /v1/messages/{message_id}"] += 1


@app.get("/counts", include_in_schema=False)
def get_counts():
    return dict(counts)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
