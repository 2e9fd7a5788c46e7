#!/usr/bin/env python3
"""Makes and removes the benchmark's Docker objects through the engine's API.

The docker CLI costs ~50-100 ms per call on a loaded 2-core machine, which would make 10,000
objects take a quarter of an hour to create and as long to remove. This talks HTTP on the
engine's socket over one kept-alive connection instead, and creates N *distinct* images with a
single `docker load`: an archive in the `docker save` format whose N image configs share one tiny
layer (one small text file) and differ by a label and their `created` time, each
tagged `bench/imgN:latest`.

Usage:
  engine.py images FIRST LAST     load images bench/imgFIRST..bench/imgLAST (1-based, inclusive)
  engine.py containers FIRST LAST create (not start) containers bench-cFIRST..bench-cLAST
  engine.py cleanup               remove every container named bench-c* and image bench/img*
  engine.py count                 print how many bench images and containers exist
"""

import hashlib
import http.client
import io
import json
import os
import socket
import sys
import tarfile
import time
import urllib.parse

IMAGE_REPOSITORY = "bench/img"
CONTAINER_PREFIX = "bench-c"
# Images are "created" in 2020, one second apart, so their times differ and are all older than
# the make outputs the benchmark touches now (LastTagTime is the load time anyway).
CREATED_BASE = 1577836800


def socket_path():
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        sys.exit(f"engine.py: only unix:// sockets are supported, not {host}")
    return host[len("unix://"):]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(600)
        self.sock.connect(self.unix_path)


class Engine:
    def __init__(self):
        self.connection = UnixConnection(socket_path())

    def request(self, method, path, body=None, headers=None, ok=(200, 201, 204)):
        self.connection.request(method, path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        payload = response.read()
        if response.status not in ok:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        return response.status, payload

    def json(self, method, path, **kwargs):
        _, payload = self.request(method, path, **kwargs)
        return json.loads(payload) if payload else None


def layer_tar():
    """One small regular file: enough for a valid rootfs layer, shared by every image."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        content = b"vfs benchmark layer\n"
        info = tarfile.TarInfo("bench.txt")
        info.size = len(content)
        info.mtime = CREATED_BASE
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def add_bytes(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = CREATED_BASE
    archive.addfile(info, io.BytesIO(data))


def save_archive(first, last):
    layer = layer_tar()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    manifest = []
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        add_bytes(archive, "layer/layer.tar", layer)
        for number in range(first, last + 1):
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(CREATED_BASE + number))
            config = {
                "architecture": "amd64",
                "os": "linux",
                "created": created,
                "config": {"Labels": {"vfs.bench": str(number)}, "Cmd": ["/bench.txt"]},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                "history": [{"created": created, "created_by": "vfs scripts/bench"}],
            }
            data = json.dumps(config, sort_keys=True).encode()
            name = hashlib.sha256(data).hexdigest() + ".json"
            add_bytes(archive, name, data)
            manifest.append(
                {
                    "Config": name,
                    "RepoTags": [f"{IMAGE_REPOSITORY}{number}:latest"],
                    "Layers": ["layer/layer.tar"],
                }
            )
        add_bytes(archive, "manifest.json", json.dumps(manifest).encode())
    return buffer.getvalue()


def load_images(engine, first, last, chunk=2000):
    for start in range(first, last + 1, chunk):
        end = min(last, start + chunk - 1)
        _, payload = engine.request(
            "POST",
            "/images/load?quiet=1",
            body=save_archive(start, end),
            headers={"Content-Type": "application/x-tar"},
        )
        for line in payload.splitlines():
            if b'"error"' in line:
                raise RuntimeError(f"docker load: {line[:300]!r}")


def create_containers(engine, first, last):
    for number in range(first, last + 1):
        # Spread the containers over the loaded images; they are never started.
        image = f"{IMAGE_REPOSITORY}{(number - 1) % 100 + 1}:latest"
        name = urllib.parse.quote(f"{CONTAINER_PREFIX}{number}")
        engine.request(
            "POST",
            f"/containers/create?name={name}",
            body=json.dumps({"Image": image, "Cmd": ["/bench.txt"]}),
            headers={"Content-Type": "application/json"},
        )


def bench_containers(engine):
    filters = urllib.parse.quote(json.dumps({"name": [f"^/{CONTAINER_PREFIX}[0-9]+$"]}))
    return engine.json("GET", f"/containers/json?all=1&filters={filters}")


def bench_images(engine):
    images = engine.json("GET", "/images/json?all=1")
    return [
        image
        for image in images
        if any(tag.startswith(IMAGE_REPOSITORY) for tag in image.get("RepoTags") or [])
    ]


def cleanup(engine):
    for container in bench_containers(engine):
        engine.request("DELETE", f"/containers/{container['Id']}?force=1&v=1", ok=(200, 204, 404))
    for image in bench_images(engine):
        engine.request("DELETE", f"/images/{image['Id']}?force=1", ok=(200, 404, 409))


def main(arguments):
    if not arguments:
        sys.exit(__doc__)
    engine = Engine()
    command = arguments[0]
    if command == "images":
        load_images(engine, int(arguments[1]), int(arguments[2]))
    elif command == "containers":
        create_containers(engine, int(arguments[1]), int(arguments[2]))
    elif command == "cleanup":
        cleanup(engine)
    elif command == "count":
        print(len(bench_images(engine)), len(bench_containers(engine)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
