"""The opcode reader and the import policy, on pickles built opcode by opcode (nothing here is ever loaded)."""

from __future__ import annotations

import io
import pickle
import tracemalloc

import pytest

from mlposture.probes.serialization.pickle_reader import scan_stream
from mlposture.probes.serialization.policy import Level, classify_global, judge_facts, worst


def facts_of(data: bytes):  # type: ignore[no-untyped-def]
    return scan_stream(io.BytesIO(data), len(data))


def level_of(data: bytes) -> Level:
    return worst(judge_facts(facts_of(data)))


def sbu(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


class _Reduce:
    def __init__(self, func: object, args: tuple[object, ...]) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (self.func, self.args)


@pytest.mark.parametrize("protocol", range(6))
def test_every_protocol_resolves_the_import(protocol: int) -> None:
    import os

    data = pickle.dumps({"w": [1.0, 2.0], "x": _Reduce(os.system, ("true",))}, protocol=protocol)
    facts = facts_of(data)
    assert facts.pickles == 1 and facts.error is None
    assert facts.protocol == (protocol if protocol >= 2 else 0)
    assert any(g.dotted in ("posix.system", "os.system", "nt.system") for g in facts.globals)
    assert level_of(data) == Level.DANGEROUS


def test_plain_data_is_safe_and_has_no_imports() -> None:
    data = pickle.dumps({"a": [1, 2, 3], "b": ("x", 1.5, None, True), "c": {1, 2}}, protocol=4)
    facts = facts_of(data)
    assert facts.globals == () and level_of(data) == Level.SAFE


def test_stack_global_operands_laundered_through_the_memo() -> None:
    # "os" and "system" are memoized early, then fetched with BINGET / LONG_BINGET for STACK_GLOBAL
    data = (b"\x80\x04" + sbu("os") + b"\x94" + b"0" + sbu("system") + b"r\x05\x00\x00\x00" + b"0"
            + b"h\x00" + b"j\x05\x00\x00\x00" + b"\x93" + sbu("true") + b"\x85R.")
    facts = facts_of(data)
    assert [g.dotted for g in facts.globals] == ["os.system"]
    assert level_of(data) == Level.DANGEROUS


def test_computed_operand_and_extension_codes_are_dangerous() -> None:
    computed = b"\x80\x04" + sbu("builtins") + sbu("str") + b"\x93)R" + sbu("system") + b"\x93)R."
    judged = judge_facts(facts_of(computed))
    assert judged[0].level == Level.DANGEROUS and "STACK_GLOBAL" in judged[0].what
    ext = b"\x80\x02\x82\x01)R."
    assert level_of(ext) == Level.DANGEROUS


def test_second_pickle_after_stop_and_broken_stream() -> None:
    import os

    two = pickle.dumps([1, 2]) + pickle.dumps(_Reduce(os.system, ("true",)))
    facts = facts_of(two)
    assert facts.pickles == 2 and level_of(two) == Level.DANGEROUS
    broken = pickle.dumps(_Reduce(os.system, ("true",)), protocol=2)[:-2]
    facts = facts_of(broken)
    assert facts.error is not None and level_of(broken) == Level.DANGEROUS


def test_trailing_binary_data_is_not_a_pickle() -> None:
    data = pickle.dumps([1, 2], protocol=2) + b"\x00\x01\x02" * 100
    facts = facts_of(data)
    assert facts.error is None and facts.trailing_bytes == 300


def test_large_bytes_are_skipped_not_held() -> None:
    payload = pickle.dumps([b"\x00" * (64 << 20)], protocol=4)
    tracemalloc.start()
    facts = scan_stream(io.BytesIO(payload), len(payload))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert facts.error is None and facts.pickles == 1
    assert peak < 8 << 20


def test_getattr_context() -> None:
    enum_like = (b"\x80\x04" + sbu("builtins") + sbu("getattr") + b"\x93"
                 + sbu("transformers.trainer_utils") + sbu("IntervalStrategy") + b"\x93" + sbu("STEPS")
                 + b"\x86R.")
    assert level_of(enum_like) == Level.SAFE
    on_module = (b"\x80\x04" + sbu("builtins") + sbu("getattr") + b"\x93" + sbu("numpy") + sbu("core")
                 + b"\x93" + sbu("os") + b"\x86R.")
    assert level_of(on_module) == Level.DANGEROUS
    computed_name = (b"\x80\x04" + sbu("builtins") + sbu("getattr") + b"\x93"
                     + sbu("transformers.trainer_utils") + sbu("IntervalStrategy") + b"\x93"
                     + sbu("builtins") + sbu("str") + b"\x93)R\x86R.")
    assert level_of(computed_name) == Level.DANGEROUS


def test_pickle_embedded_in_a_nested_loader_is_scanned() -> None:
    inner = b"\x80\x04" + sbu("subprocess") + sbu("check_call") + b"\x93" + sbu("true") + b"\x85R."
    outer = (b"\x80\x04" + sbu("pickle") + sbu("loads") + b"\x93"
             + b"C" + bytes([len(inner)]) + inner + b"\x85R.")
    facts = facts_of(outer)
    assert facts.loader_payloads and facts.loader_payloads[0][0] == "pickle.loads"
    assert "subprocess.check_call" in [g.dotted for g in facts.all_globals]


def test_policy_levels() -> None:
    assert classify_global("torch._utils", "_rebuild_tensor_v2")[0] == Level.SAFE
    assert classify_global("numpy._core.multiarray", "_reconstruct")[0] == Level.SAFE
    assert classify_global("sklearn.ensemble._forest", "RandomForestClassifier")[0] == Level.SAFE
    assert classify_global("mypackage.model", "Net")[0] == Level.SUSPICIOUS
    for module, name in [("os", "system"), ("posix", "system"), ("nt", "system"), ("__builtin__", "eval"),
                         ("builtins", "exec"), ("runpy", "_run_code"), ("importlib", "import_module"),
                         ("torch.hub", "load"), ("torch.serialization", "load"), ("numpy.testing._private.utils",
                         "runstring"), ("operator", "attrgetter"), ("_operator", "methodcaller"),
                         ("pandas", "read_pickle"), ("io", "FileIO"), ("logging.handlers", "SysLogHandler"),
                         ("asyncio.unix_events", "_UnixSubprocessTransport"), ("joblib", "load"),
                         ("types", "CodeType"), ("pip._internal", "main"), ("webbrowser", "open")]:
        assert classify_global(module, name)[0] == Level.DANGEROUS, (module, name)


def test_attribute_paths_through_allowlisted_modules() -> None:
    # protocol 4 resolves dotted names with getattr: an allowlisted module can lead to os or to __globals__
    assert classify_global("sklearn.datasets._base", "shutil.rmtree")[0] == Level.DANGEROUS
    assert classify_global("torch.nn.modules.linear", "Linear.__init__.__globals__")[0] == Level.DANGEROUS
    assert classify_global("sklearn.utils", "_joblib.Parallel")[0] == Level.DANGEROUS  # not a nested class
    assert classify_global("sklearn.utils", "Outer.Inner")[0] == Level.SUSPICIOUS
    assert classify_global("sklearn.tree._classes", "DecisionTreeClassifier")[0] == Level.SAFE
    assert classify_global("pathlib", "Path.write_text")[0] == Level.DANGEROUS
    assert classify_global("codecs", "open")[0] == Level.DANGEROUS
    assert classify_global("numpy.lib.format", "read_array")[0] == Level.DANGEROUS
    # measured on joblib's own test data: old-format wrappers are suspicious, numpy matrices ordinary
    assert classify_global("joblib.numpy_pickle", "NDArrayWrapper")[0] == Level.SUSPICIOUS
    assert classify_global("numpy", "matrix")[0] == Level.SAFE  # as numpy 2 writes it
    assert classify_global("numpy.matrixlib.defmatrix", "matrix")[0] == Level.SAFE  # the same, as numpy 1 wrote it


def test_many_pickles_in_a_row_are_not_a_hiding_place() -> None:
    import os

    data = pickle.dumps(1, protocol=2) * 5000 + pickle.dumps(_Reduce(os.system, ("true",)), protocol=2)
    facts = facts_of(data)
    assert facts.incomplete is None and facts.pickles == 5001  # walked to the end, whatever the count
    assert level_of(data) == Level.DANGEROUS


def test_memoize_index_follows_the_c_unpickler() -> None:
    # PUT 5 writes one key, so the next MEMOIZE stores at index 1 (the memo's length), not at 6
    data = (b"\x80\x04" + sbu("xx") + b"q\x05" + b"0" + sbu("os") + b"\x94" + b"0"
            + b"h\x01" + sbu("system") + b"\x93" + sbu("true") + b"\x85R.")
    assert [g.dotted for g in facts_of(data).globals] == ["os.system"]
    unwritten = b"\x80\x04h\x03" + sbu("system") + b"\x93."
    facts = facts_of(unwritten)
    assert facts.error is not None and "memo entry 3" in facts.error


def test_text_protocol_payload_in_a_nested_loader() -> None:
    inner = b"cposix\nsystem\n(S'true'\ntR."
    outer = b"\x80\x04" + sbu("pickle") + sbu("loads") + b"\x93" + b"C" + bytes([len(inner)]) + inner + b"\x85R."
    assert "posix.system" in [g.dotted for g in facts_of(outer).all_globals]


@pytest.mark.parametrize("floats", [1, 999, 1000, 1001, 250_000])  # 250,000 floats cross the 1 MiB read chunk
def test_runs_of_floats_are_read_whole_and_hide_nothing(floats: int) -> None:
    import os
    import pickletools

    data = pickle.dumps([[0.5] * floats, _Reduce(os.system, ("true",)), [0.25] * 3], protocol=4)
    facts = facts_of(data)
    assert facts.error is None and facts.pickles == 1
    assert facts.opcodes == sum(1 for _ in pickletools.genops(data))
    assert [g.dotted for g in facts.globals] in (["posix.system"], ["os.system"], ["nt.system"])
    assert level_of(data) == Level.DANGEROUS


def test_a_frame_that_ends_inside_a_run_of_floats_is_a_limit() -> None:
    floats = b"G" + b"\x3f\xe0" + b"\x00" * 6
    body = b"]" + b"(" + floats * 4 + b"e."
    # the frame stops four bytes into the third float: the C unpickler would read past the frame
    frame = b"\x95" + (2 + 9 * 2 + 4).to_bytes(8, "little")
    facts = facts_of(b"\x80\x04" + frame + body)
    assert facts.incomplete is not None and "past the end of its frame" in facts.incomplete
    assert facts.opcodes == 8 and facts.pickles == 0
    # the same floats in a frame that ends exactly after the second float, the rest outside any frame: fine
    frame = b"\x95" + (2 + 9 * 2).to_bytes(8, "little")
    facts = facts_of(b"\x80\x04" + frame + body)
    assert facts.error is None and facts.opcodes == 1 + 1 + 2 + 4 + 2
