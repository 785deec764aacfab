"""Judging the imports of a pickle: dangerous, suspicious or safe.

The dangerous set follows what the published scanners (picklescan, modelscan, ModelAudit) flag, widened to every
module that can run code, touch the system, files or the network, or load another serialized object, and to their
submodules. The safe set is an allowlist of what ordinary torch, NumPy, scikit-learn, XGBoost, LightGBM, pandas and
Hugging Face training files contain (measured on files those libraries write, see ``fixtures/serialization``).
Anything else is *suspicious*: a pickled ``nn.Module`` of user code imports user classes, which we cannot vouch for
but which are not evidence of an attack either.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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

# Exact allowlist, by module.
SAFE_NAMES: dict[str, frozenset[str]] = {
    "builtins": frozenset({"set", "frozenset", "list", "dict", "tuple", "object", "int", "float", "complex",
                           "bool", "str", "bytes", "bytearray", "slice", "range", "NoneType", "Ellipsis"}),
    "collections": frozenset({"OrderedDict", "defaultdict", "Counter", "deque"}),
    "copyreg": frozenset({"_reconstructor"}),
    "_codecs": frozenset({"encode"}),
    "codecs": frozenset({"encode"}),
    "datetime": frozenset({"datetime", "date", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "fractions": frozenset({"Fraction"}),
    "uuid": frozenset({"UUID"}),
    "argparse": frozenset({"Namespace"}),
    "random": frozenset({"Random"}),
    "typing": frozenset({"Any", "Dict", "List", "Optional", "Tuple", "Union"}),
    "pathlib": frozenset({"Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath"}),
    "numpy": frozenset(
        {"dtype", "ndarray", "float64", "float32", "float16", "longdouble", "int64", "int32", "int16", "int8",
         "uint64", "uint32", "uint16", "uint8", "bool_", "bool", "complex64", "complex128", "object_", "str_",
         "bytes_", "intp", "uintp", "datetime64", "timedelta64", "generic", "number", "floating", "integer",
         "signedinteger", "unsignedinteger", "inexact", "core", "matrix"}
    ),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy.ma.core": frozenset({"_mareconstruct", "MaskedArray"}),
    "numpy.matrixlib.defmatrix": frozenset({"matrix"}),
    "numpy.random": frozenset({"RandomState", "Generator"}),
    "numpy.random.mtrand": frozenset({"RandomState"}),
    "joblib.numpy_pickle": frozenset({"NumpyArrayWrapper"}),
    "sklearn.externals.joblib.numpy_pickle": frozenset({"NumpyArrayWrapper"}),
    "torch": frozenset(
        {"Size", "device", "dtype", "Tensor", "float32", "float64", "float16", "bfloat16", "int64", "int32",
         "int16", "int8", "uint8", "bool", "complex64", "complex128", "float", "double", "half", "long", "int",
         "short", "strided", "sparse_coo", "contiguous_format", "channels_last", "preserve_format", "layout",
         "memory_format", "qint8", "quint8", "qint32", "per_tensor_affine", "per_channel_affine",
         "float8_e4m3fn", "float8_e5m2", "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage",
         "LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
         "ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage", "QInt32Storage",
         "QUInt4x2Storage", "QUInt2x4Storage", "UntypedStorage", "TypedStorage"}
    ),
    "torch._utils": frozenset(
        {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
         "_rebuild_parameter_with_state", "_rebuild_sparse_tensor", "_rebuild_qtensor",
         "_rebuild_device_tensor_from_numpy", "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
         "_rebuild_nested_tensor", "_rebuild_sparse_csr_tensor"}
    ),
    "torch._tensor": frozenset({"_rebuild_from_type_v2", "Tensor"}),
    "torch.nn.parameter": frozenset({"Parameter", "UninitializedParameter", "Buffer"}),
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage"}),
    "torch.torch_version": frozenset({"TorchVersion"}),
    "torch.serialization": frozenset({"_get_layout"}),
    "transformers.trainer_pt_utils": frozenset({"AcceleratorConfig"}),
    "transformers.debug_utils": frozenset({"DebugOption"}),
    "pytorch_lightning.utilities.parsing": frozenset({"AttributeDict"}),
    "lightning.pytorch.utilities.parsing": frozenset({"AttributeDict"}),
    "lightning_fabric.utilities.data": frozenset({"AttributeDict"}),
    "lightning.fabric.utilities.data": frozenset({"AttributeDict"}),
    "pandas": frozenset({"DataFrame", "Series", "Index", "RangeIndex", "MultiIndex", "DatetimeIndex",
                         "TimedeltaIndex", "PeriodIndex", "CategoricalIndex", "IntervalIndex", "Categorical",
                         "CategoricalDtype", "StringDtype", "DatetimeTZDtype", "PeriodDtype", "IntervalDtype",
                         "SparseDtype", "Timestamp", "Timedelta", "Period", "Interval", "NA", "NaT",
                         "Int64Dtype", "Int32Dtype", "Float64Dtype", "BooleanDtype", "ArrowDtype"}),
}

# Allowlisted module prefixes: classes of these libraries are data containers or estimators.
SAFE_PREFIXES = (
    "torch.nn.modules.",
    "torchvision.models.",
    "torchvision.ops.misc.",
    "torch.optim.",
    "torch.nn.utils.parametrizations.",
    "numpy.random._pickle",
    "numpy.dtypes",
    "sklearn.",
    "scipy.sparse.",
    "xgboost.sklearn",
    "xgboost.core",
    "lightgbm.basic",
    "lightgbm.sklearn",
    "pandas.core.",
    "pandas._libs.",
    "pandas.arrays.",
    "torch.jit._pickle.",
    "transformers.training_args",
    "transformers.trainer_utils",
    "transformers.utils.generic",
    "accelerate.utils.dataclasses",
    "accelerate.state",
    "__torch__.",
    "omegaconf.dictconfig",
    "omegaconf.listconfig",
    "omegaconf.base",
    "omegaconf.nodes",
)

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


def is_allowlisted(module: str, name: str) -> bool:
    """True when ``module.name`` is on the allowlist of ordinary model-file imports."""
    mod = canonical_module(module)
    names = SAFE_NAMES.get(mod)
    if names is not None and name in names:
        return True
    if "." in name and (not name[:1].isupper() or any(p.startswith("_") for p in name.split("."))):
        return False  # nested attribute paths under a library prefix: only Outer.Inner class names
    dotted = f"{mod}.{name}"
    return any(dotted.startswith(p) for p in SAFE_PREFIXES) and name not in DANGEROUS_ANYWHERE


def classify_global(module: str, name: str) -> tuple[Level, str]:
    """Level of one import, with the reason shown to the user."""
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
    if (mod, name) in (("joblib.numpy_pickle", "NumpyArrayWrapper"),
                       ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper")):
        return Level.SAFE, "joblib array wrapper"
    if mod.endswith(("joblib.numpy_pickle", "joblib.numpy_pickle_compat")) and name in LEGACY_JOBLIB:
        return Level.SUSPICIOUS, "joblib < 0.10 wrapper: loads a companion .npy file named inside the pickle"
    dotted = f"{mod}.{name}"
    if _in_module_set(mod, DANGEROUS_MODULES) or _in_module_set(dotted, DANGEROUS_MODULES):
        return Level.DANGEROUS, f"module {mod.split('.')[0]} can run code, touch the system or load objects"
    if name.split(".")[-1] in DANGEROUS_ANYWHERE or top_name in DANGEROUS_ANYWHERE:
        return Level.DANGEROUS, f"{name} is a loader or executor"
    if is_allowlisted(mod, name):
        return Level.SAFE, "allowlisted"
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


def judge_facts(facts: PickleFacts) -> list[Judged]:
    """Every import of the stream (embedded pickles included) with its level, worst first."""
    out: list[Judged] = []
    getattr_ok = _getattr_is_safe(facts)
    for ref in facts.globals:
        level, reason = classify_global(ref.module, ref.name)
        if canonical_module(ref.module) == "builtins" and ref.name == "getattr" and getattr_ok:
            level, reason = Level.SAFE, "getattr of an allowlisted class with a literal public name"
        out.append(Judged(level, ref.dotted, reason, ref.offset))
    for u in facts.unresolved:
        out.append(Judged(Level.DANGEROUS, f"{u.opcode} ({u.detail})",
                          "import target computed at load time or taken from the extension registry", u.offset))
    for loader, offset, inner in facts.loader_payloads:
        for j in judge_facts(inner):
            out.append(Judged(j.level, j.what, f"{j.reason} (pickle embedded in {loader} at offset {offset})",
                              j.offset))
    out.sort(key=lambda j: (-j.level, j.offset))
    return out


def _getattr_is_safe(facts: PickleFacts) -> bool:
    """``getattr(AllowlistedClass, 'LITERAL')`` only, and every reference to getattr is such a call."""
    if not facts.getattr_calls or facts.getattr_pushes != len(facts.getattr_calls):
        return False
    for call in facts.getattr_calls:
        if call.target is None or call.attribute is None:
            return False
        if not call.attribute.isidentifier() or call.attribute.startswith("_"):
            return False
        module, _, name = call.target.rpartition(".")
        if not name[:1].isupper() or classify_global(module, name)[0] != Level.SAFE:
            return False
    return True


def worst(judged: list[Judged]) -> Level:
    """The artifact's level: its worst import."""
    return max((j.level for j in judged), default=Level.SAFE)
