"""The repository view survives hostile trees and honours ignore rules."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings


def write(root: Path, rel: str, data: str | bytes = "x\n") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data)
    return p


def paths(view: RepoView) -> list[str]:
    return [f.path for f in view.files]


def notes(view: RepoView) -> dict[str | None, str]:
    return {n.path: n.message for n in view.notes}


def test_skips_git_vendored_and_gitignored(tmp_path):
    write(tmp_path, "train.py")
    write(tmp_path, ".git/config", "[core]\n")
    write(tmp_path, ".venv/lib/x.py")
    write(tmp_path, "node_modules/a.js")
    write(tmp_path, "pkg/__pycache__/a.pyc", b"\x00")
    write(tmp_path, ".gitignore", "*.log\n/build/\n")
    write(tmp_path, "build/out.txt")
    write(tmp_path, "logs/run.log")
    write(tmp_path, "sub/.gitignore", "secret.txt\n")
    write(tmp_path, "sub/secret.txt")
    write(tmp_path, "sub/keep.txt")
    write(tmp_path, "other/secret.txt")
    view = RepoView(tmp_path)
    assert paths(view) == [".gitignore", "other/secret.txt", "sub/.gitignore", "sub/keep.txt", "train.py"]


def test_configured_excludes_and_include_vendored(tmp_path):
    write(tmp_path, "data/big.csv")
    write(tmp_path, "venv/x.py")
    write(tmp_path, "a.py")
    view = RepoView(tmp_path, Settings(exclude=("data/",), include_vendored=True))
    assert paths(view) == ["a.py", "venv/x.py"]


def test_symlinks_never_leave_the_root_and_loops_survive(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0\n")
    root = tmp_path / "repo"
    write(root, "real.txt", "hello\n")
    os.symlink(outside / "passwd", root / "leak.txt")
    os.symlink(outside, root / "leakdir")
    os.symlink(root / "real.txt", root / "alias.txt")
    os.symlink(root / "loop_a", root / "loop_b")
    os.symlink(root / "loop_b", root / "loop_a")
    os.symlink(root, root / "self")
    view = RepoView(root)
    assert paths(view) == ["real.txt"]  # the link to it is not a second copy
    assert "scanned under its own name (real.txt)" in notes(view)["alias.txt"]
    n = notes(view)
    assert "leads out of the scanned root" in n["leak.txt"]
    assert "leads out of the scanned root" in n["leakdir"]
    assert "looping" in n["loop_a"]
    assert "folder, not followed" in n["self"]


def test_fifo_unreadable_invalid_names_binary_and_huge(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    write(tmp_path, "requirements.txt", b"\x00\x01\x02binary")
    write(tmp_path, "big.yaml", "a: 1\n" * 300_000)
    write(tmp_path, "bad.txt", b"caf\xe9 \xff\n")
    bad_name = os.fsencode(tmp_path) + b"/model\xff.bin"
    with open(bad_name, "wb") as fh:
        fh.write(b"data")
    locked = write(tmp_path, "locked.txt", "secret")
    locked.chmod(0)
    view = RepoView(tmp_path, Settings(max_text_bytes=1024 * 1024))
    assert "pipe" not in paths(view)
    assert "special file" in notes(view)["pipe"]
    assert view.read_text("requirements.txt") is None
    assert "binary content" in notes(view)["requirements.txt"]
    assert view.read_text("big.yaml") is None
    assert "text cap" in notes(view)["big.yaml"]
    assert view.read_text("bad.txt") == "caf\ufffd \ufffd\n"
    assert "model\\xff.bin" in paths(view)
    assert view.read_bytes("model\\xff.bin", 10) == b"data"
    if os.geteuid() != 0:  # root reads anything
        assert view.read_text("locked.txt") is None
        assert "not readable" in notes(view)["locked.txt"]


def test_python_ast_and_syntax_error_note(tmp_path):
    write(tmp_path, "ok.py", "import pickle\npickle.load(open('m.pkl','rb'))\n")
    write(tmp_path, "broken.py", "def f(:\n")
    view = RepoView(tmp_path)
    tree = view.python_ast("ok.py")
    assert tree is not None and len(tree.body) == 2
    assert view.python_ast("broken.py") is None
    broken = next(n for n in view.notes if n.path == "broken.py")
    assert broken.line == 1 and "syntax error" in broken.message


def test_single_file_target(tmp_path):
    write(tmp_path, "a.pkl", b"\x80\x04N.")
    write(tmp_path, "b.txt")
    view = RepoView(tmp_path / "a.pkl")
    assert paths(view) == ["a.pkl"]
    assert view.read_bytes("a.pkl", 2) == b"\x80\x04"


def test_missing_target(tmp_path):
    with pytest.raises(FileNotFoundError):
        RepoView(tmp_path / "nope")


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def test_git_metadata(tmp_path):
    write(tmp_path, "a.py")
    write(tmp_path, "sub/b.py")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "init")
    head = git(tmp_path, "rev-parse", "HEAD").strip()
    view = RepoView(tmp_path)
    assert view.git is not None
    assert (view.git.commit, view.git.ref, view.git.dirty) == (head, "main", False)
    assert view.git.tracked == frozenset({"a.py", "sub/b.py"})
    write(tmp_path, "a.py", "changed\n")
    assert RepoView(tmp_path).git.dirty is True  # type: ignore[union-attr]
    sub = RepoView(tmp_path / "sub")
    assert sub.git is not None and sub.git.tracked == frozenset({"b.py"}) and sub.git.prefix == "sub"


def test_git_config_with_commands_is_never_triggered(tmp_path):
    write(tmp_path, "a.py")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "init")
    canary = tmp_path.parent / "fsmonitor-ran"
    with open(tmp_path / ".git" / "config", "a") as fh:
        fh.write(f"[core]\n\tfsmonitor = touch {canary}\n")
    view = RepoView(tmp_path)
    assert not canary.exists()
    assert view.git is not None and view.git.commit is not None and view.git.dirty is False


def test_a_file_that_changes_after_the_walk_is_read_as_it_is_now(tmp_path):
    grows = write(tmp_path, "grows.py", "a = 1\n")
    shrinks = write(tmp_path, "shrinks.py", "b = 2\n" * 10)
    past_cap = write(tmp_path, "past_cap.py", "c = 3\n")
    view = RepoView(tmp_path, Settings(max_text_bytes=4096))
    grows.write_text("a = 1\n" * 500)  # 3,000 bytes: still under the cap, read whole
    shrinks.write_text("b = 2\n")
    past_cap.write_text("c = 3\n" * 1000)  # 6,000 bytes: over the cap now
    assert view.read_text("grows.py") == "a = 1\n" * 500
    assert view.read_text("shrinks.py") == "b = 2\n"
    assert view.read_bytes("grows.py", 10) == b"a = 1\na = "
    assert view.read_text("past_cap.py") is None
    assert "text cap" in notes(view)["past_cap.py"]


def test_a_file_swapped_for_a_fifo_after_the_walk_does_not_hang_the_read(tmp_path):
    import signal

    target = write(tmp_path, "data.json", "{}\n")
    view = RepoView(tmp_path)
    target.unlink()
    os.mkfifo(target)  # nobody ever writes to it: a blocking open would wait forever
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reading a FIFO hung"))
    signal.alarm(5)
    try:
        assert not view.read_text("data.json")
        assert view.read_bytes("data.json", 100) in (b"", None)
    finally:
        signal.alarm(0)
