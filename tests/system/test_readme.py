"""The README's API session runs as written: its sh blocks, pasted in order into one bash against a real server.

README.md marks the session with HTML comments: every ```sh block after a `<!-- README session` line and before the
next `<!-- end of README session` line belongs to it. The blocks run as they are, in one `bash -euo pipefail`,
with only `ARMADA_URL` set to this module's server (the README's documented way to point them at another one),
default rate limits on, and a photo.jpg in the working directory. Each block's effect is then checked through the
API, and each block that ends with comment lines showing its output must print exactly that.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from PIL import Image

from tests.helpers.servers import ROOT, Server, serve_fresh

START = "<!-- README session"
END = "<!-- end of README session"
MARK = "::README block done::"
ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)


def session_blocks(markdown: str) -> list[str]:
    """The sh/bash blocks of the marked session, in order."""
    blocks: list[str] = []
    inside = False
    block: list[str] | None = None
    for line in markdown.splitlines():
        if block is not None:
            if line.strip() == "```":
                blocks.append("\n".join(block))
                block = None
            else:
                block.append(line)
        elif line.startswith(END):
            inside = False
        elif line.startswith(START):
            inside = True
        elif inside and line.strip() in ("```sh", "```bash"):
            block = []
    return blocks


def shown_output(block: str) -> list[str]:
    """The comment lines that end a block, which show what it prints ("# Alice: Hello!" -> "Alice: Hello!")."""
    shown: list[str] = []
    for line in reversed(block.splitlines()):
        if not line.startswith("# "):
            break
        shown.insert(0, line[2:])
    return shown


@dataclass
class Session:
    """What running the README's session did: each block's output, and the shell variables it ended with."""

    blocks: list[str]
    outputs: list[list[str]]
    variables: dict[str, str]
    url: str

    def get(self, path: str, token_variable: str) -> Any:
        """GET an API path as the user whose token the session keeps in `token_variable`."""
        headers = {"Authorization": f"Bearer {self.variables[token_variable]}"}
        response = requests.get(f"{self.url}{path}", headers=headers, timeout=10)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    def messages(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(f"/api/chat/rooms/{self.variables['ROOM_ID']}/messages", "ALICE")[
            "items"
        ]
        return items


def photo_jpg() -> bytes:
    picture = Image.new("RGB", (640, 480), (70, 130, 180))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("readme")
    # Default rate limits: the session must fit what a newcomer's `make run` allows.
    env = {"RATE_LIMIT_ENABLED": "true", "STORAGE_BACKEND": "local", "MEDIA_ROOT": str(tmp / "media")}
    with serve_fresh(tmp, prefix="armada_readme", **env) as running:
        yield running


@pytest.fixture(scope="module")
def session(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Session:
    blocks = session_blocks((ROOT / "README.md").read_text())
    assert blocks, f"README.md has no sh blocks between {START!r} and {END!r}"
    workdir = tmp_path_factory.mktemp("readme_shell")
    (workdir / "photo.jpg").write_bytes(photo_jpg())
    names = sorted(set(ASSIGNMENT.findall("\n".join(blocks))))
    dump = workdir / "variables"
    script = "".join(f"{block}\necho '{MARK}'\n" for block in blocks)
    script += "".join(f"printf '%s\\0%s\\0' {name} \"${name}\" >> {dump}\n" for name in names)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir), "ARMADA_URL": server.url}
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
    )
    outputs = [chunk.strip("\n").splitlines() for chunk in run.stdout.split(f"{MARK}\n")]
    done = len(outputs) - 1
    failed = blocks[min(done, len(blocks) - 1)]
    assert run.returncode == 0, f"block {done + 1} failed:\n{failed}\nstdout: {run.stdout[-2000:]}\n{run.stderr}"
    assert done == len(blocks) and outputs[-1] == []
    fields = dump.read_text().split("\0")[:-1]
    variables = dict(zip(fields[::2], fields[1::2], strict=True))
    return Session(blocks, outputs[:-1], variables, server.url)


def block_with(session: Session, text: str) -> int:
    """The index of the one session block containing `text`."""
    found = [i for i, block in enumerate(session.blocks) if text in block]
    assert len(found) == 1, (text, found)
    return found[0]


def test_the_session_uses_no_placeholders(session: Session) -> None:
    # What made the old examples fail: ids to fill in by hand.
    assert not re.search(r"<[a-z-]+>", "\n".join(session.blocks))


def test_every_block_prints_what_its_closing_comments_show(session: Session) -> None:
    shown = {i: shown_output(block) for i, block in enumerate(session.blocks) if shown_output(block)}
    assert shown, "no block shows its output"
    assert {i: session.outputs[i] for i in shown} == shown


def test_alice_and_bob_registered_and_kept_their_tokens(session: Session) -> None:
    alice, bob = session.get("/api/users/me", "ALICE"), session.get("/api/users/me", "BOB")
    assert (alice["display_name"], bob["display_name"]) == ("Alice", "Bob")
    assert alice["id"] != bob["id"]


def test_alice_found_bob_and_made_a_group_with_him(session: Session) -> None:
    alice, bob = session.get("/api/users/me", "ALICE"), session.get("/api/users/me", "BOB")
    assert session.variables["BOB_ID"] == bob["id"]
    room = session.get(f"/api/chat/rooms/{session.variables['ROOM_ID']}", "BOB")
    assert room["room_type"] == "group" and room["created_by"] == alice["id"]
    assert {member["user_id"] for member in room["members"]} == {alice["id"], bob["id"]}


def test_alice_sent_the_first_message(session: Session) -> None:
    alice = session.get("/api/users/me", "ALICE")
    first = session.messages()[0]
    assert first["id"] == session.variables["MESSAGE_ID"] and first["sender_id"] == alice["id"]
    assert first["content"] and first["client_id"]


def test_bob_saw_it_unread_read_it_and_replied(session: Session) -> None:
    bob = session.get("/api/users/me", "BOB")
    room = session.get(f"/api/chat/rooms/{session.variables['ROOM_ID']}", "BOB")
    first, reply = session.messages()[:2]
    output = session.outputs[block_with(session, "/read")]
    assert output == [f"{room['name']}: 1 unread", "0 unread", f"sent at {reply['created_at']}"]
    assert reply["sender_id"] == bob["id"] and reply["reply_to_id"] == first["id"]
    bob_member = next(member for member in room["members"] if member["user_id"] == bob["id"])
    assert bob_member["last_read_at"] is not None


def test_alice_read_the_conversation_with_names(session: Session) -> None:
    room = session.get(f"/api/chat/rooms/{session.variables['ROOM_ID']}", "ALICE")
    names = {member["user_id"]: member["display_name"] for member in room["members"]}
    texts = [message for message in session.messages() if message["message_type"] == "text"]
    output = session.outputs[block_with(session, "--argjson names")]
    assert output == [f"{names[message['sender_id']]}: {message['content']}" for message in texts]
    assert len(output) == 2


def test_bob_reacted_alice_replied_in_the_thread_mentioning_him_and_pinned_it(session: Session) -> None:
    alice, bob = session.get("/api/users/me", "ALICE"), session.get("/api/users/me", "BOB")
    room_id, hello_id = session.variables["ROOM_ID"], session.variables["MESSAGE_ID"]
    hello = session.messages()[0]
    assert hello["id"] == hello_id
    assert [(r["emoji"], r["count"], r["me"]) for r in hello["reactions"]] == [("\N{THUMBS UP SIGN}", 1, False)]
    assert hello["pinned_by"] == alice["id"] and hello["thread"]["participant_ids"] == [alice["id"]]
    [reply] = session.get(f"/api/chat/rooms/{room_id}/messages?thread_root_id={hello_id}", "BOB")["items"]
    assert reply["sender_id"] == alice["id"] and reply["mentions"] == [bob["id"]]
    assert session.get(f"/api/chat/rooms/{room_id}", "BOB")["mention_count"] == 1
    assert reply["id"] not in {message["id"] for message in session.messages()}  # replies stay in their thread


def test_alice_uploaded_a_photo_and_sent_it_with_a_caption(session: Session) -> None:
    image = session.messages()[-1]
    assert image["message_type"] == "image" and image["content"] and image["media_filename"] == "photo.jpg"
    output = session.outputs[block_with(session, "photo.jpg")]
    assert output[-2] == "image" and output[-1].startswith(f"{session.url}/api/media/")
    thumbnail = requests.get(output[-1], timeout=10)  # a signed link: no token needed
    assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/webp"
    shown = "\n".join(output[:-2])
    assert '"filename": "photo.jpg"' in shown and '"message_type": "image"' in shown


def test_session_blocks_are_found_only_between_the_markers() -> None:
    markdown = "\n".join(
        [
            "```sh\noutside\n```",
            f"{START} -->",
            "```sh\none\n```",
            "```python\nnot shell\n```",
            f"{END} -->",
            "```sh\nafter\n```",
            f"{START} (continued) -->",
            "```bash\ntwo\n```",
            f"{END} -->",
        ]
    )
    assert session_blocks(markdown) == ["one", "two"]


def test_shown_output_is_the_closing_comments_only() -> None:
    assert shown_output("# say hi\necho hi\n# hi") == ["hi"]
    assert shown_output("echo hi") == []
