"""Judging the imports of a pickle: dangerous, suspicious or safe.

The dangerous set follows what the published scanners (picklescan, modelscan, ModelAudit) flag, widened to every
module that can run code, touch the system, files or the network, or load another serialized object, and to their
submodules. The safe set is an exact allowlist of (module, name) pairs, and of (class, attribute) pairs for
``getattr``, read from the files the real libraries write (``fixtures/serialization``, see :mod:`.allowlist`).
The rest follows a written rule (README, "Model scanning"): a standard-library import, anything from a test suite,
a nested attribute path that is not a nested class, and a function of a known ML library are dangerous; a class
from outside the allowlist is *suspicious*: a pickled ``nn.Module`` of user code imports user classes, which we
cannot vouch for but which are not evidence of an attack either.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass

from mlposture.probes.serialization.allowlist import ALLOWED_GETATTR, ALLOWED_GLOBALS
from mlposture.probes.serialization.pickle_reader import PickleFacts


class Level(enum.IntEnum):
    """Verdict of one import or one artifact; higher is worse."""

    SAFE = 0
    SUSPICIOUS = 1
    DANGEROUS = 2


# Whole modules (and their submodules) whose import in a pickle is dangerous.
DANGEROUS_MODULES = frozenset(
    {
        "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "_winapi", "runpy",
        "importlib", "imp", "zipimport", "pkgutil", "pip", "ensurepip", "venv", "distutils", "setuptools",
        "ctypes", "_ctypes", "socket", "_socket", "ssl", "_ssl", "shutil", "pty", "tty", "termios", "marshal",
        "code", "codeop", "pydoc", "cProfile", "profile", "_lsprof", "timeit", "trace", "pdb", "bdb",
        "multiprocessing", "_multiprocessing", "concurrent", "asyncio", "threading", "_thread", "signal",
        "webbrowser", "urllib", "urllib2", "urllib3", "http", "httplib", "requests", "aiohttp", "httpx",
        "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "xmlrpc", "socketserver", "wsgiref",
        "pickle", "_pickle", "cPickle", "pickletools", "dill", "cloudpickle", "joblib", "shelve", "dbm",
        "sqlite3", "_sqlite3", "sys", "commands", "tempfile", "tarfile", "zipfile", "glob", "fileinput",
        "platform", "sysconfig", "site", "idlelib", "lib2to3", "doctest", "_xxsubinterpreters",
        "_interpreters", "_interpqueues", "_xxinterpchannels", "_io", "io", "gc", "inspect", "linecache",
        "builtins.__import__", "types", "uuid._get_command_stdout", "mailcap", "cgi", "cgitb", "syslog",
        "logging.config", "logging.handlers", "keras.utils", "tensorflow.io", "tensorflow.python.ops.io_ops",
        "torch.hub", "torch._inductor", "torch._dynamo", "torch.utils.collect_env", "torch.utils.bottleneck",
        "torch.utils.data.datapipes.utils.decoder", "torch.utils._config_module", "torch.jit.unsupported_tensor_ops",
        "torch.package", "numpy.testing", "numpy.f2py", "numpy.ctypeslib", "numpy.distutils", "numpy.lib.npyio",
        "numpy.lib._npyio_impl", "numpy.lib.format", "numpy.lib._format_impl", "mmap",
        "pandas.io", "pandas.core.computation", "huggingface_hub",
        "transformers.dynamic_module_utils",
    }
)

# Names that are dangerous in the listed module (the rest of the module may be ordinary).
DANGEROUS_NAMES: dict[str, frozenset[str]] = {
    "builtins": frozenset(
        {"eval", "exec", "execfile", "compile", "open", "getattr", "setattr", "delattr", "__import__", "vars",
         "globals", "locals", "breakpoint", "input", "apply", "file", "reload", "help", "exit", "quit",
         "__loader__", "__spec__", "__build_class__", "type"}
    ),
    "operator": frozenset({"attrgetter", "methodcaller"}),
    "_operator": frozenset({"attrgetter", "methodcaller"}),
    "functools": frozenset({"reduce"}),
    "numpy": frozenset({"load", "loads", "fromfile", "memmap", "save", "savez", "savetxt", "loadtxt",
                        "genfromtxt", "tofile", "fromregex", "DataSource"}),
    "torch": frozenset({"load", "save", "compile", "from_file"}),
    "torch.serialization": frozenset({"load", "_load", "save", "_save", "_open_file", "_open_zipfile_reader"}),
    "torch.storage": frozenset({"_load_from_bytes"}),
    "torch.jit": frozenset({"load", "_load_for_lite_interpreter"}),
    "torch.fx.experimental.symbolic_shapes": frozenset({"ShapeEnv"}),
    "torch._dynamo.guards": frozenset({"GuardBuilder"}),
    "pandas": frozenset({"eval", "read_pickle", "read_csv", "read_table", "read_json", "read_html", "read_sql",
                         "read_parquet", "read_feather", "read_hdf", "read_excel", "read_xml", "read_fwf",
                         "read_orc", "read_stata", "read_sas", "read_spss", "read_gbq", "read_clipboard",
                         "read_sql_query", "read_sql_table", "to_pickle"}),
    "keras.models": frozenset({"load_model"}),
    "tensorflow.keras.models": frozenset({"load_model"}),
    "logging": frozenset({"FileHandler", "config", "handlers"}),
    "codecs": frozenset({"open", "EncodedFile", "StreamReaderWriter", "StreamRecoder"}),
}

# Methods that touch files or run code, dangerous at the end of a dotted (protocol 4) attribute path such as
# ``pathlib.Path.write_text`` whatever the module.
DANGEROUS_METHODS = frozenset(
    {"open", "write_text", "write_bytes", "read_text", "read_bytes", "unlink", "rmdir", "touch", "mkdir", "chmod",
     "chown", "rename", "replace", "symlink_to", "hardlink_to", "link_to", "rmtree", "remove", "run", "call",
     "tofile", "dump", "save", "write", "exec_module", "load_module"}
)

# Names dangerous in whatever module they come from (loaders and executors).
DANGEROUS_ANYWHERE = frozenset(
    {"eval", "exec", "execfile", "system", "popen", "spawn", "load", "loads", "read_pickle", "_load_from_bytes",
     "__import__", "import_module", "run_path", "run_module", "check_output", "check_call", "Popen", "runcode",
     "runsource", "runstring", "loadtxt_from_file", "load_model"}
)

# Libraries whose files the allowlist was read from, and that sit in the environment of whoever loads a model:
# a function of theirs that their own files never reference is gadget material (called with chosen arguments).
KNOWN_LIBRARIES = frozenset(
    {"torch", "torchvision", "torchaudio", "numpy", "scipy", "sklearn", "joblib", "xgboost", "lightgbm", "catboost",
     "pandas", "transformers", "accelerate", "tokenizers", "datasets", "huggingface_hub", "safetensors", "keras",
     "tensorflow", "tf_keras", "lightning", "pytorch_lightning", "lightning_fabric", "omegaconf", "hydra",
     "statsmodels", "matplotlib", "PIL", "cv2", "onnx", "onnxruntime", "jax", "flax", "optax", "timm", "peft"}
)

# Module path components of test suites and test helpers: never part of a model, often able to run code.
TEST_PARTS = frozenset({"test", "tests", "testing", "_testing", "conftest", "_pytest", "pytest", "testutils",
                        "test_utils", "_test_utils", "unittest", "doctest"})

LEGACY_JOBLIB = frozenset({"NDArrayWrapper", "ZNDArrayWrapper"})

_ALIASES = {
    "__builtin__": "builtins",
    "copy_reg": "copyreg",
    "numpy._core": "numpy.core",
    "_operator": "operator",
}


def canonical_module(module: str) -> str:
    """Python 2 names and NumPy 2's private core package map to the names the lists use."""
    for old, new in _ALIASES.items():
        if module == old or module.startswith(old + "."):
            return new + module[len(old) :]
    return module


def _in_module_set(module: str, modules: frozenset[str]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in modules for i in range(1, len(parts) + 1))


# Where an older release of a library writes the same object under another path than the release the fixtures
# were written with (NumPy 1 vs 2): the same object, so the same verdict.
_SAME_OBJECT = {("numpy.matrixlib.defmatrix", "matrix"): ("numpy", "matrix")}


def is_allowlisted(module: str, name: str) -> bool:
    """True when ``module.name`` is on the exact allowlist read from files the real libraries write."""
    key = (canonical_module(module), name)
    return _SAME_OBJECT.get(key, key) in ALLOWED_GLOBALS


def is_stdlib(module: str) -> bool:
    """A module of the standard library (private ones and ``test`` included), or of Python 2's."""
    top = module.split(".", 1)[0]
    return top in sys.stdlib_module_names or top in ("test", "__builtin__", "copy_reg", "cPickle") \
        or (top.startswith("_") and not top.startswith("__"))


def classify_global(module: str, name: str) -> tuple[Level, str]:
    """Level of one import, with the reason shown to the user (the rule is written out in the README)."""
    mod = canonical_module(module)
    if not _is_dotted(mod) or not _is_dotted(name):
        return Level.DANGEROUS, "import with a malformed module or name"
    top_name = name.split(".", 1)[0]
    parts = name.split(".")
    if any(p.startswith("__") and p.endswith("__") and p not in ("__newobj__", "__newobj_ex__") for p in parts):
        return Level.DANGEROUS, f"attribute path {name} goes through a dunder (globals, builtins, code)"
    if any(p in DANGEROUS_MODULES or p in ("builtins", "__builtin__") for p in parts[:-1]):
        return Level.DANGEROUS, f"attribute path {name} reaches a dangerous module through {mod}"
    if len(parts) > 1 and parts[-1] in DANGEROUS_METHODS:
        return Level.DANGEROUS, f"{mod}.{name} touches files or runs code"
    if top_name in DANGEROUS_NAMES.get(mod, frozenset()):
        return Level.DANGEROUS, f"{mod}.{top_name} can run code or touch files"
    if is_allowlisted(mod, name):  # exact pairs from real files win over the module-wide rules below
        return Level.SAFE, "allowlisted"
    if mod.endswith(("joblib.numpy_pickle", "joblib.numpy_pickle_compat")) and name in LEGACY_JOBLIB:
        return Level.SUSPICIOUS, "joblib < 0.10 wrapper: loads a companion .npy file named inside the pickle"
    dotted = f"{mod}.{name}"
    if _in_module_set(mod, DANGEROUS_MODULES) or _in_module_set(dotted, DANGEROUS_MODULES):
        return Level.DANGEROUS, f"module {mod.split('.')[0]} can run code, touch the system or load objects"
    if name.split(".")[-1] in DANGEROUS_ANYWHERE or top_name in DANGEROUS_ANYWHERE:
        return Level.DANGEROUS, f"{name} is a loader or executor"
    if mod == "__torch__" or mod.startswith("__torch__."):
        return Level.SAFE, "TorchScript type, resolved from the archive's compiled code (no Python import)"
    if is_stdlib(mod):
        return Level.DANGEROUS, "standard-library import that no model file written by the real libraries makes"
    mod_parts = mod.split(".")
    if any(p in TEST_PARTS or p.startswith("test_") or p.endswith("_test") for p in mod_parts):
        return Level.DANGEROUS, "import from a test suite or test helper"
    if len(parts) > 1 and not all(p[:1].isupper() for p in parts):
        return Level.DANGEROUS, f"attribute path {name} is not a nested class"
    if mod_parts[0] in KNOWN_LIBRARIES and not top_name[:1].isupper():
        return Level.DANGEROUS, (f"function {dotted} of an installed library that its own model files never "
                                 "reference (callable with chosen arguments)")
    return Level.SUSPICIOUS, "not on the allowlist"


def _is_dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


@dataclass(frozen=True)
class Judged:
    """One import (or unresolvable import) with its verdict."""

    level: Level
    what: str  # "os.system", "STACK_GLOBAL with a computed operand", ...
    reason: str
    offset: int


def judge_facts(facts: PickleFacts, *, headerless: bool = False) -> list[Judged]:
    """Every import of the stream (embedded pickles and a plain-unpickler re-read included), worst first.

    ``headerless``: the stream has no PROTO header, so it may be text or data read as opcodes; imports whose module
    or name are not dotted identifiers are junk there (no attacker gains anything from an import that cannot be
    written in Python), and are left out.
    """
    out: list[Judged] = []
    getattr_ok = _getattr_is_safe(facts)
    for ref in facts.globals:
        if headerless and not (_is_dotted(ref.module) and _is_dotted(ref.name)):
            continue
        level, reason = classify_global(ref.module, ref.name)
        if canonical_module(ref.module) == "builtins" and ref.name == "getattr" and getattr_ok:
            level, reason = Level.SAFE, "getattr of a class and attribute pair that real model files use"
        out.append(Judged(level, ref.dotted, reason, ref.offset))
    for u in facts.unresolved:
        out.append(Judged(Level.DANGEROUS, f"{u.opcode} ({u.detail})",
                          "import target computed at load time or taken from the extension registry", u.offset))
    for loader, offset, inner in facts.loader_payloads:
        for j in judge_facts(inner):
            out.append(Judged(j.level, j.what, f"{j.reason} (pickle embedded in {loader} at offset {offset})",
                              j.offset))
    if facts.plain_facts is not None:
        known = {(j.what, j.offset) for j in out}
        for j in judge_facts(facts.plain_facts, headerless=True):
            if (j.what, j.offset) not in known:
                out.append(Judged(j.level, j.what, f"{j.reason} (read when a plain unpickler takes joblib array "
                                  "data for opcodes)", j.offset))
    out.sort(key=lambda j: (-j.level, j.offset))
    return out


def _getattr_is_safe(facts: PickleFacts) -> bool:
    """Every reference to getattr is a call on an exact (class, attribute) pair that real model files use."""
    if not facts.getattr_calls or facts.getattr_pushes != len(facts.getattr_calls):
        return False
    for call in facts.getattr_calls:
        if call.target is None or call.attribute is None:
            return False
        module, _, name = call.target.rpartition(".")
        if (canonical_module(module), name, call.attribute) not in ALLOWED_GETATTR:
            return False
    return True


def worst(judged: list[Judged]) -> Level:
    """The artifact's level: its worst import."""
    return max((j.level for j in judged), default=Level.SAFE)
