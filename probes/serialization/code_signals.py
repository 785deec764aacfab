"""How the repository's Python code loads models, read with ``ast`` (never imported).

Raw facts only: each :class:`CodeSignal` names the call, where it is, and what it says (``unsafe``, ``mitigated``,
``safe``, ``pinned``, ``unpinned``, ``verified``). The probe turns them into evidence for MODEL-03 (pickle-based
loading: ``pickle.load``, ``joblib.load``, ``torch.load`` without ``weights_only=True`` -- TorchFix TOR102 --,
``numpy.load(allow_pickle=True)``, ``pandas.read_pickle``, ``dill``/``cloudpickle``, ``yaml.load`` without a safe
loader, Keras ``load_model(safe_mode=False)``, ``trust_remote_code=True``), MODEL-07 (hub downloads pinned to a
40-hex commit or not) and MODEL-01 (digest checks before load).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlposture.scanner.sources.python import PyModule, PythonVisitor

PICKLE_LOADERS = {
    "pickle.load", "pickle.loads", "pickle.Unpickler", "_pickle.load", "_pickle.loads", "cPickle.load",
    "cPickle.loads", "dill.load", "dill.loads", "cloudpickle.load", "cloudpickle.loads", "joblib.load",
    "sklearn.externals.joblib.load", "pandas.read_pickle", "shelve.open", "torch.serialization.load",
}
HUB_CALLS = {"hf_hub_download", "snapshot_download"}
HEX40 = re.compile(r"^[0-9a-f]{40}$")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


@dataclass(frozen=True)
class CodeSignal:
    """One call that speaks for a control."""

    control: str
    kind: str  # unsafe | mitigated | safe | pinned | unpinned | weak-pin | verified | torch-default
    rule: str
    call: str
    line: int
    message: str


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _const(node: ast.expr | None) -> object:
    return node.value if isinstance(node, ast.Constant) else _MISSING if node is None else _DYNAMIC


_MISSING = object()
_DYNAMIC = object()


def _canonical(dotted: str) -> str:
    for short, full in (("np.", "numpy."), ("pd.", "pandas."), ("tf.", "tensorflow.")):
        if dotted.startswith(short):
            return full + dotted[len(short) :]
    return dotted.replace("joblib.numpy_pickle.load", "joblib.load")


def _literal_kwargs(tree: ast.Module) -> dict[int, dict[str, ast.Dict]]:
    """For each call (by ``id``), the dict literals its scope binds to a name once and never changes afterwards.

    ``torch.load(path, **kwargs)`` with ``kwargs = {"weights_only": True}`` in the same function says
    ``weights_only=True`` as plainly as the keyword itself; a dict that is reassigned, updated or written to is not
    a literal any more and stays unknown.
    """
    out: dict[int, dict[str, ast.Dict]] = {}
    module_literals: dict[str, ast.Dict] = {}  # filled by the first scope, the module; functions see them too
    scopes: list[ast.AST] = [tree, *(n for n in ast.walk(tree)
                                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))]
    for scope in scopes:
        body = list(_own_nodes(scope))
        bound: dict[str, list[ast.expr]] = {}
        changed: set[str] = set()
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = scope.args
            for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, *(x for x in (a.vararg, a.kwarg) if x)):
                bound.setdefault(arg.arg, []).append(ast.Name(arg.arg))  # a parameter: whatever the caller passes
        for node in body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        bound.setdefault(target.id, []).append(node.value)
                    elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                        changed.add(target.value.id)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Name):
                bound.setdefault(node.target.id, []).append(node.value or node.target)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and isinstance(node.func.value, ast.Name)
                  and node.func.attr in ("update", "pop", "setdefault", "clear", "__setitem__")):
                changed.add(node.func.value.id)
        literals = {name: value for name, value in module_literals.items() if name not in bound}
        for name, values in bound.items():
            if len(values) == 1 and isinstance(values[0], ast.Dict) and name not in changed:
                literals[name] = values[0]
        if scope is tree:
            module_literals = dict(literals)
        if not literals:
            continue
        for node in body:
            if isinstance(node, ast.Call):
                out[id(node)] = literals
    return out


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a scope, not descending into nested functions or classes (their names are their own)."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def _splat_kw(call: ast.Call, name: str, literals: dict[str, ast.Dict]) -> ast.expr | None:
    """A keyword given through ``**{...}`` or ``**name`` where ``name`` is a dict literal of the scope."""
    for kw in call.keywords:
        if kw.arg is not None:
            continue
        value = kw.value
        if isinstance(value, ast.Name):
            found = literals.get(value.id)
            if found is None:
                continue
            value = found
        if isinstance(value, ast.Dict):
            for key, item in zip(value.keys, value.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == name:
                    return item
    return None


#: A module without one of these words has no call this reader recognises (every loader, hub call and digest check
#: named above contains one, and so does the import that brings it in under another name).
NEEDLES = ("load", "pickle", "shelve", "trust_remote_code", "safetensors", "pretrained", "pipeline", "download",
           "digest", "safe_open", "save_file", "retrieve", "get_file")


#: The last part of every call name :func:`_call_signals` can say something about; any other call is skipped
#: before its name is resolved, unless it passes ``trust_remote_code``.
CALL_NAMES = frozenset({
    *(name.rsplit(".", 1)[-1] for name in PICKLE_LOADERS), *HUB_CALLS, "load", "load_all", "unsafe_load",
    "unsafe_load_all", "load_model", "load_file", "save_file", "save_model", "safe_open", "from_pretrained",
    "pipeline", "load_state_dict_from_url", "download_url_to_file", "retrieve", "get_file", "save_pretrained",
})


def _may_signal(node: ast.Call, mod: PyModule) -> bool:
    func = node.func
    if isinstance(func, ast.Attribute):
        last = func.attr
    elif isinstance(func, ast.Name):
        last = mod.aliases.get(func.id, func.id).rsplit(".", 1)[-1]
    else:
        return False
    return last in CALL_NAMES or any(k.arg == "trust_remote_code" for k in node.keywords)


def scan_module(mod: PyModule) -> list[CodeSignal] | None:
    """Every model-loading signal of one module, in source order (``None`` when there is none)."""
    out: list[CodeSignal] = []
    literal_kwargs: dict[int, dict[str, ast.Dict]] | None = None
    digests = "digest" in mod.code
    for node in mod.nodes(ast.Compare, ast.Call):
        if isinstance(node, ast.Compare):
            if digests:
                out.extend(_digest_compare(node, mod))
            continue
        if not _may_signal(node, mod):
            continue
        dotted = mod.qualname(node.func)
        if dotted is None:
            continue
        full = _canonical(dotted)
        last = full.rsplit(".", 1)[-1]
        if full == "torch.load" and literal_kwargs is None and any(k.arg is None for k in node.keywords):
            literal_kwargs = _literal_kwargs(mod.tree)
        out.extend(_call_signals(node, full, last, mod, literal_kwargs or {}))
    out.sort(key=lambda s: s.line)
    return out or None


#: The reader the serialization probe hands to the engine's one Python pass.
VISITOR: PythonVisitor[list[CodeSignal]] = PythonVisitor("serialization.code", scan_module, NEEDLES,
                                                          notebooks=False)


def _call_signals(node: ast.Call, full: str, last: str, mod: PyModule,
                  literal_kwargs: dict[int, dict[str, ast.Dict]]) -> Iterator[CodeSignal]:
    line = node.lineno
    trc = _kw(node, "trust_remote_code")
    if _const(trc) is True:
        yield CodeSignal("MODEL-07", "unsafe", "serialization.trust-remote-code", last, line,
                         f"{last}(trust_remote_code=True) runs Python code shipped with the model")
    if full in PICKLE_LOADERS:
        yield CodeSignal("MODEL-03", "unsafe", "serialization.pickle-load-call", full, line,
                         f"{full}() deserializes with pickle (runs code from the file)")
    elif full in ("torch.load",):
        yield from _torch_load(node, line, literal_kwargs.get(id(node), {}))
    elif full == "numpy.load":
        if _const(_kw(node, "allow_pickle")) is True:
            yield CodeSignal("MODEL-03", "unsafe", "serialization.pickle-load-call", full, line,
                             "numpy.load(allow_pickle=True) unpickles object arrays")
    elif full in ("yaml.load", "yaml.load_all"):
        loader = _kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
        loader_name = mod.qualname(loader) if loader is not None else None
        if loader_name is None or loader_name.rsplit(".", 1)[-1] not in SAFE_YAML_LOADERS:
            yield CodeSignal("MODEL-03", "unsafe", "serialization.unsafe-yaml-load", full, line,
                             f"{full}() without a safe Loader ({loader_name or 'none given'}) can build objects")
    elif full in ("yaml.unsafe_load", "yaml.unsafe_load_all"):
        yield CodeSignal("MODEL-03", "unsafe", "serialization.unsafe-yaml-load", full, line,
                         f"{full}() builds arbitrary Python objects")
    elif last == "load_model" and _const(_kw(node, "safe_mode")) is False:
        yield CodeSignal("MODEL-03", "unsafe", "serialization.keras-unsafe-load", full, line,
                         f"{last}(safe_mode=False) lets Lambda layers run their code")
    elif full.startswith("safetensors.") and last in ("load_file", "save_file", "load_model", "save_model",
                                                        "safe_open", "load"):
        yield CodeSignal("MODEL-03", "safe", "serialization.safetensors-call", full, line,
                         f"{full}() stores or loads weights as safetensors")
    elif last == "from_pretrained" or last == "pipeline" or last in HUB_CALLS:
        yield from _hub(node, full, last, line)
    elif full == "torch.hub.load":
        yield from _torch_hub(node, line)
    elif last in ("load_state_dict_from_url", "download_url_to_file") and _const(_kw(node, "check_hash")) is True:
        yield CodeSignal("MODEL-01", "verified", "serialization.digest-check", full, line,
                         f"{last}(check_hash=True) verifies the file's digest")
    elif last == "retrieve" and _kw(node, "known_hash") is not None and _const(_kw(node, "known_hash")) is not None:
        yield CodeSignal("MODEL-01", "verified", "serialization.digest-check", full, line,
                         "pooch.retrieve(known_hash=...) verifies the download")
    elif last == "get_file" and _kw(node, "file_hash") is not None and _const(_kw(node, "file_hash")) is not None:
        yield CodeSignal("MODEL-01", "verified", "serialization.digest-check", full, line,
                         "get_file(file_hash=...) verifies the download")
    if last == "save_pretrained" and _const(_kw(node, "safe_serialization")) is True:
        yield CodeSignal("MODEL-03", "safe", "serialization.safetensors-call", full, line,
                         "save_pretrained(safe_serialization=True) writes safetensors")


def _torch_load(node: ast.Call, line: int, literals: dict[str, ast.Dict]) -> Iterator[CodeSignal]:
    wo = _const(_kw(node, "weights_only") or _splat_kw(node, "weights_only", literals))
    if wo is True:
        yield CodeSignal("MODEL-03", "mitigated", "serialization.torch-load-weights-only", "torch.load", line,
                         "torch.load(weights_only=True): restricted unpickler (partial: still pickle)")
    elif wo is False:
        yield CodeSignal("MODEL-03", "unsafe", "serialization.torch-load-unsafe", "torch.load", line,
                         "torch.load(weights_only=False) runs code from the checkpoint (TorchFix TOR102)")
    elif wo is _MISSING:
        yield CodeSignal("MODEL-03", "torch-default", "serialization.torch-load-unsafe", "torch.load", line, "")


def with_torch_default(sig: CodeSignal, default_safe: bool) -> CodeSignal:
    """A ``torch.load()`` without ``weights_only`` judged by the repository's pinned torch (2.6 made it safe)."""
    if sig.kind != "torch-default":
        return sig
    if default_safe:
        return CodeSignal("MODEL-03", "mitigated", "serialization.torch-load-weights-only", "torch.load", sig.line,
                          "torch.load() without weights_only: safe default of the pinned torch >= 2.6 (partial)")
    return CodeSignal("MODEL-03", "unsafe", "serialization.torch-load-unsafe", "torch.load", sig.line,
                      "torch.load() without weights_only=True runs code from the checkpoint on torch < 2.6 "
                      "(TorchFix TOR102)")


def _hub(node: ast.Call, full: str, last: str, line: int) -> Iterator[CodeSignal]:
    if last == "pipeline":
        target = _kw(node, "model")
    elif last in HUB_CALLS:
        target = _kw(node, "repo_id") or (node.args[0] if node.args else None)
    else:
        target = node.args[0] if node.args else _kw(node, "pretrained_model_name_or_path")
    repo_id = _const(target)
    if not isinstance(repo_id, str) or not HUB_ID.match(repo_id):
        return  # a local path or a variable: nothing to say
    if last == "from_pretrained" and _const(_kw(node, "use_safetensors")) is True:
        yield CodeSignal("MODEL-03", "safe", "serialization.safetensors-call", full, line,
                         f"{last}({repo_id!r}, use_safetensors=True) refuses pickle weights")
    revision = _const(_kw(node, "revision"))
    if isinstance(revision, str) and HEX40.match(revision):
        yield CodeSignal("MODEL-07", "pinned", "serialization.pinned-revision", full, line,
                         f"{last}({repo_id!r}) pinned to commit {revision[:12]}")
    elif isinstance(revision, str):
        yield CodeSignal("MODEL-07", "weak-pin", "serialization.unpinned-model", full, line,
                         f"{last}({repo_id!r}, revision={revision!r}): a branch or tag can move; pin a commit")
    elif revision is _MISSING:
        yield CodeSignal("MODEL-07", "unpinned", "serialization.unpinned-model", full, line,
                         f"{last}({repo_id!r}) without revision= downloads whatever the hub serves today")


def _torch_hub(node: ast.Call, line: int) -> Iterator[CodeSignal]:
    repo = _const(node.args[0]) if node.args else _const(_kw(node, "repo_or_dir"))
    if not isinstance(repo, str) or _const(_kw(node, "source")) == "local":
        return
    ref = repo.split(":", 1)[1] if ":" in repo else ""
    if HEX40.match(ref):
        yield CodeSignal("MODEL-07", "pinned", "serialization.pinned-revision", "torch.hub.load", line,
                         f"torch.hub.load({repo!r}) pinned to a commit")
    else:
        yield CodeSignal("MODEL-07", "unpinned", "serialization.unpinned-model", "torch.hub.load", line,
                         f"torch.hub.load({repo!r}) runs hubconf.py from a {'moving ref' if ref else 'default branch'}")


def _digest_compare(node: ast.Compare, mod: PyModule) -> Iterator[CodeSignal]:
    """``hashlib.sha256(...).hexdigest() == EXPECTED`` (either side, ``!=`` too)."""
    sides = [node.left, *node.comparators]
    for side in sides:
        if (isinstance(side, ast.Call) and isinstance(side.func, ast.Attribute)
                and side.func.attr in ("hexdigest", "digest")):
            inner = side.func.value
            algo = mod.qualname(inner.func) if isinstance(inner, ast.Call) else mod.qualname(inner)
            label = algo or "a hash"
            if algo and algo.rsplit(".", 1)[-1] in ("md5", "sha1"):
                continue
            yield CodeSignal("MODEL-01", "verified", "serialization.digest-check", label, node.lineno,
                             f"digest compared in code ({label}.{side.func.attr}())")
            return


TORCH_PIN = re.compile(r"""(?im)(?:^|[\s"'\[,])torch\s*(?:\[[^\]]*\])?\s*(==|>=|~=|>)\s*(\d+)\.(\d+)""")


def torch_default_safe(texts: list[str]) -> bool:
    """True when a requirements or project file pins torch at 2.6 or later (``weights_only=True`` default)."""
    found = False
    for text in texts:
        for m in TORCH_PIN.finditer(text):
            major, minor = int(m.group(2)), int(m.group(3))
            if (major, minor) < (2, 6):
                return False
            found = True
    return found
