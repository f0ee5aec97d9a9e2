"""Downloading CIFAR-10 from a local HTTP server: checksums, interruptions, time limits, concurrent
processes, unsafe archives and the progress bar."""
import functools
import hashlib
import http.server
import io
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_dl1.data import (
    CIFAR10_MD5,
    ChecksumError,
    DatasetNotFoundError,
    DownloadError,
    download_cifar10,
    load_cifar10,
)
from tinygrad_dl1.data.download import LOCK_NAME
from tinygrad_dl1.lock import file_lock

from cifar_files import N_PER_BATCH, isolated_env, make_cifar  # noqa: F401 (isolated_env: an autouse fixture)

REPO = Path(__file__).resolve().parents[1]

REPO = Path(__file__).resolve().parents[1]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_headers(self):
        """Answer 200 with the requested file's length; return its bytes."""
        body = Path(self.directory, self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return body


class TruncatingHandler(QuietHandler):
    """Announces the whole archive, sends half of it, then hangs up."""

    def do_GET(self):
        body = self.send_headers()
        self.wfile.write(body[:len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


def dribbling(pieces, pause_s):
    """A handler class that sends the archive in ``pieces`` parts ``pause_s`` apart; ``gets`` counts requests."""

    class Dribbling(QuietHandler):
        gets = []

        def do_GET(self):
            self.gets.append(self.path)
            body = self.send_headers()
            step = -(-len(body) // pieces)
            try:
                for start in range(0, len(body), step):
                    time.sleep(pause_s)
                    self.wfile.write(body[start:start + step])
                    self.wfile.flush()
            except OSError:  # the client gave up
                pass

    return Dribbling


@pytest.fixture
def archive(tmp_path):
    """(folder, md5) of a tar.gz of a fake cifar-10-batches-py, laid out as the official one."""
    src = tmp_path / "src"
    make_cifar(src / "cifar-10-batches-py", seed=1)
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return served, hashlib.md5((served / "cifar-10-python.tar.gz").read_bytes()).hexdigest()


@pytest.fixture
def serve():
    """serve(folder, handler) -> base URL of a local HTTP server; stopped after the test."""
    servers = []

    def start(folder, handler=QuietHandler):
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()  # quick shutdown
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def leftovers(folder):
    """Everything in ``folder`` apart from a finished archive and dataset."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name not in ("cifar-10-python.tar.gz", "cifar-10-batches-py"))


def test_download_into_cache_by_default(archive, serve, tmp_path, capfd):
    folder, md5 = archive
    url = serve(folder)
    ds = load_cifar10(url=url, md5=md5)
    cache = tmp_path / "xdg-cache" / "tinygrad_dl1"
    assert (cache / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert (cache / "cifar-10-python.tar.gz").is_file()
    assert leftovers(cache) == []
    assert ds.train_x.shape == (5 * N_PER_BATCH, 3, 32, 32)
    err = capfd.readouterr().err
    assert "downloading cifar-10-python.tar.gz" in err and "100%" in err
    # the second call reads what is there, without the server
    np.testing.assert_array_equal(load_cifar10(url="http://127.0.0.1:9/gone", md5=md5).train_y,
                                  ds.train_y)


def test_download_into_explicit_folder_only_when_asked(archive, serve, tmp_path):
    folder, md5 = archive
    url = serve(folder)
    target = tmp_path / "mine" / "cifar-10-batches-py"
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(target, url=url, md5=md5)
    ds = load_cifar10(target, download=True, url=url, md5=md5, progress=False)
    assert ds.test_x.shape == (N_PER_BATCH, 3, 32, 32) and target.is_dir()


def test_md5_mismatch_deletes_the_partial_file(archive, serve, tmp_path):
    folder, md5 = archive
    url = serve(folder)
    parent = tmp_path / "dl"
    wrong = "0" * 32
    with pytest.raises(ChecksumError) as err:
        download_cifar10(parent, url=url, md5=wrong, progress=False)
    message = str(err.value)
    assert "cifar-10-python.tar.gz" in message and wrong in message and md5 in message
    assert list(parent.iterdir()) == []
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(parent, download=False)


def test_official_md5_is_the_default(archive, serve, tmp_path):
    folder, md5 = archive
    with pytest.raises(ChecksumError, match=CIFAR10_MD5):
        load_cifar10(tmp_path / "dl", download=True, url=serve(folder), progress=False)


def test_interrupted_download_leaves_nothing(archive, serve, tmp_path):
    folder, md5 = archive
    url = serve(folder, TruncatingHandler)
    parent = tmp_path / "dl"
    with pytest.raises(DownloadError, match="could not download"):
        load_cifar10(parent, download=True, url=url, md5=md5, progress=False)
    assert list(parent.iterdir()) == []
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(parent, download=False)


def test_unreachable_server(tmp_path):
    with pytest.raises(DownloadError, match="127.0.0.1:9"):
        load_cifar10(tmp_path / "dl", download=True, url="http://127.0.0.1:9/x.tar.gz",
                     progress=False)


def test_interrupted_extraction_leaves_nothing_that_looks_complete(archive, serve, tmp_path,
                                                                   monkeypatch):
    folder, md5 = archive
    url = serve(folder)
    parent = tmp_path / "dl"
    real_extractall = tarfile.TarFile.extractall

    def crash_after_two_files(self, path, members, **kwargs):
        real_extractall(self, path, members=members[:3], **kwargs)
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-way

    monkeypatch.setattr(tarfile.TarFile, "extractall", crash_after_two_files)
    with pytest.raises(KeyboardInterrupt):
        load_cifar10(parent, download=True, url=url, md5=md5, progress=False)
    assert leftovers(parent) == [] and not (parent / "cifar-10-batches-py").exists()
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(parent, download=False)

    # the verified archive is reused: no server needed to finish the job
    monkeypatch.setattr(tarfile.TarFile, "extractall", real_extractall)
    ds = load_cifar10(parent, download=True, url="http://127.0.0.1:9/gone", md5=md5)
    assert ds.train_x.shape == (5 * N_PER_BATCH, 3, 32, 32)


def test_leftovers_of_a_killed_run_do_not_look_complete(tmp_path):
    parent = tmp_path / "dl"
    half = parent / ".cifar-10-extract-abc" / "cifar-10-batches-py"
    make_cifar(half)
    (parent / ".cifar-10-python.tar.gz.xyz.part").write_bytes(b"partial")
    with pytest.raises(DatasetNotFoundError):
        load_cifar10(parent, download=False)


def test_existing_archive_with_wrong_md5_is_not_used(archive, tmp_path):
    folder, md5 = archive
    parent = tmp_path / "dl"
    parent.mkdir()
    (parent / "cifar-10-python.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(ChecksumError, match=md5):
        download_cifar10(parent, url="http://127.0.0.1:9/gone", md5=md5)
    assert not (parent / "cifar-10-batches-py").exists()


def test_existing_dataset_is_returned_untouched(tmp_path):
    batches = tmp_path / "dl" / "cifar-10-batches-py"
    make_cifar(batches)
    (batches / "data_batch_1").write_bytes(b"damaged")  # still not overwritten: reading it will say so
    assert download_cifar10(batches.parent, url="http://127.0.0.1:9/gone") == batches
    assert (batches / "data_batch_1").read_bytes() == b"damaged"


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_unsafe_archive_members_are_refused(tmp_path, kind):
    parent = tmp_path / "dl"
    parent.mkdir()
    path = parent / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo({"dotdot": "cifar-10-batches-py/../../escaped",
                                "absolute": str(tmp_path / "escaped"),
                                "symlink": "cifar-10-batches-py/data_batch_1"}[kind])
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(DownloadError, match="unsafe member"):
        download_cifar10(parent, md5=md5)
    assert not (tmp_path / "escaped").exists()
    assert leftovers(parent) == [] and not (parent / "cifar-10-batches-py").exists()


# ---------------------------------------------------------------- progress, time limit, signals, processes

def test_progress_into_a_log_is_one_short_line(archive, serve, tmp_path, capfd):
    folder, md5 = archive
    url = serve(folder, dribbling(pieces=10, pause_s=0.05))  # 0.5 s: a terminal's bar would redraw ~5 times
    download_cifar10(tmp_path / "dl", url=url, md5=md5)     # progress on; stderr is captured, not a terminal
    err = capfd.readouterr().err
    assert err.count("\r") <= 2 and err.count("\n") == 1    # the first state and the last, on one line
    last = err.rstrip("\n").split("\r")[-1]
    assert last.startswith("downloading cifar-10-python.tar.gz: 100%") and "kB" in last


def test_time_limit_stops_a_slow_server(archive, serve, tmp_path):
    folder, md5 = archive
    url = serve(folder, dribbling(pieces=1000, pause_s=0.05))  # 50 s in all: a byte now and then
    parent = tmp_path / "dl"
    start = time.monotonic()
    with pytest.raises(DownloadError, match="time limit of 0.5 s") as err:
        download_cifar10(parent, url=url, md5=md5, progress=False, time_limit=0.5)
    assert time.monotonic() - start < 5
    assert str(parent / "cifar-10-python.tar.gz") in str(err.value)
    assert list(parent.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler of the download is gone


DOWNLOAD = ("import sys; from tinygrad_dl1.data import load_cifar10; "
            "print(load_cifar10(sys.argv[1], download=True, url=sys.argv[2], md5=sys.argv[3], "
            "progress=False).train_x.shape)")


def start_download(parent, url, md5):
    """A separate Python process that loads CIFAR-10 from ``parent``, downloading it there from ``url``."""
    return subprocess.Popen([sys.executable, "-c", DOWNLOAD, str(parent), url, md5], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_during_a_download_leaves_nothing(archive, serve, tmp_path):
    folder, md5 = archive
    url = serve(folder, dribbling(pieces=100, pause_s=0.05))  # 5 s: still downloading when stopped
    parent = tmp_path / "dl"
    process = start_download(parent, url, md5)
    deadline = time.monotonic() + 20
    while not list(parent.glob("*.part")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(parent.glob("*.part")), process.communicate()
    process.terminate()
    out, err = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGTERM and "Traceback" not in err
    assert list(parent.iterdir()) == []


def test_three_processes_downloading_into_one_folder(archive, serve, tmp_path):
    folder, md5 = archive
    handler = dribbling(pieces=20, pause_s=0.05)  # 1 s, so that the three overlap
    url = serve(folder, handler)
    parent = tmp_path / "dl"
    processes = [start_download(parent, url, md5) for _ in range(3)]
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert out.strip() == str((5 * N_PER_BATCH, 3, 32, 32))
    assert len(handler.gets) == 1  # one downloaded; the others waited for it and found the data complete
    assert leftovers(parent) == [] and (parent / "cifar-10-batches-py").is_dir()


def test_a_lock_file_left_by_a_killed_process_blocks_nobody(archive, serve, tmp_path):
    folder, md5 = archive
    parent = tmp_path / "dl"
    parent.mkdir()
    (parent / LOCK_NAME).write_text("12345\n")  # no process holds it
    download_cifar10(parent, url=serve(folder), md5=md5, progress=False)
    assert leftovers(parent) == [] and (parent / "cifar-10-batches-py").is_dir()


def test_file_lock_waits_for_its_holder_and_names_it(tmp_path):
    path = tmp_path / "x.lock"
    events = []

    def second():
        with file_lock(path, on_wait=lambda holder: events.append(f"waits for {holder}")):
            events.append("second holds")

    with file_lock(path):
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 10
        while not events and time.monotonic() < deadline:
            time.sleep(0.01)
        events.append("first releases")
    thread.join(10)
    assert events == [f"waits for {os.getpid()}", "first releases", "second holds"]
    assert not path.exists()
