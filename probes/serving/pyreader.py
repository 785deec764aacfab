"""What every framework's route reader shares: the module's limiter objects and key functions, model calls
followed through helpers, response outputs, request-body validation, decorator limits (slowapi, flask-limiter,
django-ratelimit) and the route decorators themselves."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace

from mlposture.probes.serving.facts import Facts, KeyKind, RateLimit, Route, Scope, Window, parse_limit_string
from mlposture.probes.serving.managed import STRONG_INFERENCE_WORD
from mlposture.probes.serving.pyindex import (
    ModuleIndex,
    const_num,
    const_str,
    kwarg,
    short,
    str_list,
    unparse,
    walk_bounded,
)
from mlposture.probes.serving.pyrepo import RepoIndex
from mlposture.probes.serving.pywords import (
    BARE_MODEL,
    CONSUMER_KEY,
    DURATIONS,
    IP_KEY,
    LLM_CREATE,
    MODEL_URL,
    MODELISH,
    NOT_MODEL,
    RAW_BODY,
    ROUTE_DECORATORS,
    SENSITIVE_ATTRS,
    SENSITIVE_CALLS,
    SENSITIVE_FIELDS,
    STRONG_MODEL_METHODS,
    VALIDATOR_CALLS,
    WEAK_MODEL_METHODS,
)


@dataclass
class Limiter:
    """A limiter object of the module (slowapi, flask-limiter) and its default limits."""

    source: str
    key: KeyKind
    key_detail: str
    defaults: tuple[Window, ...]
    line: int
    default_text: str


class ReaderBase:
    """One module's reader, with the repository index for cross-module names (framework readers extend it)."""

    def __init__(self, mod: ModuleIndex, ri: RepoIndex, prefixes: dict[tuple[str, str], str],
                 include_deps: dict[tuple[str, str], list[tuple[ModuleIndex, ast.expr]]]) -> None:
        self.mod = mod
        self.ri = ri
        self.prefixes = prefixes
        self.include_deps = include_deps
        self.facts = Facts()
        self.limiters: dict[str, Limiter] = {}
        self.fastapi_identifier: tuple[KeyKind, str] | None = None
        self._find_limiters()

    # ------------------------------------------------------------ limiter objects
    def _find_limiters(self) -> None:
        for name, call in self.mod.calls.items():
            q = self.mod.call_name(call)
            if q.endswith("Limiter") and ("slowapi" in q or "flask_limiter" in q):
                source = "slowapi" if "slowapi" in q else "flask-limiter"
                keynode = kwarg(call, "key_func")
                if keynode is None and call.args and not (isinstance(call.args[0], ast.Name)
                                                          and call.args[0].id == "app"):
                    keynode = call.args[0]
                key, detail = self.classify_key(keynode, default=(KeyKind.UNKNOWN, "no key_func"))
                defaults_node = kwarg(call, "default_limits") or kwarg(call, "application_limits")
                texts = [s for s, _ in str_list(defaults_node)]
                windows = tuple(w for t in texts for w in parse_limit_string(t))
                self.limiters[name] = Limiter(source, key, detail, windows, call.lineno, "; ".join(texts))
        for node in self.mod.nodes:
            if isinstance(node, ast.Call) and self.mod.call_name(node).endswith("FastAPILimiter.init"):
                ident = kwarg(node, "identifier")
                if ident is not None:
                    self.fastapi_identifier = self.classify_key(ident, (KeyKind.IP, "default identifier (IP)"))

    def classify_key(self, node: ast.expr | None, default: tuple[KeyKind, str]) -> tuple[KeyKind, str]:
        """What a key function / identifier / key string counts requests by."""
        if node is None:
            return default
        text = unparse(node)
        name = text.rsplit(".", 1)[-1]
        if name in ("get_remote_address", "get_ipaddr", "get_ip"):
            return KeyKind.IP, f"key_func={name} (client IP)"
        body = text
        func = self.mod.functions.get(name)
        if func is not None:
            body = unparse(func)
        if CONSUMER_KEY.search(body):
            return KeyKind.CONSUMER, f"key function {name} reads a consumer identity"
        if IP_KEY.search(body):
            return KeyKind.IP, f"key function {name} returns the client IP"
        return KeyKind.UNKNOWN, f"key function {name}: cannot tell what it keys on"

    def _route_decorator(self, dec: ast.expr) -> tuple[str, str, ast.Call, str] | None:
        """(framework, method, call, router var) of a route decorator."""
        if not isinstance(dec, ast.Call) or not isinstance(dec.func, ast.Attribute):
            return None
        attr = dec.func.attr
        if attr not in ROUTE_DECORATORS:
            return None
        owner = dec.func.value
        owner_name = unparse(owner)
        call = self.mod.calls.get(owner_name)
        q = self.mod.call_name(call) if call is not None else ""
        if q.endswith(("FastAPI", "APIRouter")) or ("fastapi" in q):
            framework = "fastapi"
        elif q.endswith(("Flask", "Blueprint")) or "flask" in q:
            framework = "flask"
        elif owner_name in ("app", "router", "api", "api_router", "bp", "blueprint", "v1", "routes"):
            framework = "flask" if any("flask" in v for v in self.mod.imports.values()) else "fastapi"
        else:
            return None
        if attr in ("route", "api_route"):
            methods = [s for s, _ in str_list(kwarg(dec, "methods"))] or ["GET"]
            method = "/".join(m.upper() for m in methods)
        elif attr == "websocket":
            method = "WS"
        else:
            method = attr.upper()
        return framework, method, dec, owner_name

    # ------------------------------------------------------------ model calls
    def model_call(self, func: ast.AST, depth: int = 0, mod: ModuleIndex | None = None) -> str:
        """The first call in ``func`` that reaches a model, followed (depth-limited) through helpers defined in
        the same module or imported from another module of the repository (``from .inference import run``,
        ``inference.run(...)``)."""
        mod = mod or self.mod
        for node in walk_bounded(func, 5000):
            if not isinstance(node, ast.Call):
                continue
            text = unparse(node.func)
            if NOT_MODEL.search(text):
                continue
            last = text.rsplit(".", 1)[-1]
            receiver = text.rsplit(".", 1)[0] if "." in text else ""
            if last in STRONG_MODEL_METHODS:
                return short(node)
            if LLM_CREATE.search(text):
                return short(node)
            if last in WEAK_MODEL_METHODS and receiver and MODELISH.search(receiver):
                return short(node)
            if not receiver and BARE_MODEL.match(last) and last not in mod.functions:
                return short(node)
            if receiver == "self" and BARE_MODEL.match(last):
                return short(node)
            if depth < 2:
                found = self._helper(mod, receiver, last)
                if found is not None and found[1] is not func:
                    inner = self.model_call(found[1], depth + 1, found[0])
                    if inner:
                        return f"{last if not receiver else text}() -> {inner}"
        return ""

    def _helper(self, mod: ModuleIndex, receiver: str, name: str
                ) -> tuple[ModuleIndex, ast.FunctionDef | ast.AsyncFunctionDef] | None:
        """A helper function a handler calls: by bare name (local or imported), or ``module.function``."""
        if not receiver:
            return self.ri.resolve_function(mod, name)
        target = mod.imports.get(receiver, "").lstrip(".")
        if not target or "." in receiver:
            return None
        for other in self.ri.modules:
            if other is not mod and (other.module_name == target or other.module_name.endswith("." + target)):
                found = other.functions.get(name)
                return (other, found) if found is not None else None
        return None

    def _decorator_limits(self, func: ast.FunctionDef | ast.AsyncFunctionDef, route: Route) -> list[RateLimit]:
        out: list[RateLimit] = []
        for dec in func.decorator_list:
            if not isinstance(dec, ast.Call):
                continue
            text = unparse(dec.func)
            owner, _, attr = text.rpartition(".")
            lim = self.limiters.get(owner)
            if lim is not None and attr in ("limit", "shared_limit"):
                rate = const_str(dec.args[0]) if dec.args else const_str(kwarg(dec, "limit_value"))
                key, detail = lim.key, lim.key_detail
                kf = kwarg(dec, "key_func")
                if kf is not None:
                    key, detail = self.classify_key(kf, (lim.key, lim.key_detail))
                out.append(RateLimit(lim.source, self.mod.path, dec.lineno, key, detail,
                                     parse_limit_string(rate or ""), f'{text}("{rate}")',
                                     Scope("route", (route.ident,))))
            elif text.rsplit(".", 1)[-1] == "ratelimit" and "ratelimit" in self.mod.qualify(dec.func):
                out.append(self._django_ratelimit(dec, route))
        return out

    def _django_ratelimit(self, dec: ast.Call, route: Route) -> RateLimit:
        keytext = const_str(kwarg(dec, "key")) or unparse(kwarg(dec, "key") or ast.Constant(""))
        rate = const_str(kwarg(dec, "rate")) or ""
        if keytext in ("ip",):
            key, detail = KeyKind.IP, "key='ip'"
        elif keytext.startswith(("user", "header:")) or CONSUMER_KEY.search(keytext):
            key, detail = KeyKind.CONSUMER, f"key='{keytext}'"
        else:
            key, detail = KeyKind.UNKNOWN, f"key={keytext or 'missing'}"
        block = kwarg(dec, "block")
        extra = "" if not (isinstance(block, ast.Constant) and block.value is False) else " (block=False: not enforced)"
        return RateLimit("django-ratelimit", self.mod.path, dec.lineno, key, detail + extra,
                         parse_limit_string(rate), f"@ratelimit(key='{keytext}', rate='{rate}')",
                         Scope("route", (route.ident,)))

    def _exempt(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        for dec in func.decorator_list:
            text = unparse(dec)
            owner, _, attr = text.rpartition(".")
            if attr == "exempt" and owner in self.limiters:
                return True
        return False

    def _schema_call(self, body: str) -> bool:
        return any(re.search(rf"\b{re.escape(n)}\s*\(\s*\*\*", body) for n in self.ri.schemas)

    # ------------------------------------------------------------ outputs
    def _with_io(self, route: Route, func: ast.AST, line: int, validation: tuple[str, str, int] | None = None,
                 response_model: ast.expr | None = None) -> Route:
        """``route`` with its body validation (read from ``func`` unless given) and its output filled in; ``line``
        stands where the code shows no line of its own."""
        valid, vdetail, vline = validation if validation is not None else self._body_validation(func)
        output, odetail, oline, opath = self._output(func, response_model)
        return replace(route, validation=valid, validation_detail=vdetail, validation_line=vline or line,
                       output=output, output_detail=odetail, output_line=oline or line,
                       output_path=opath or self.mod.path)

    def _output(self, func: ast.AST, response_model: ast.expr | None) -> tuple[str, str, int, str]:
        local: dict[str, ast.expr] = {}
        for node in walk_bounded(func, 5000):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                local.setdefault(node.targets[0].id, node.value)
        for node in walk_bounded(func, 5000):
            if isinstance(node, ast.Return) and node.value is not None:
                why = _exposes(node.value, local, 0)
                if why:
                    return "exposes", f"returns {why}", node.lineno, ""
        schema = self.ri.schemas.get(unparse(response_model).rsplit(".", 1)[-1]) if response_model else None
        if schema is not None and schema.sensitive:
            fname, fline = schema.sensitive[0]
            return "exposes", f"response model {schema.name} has field '{fname}'", fline, schema.path
        text = unparse(func)
        m = re.search(r"(\bround\(|np\.round|\.round\(|argmax\(|top_k\s*=\s*1\b|\.item\(\)\s*[,}])", text)
        if m:
            what = m.group(0).strip(",} (")
            return "minimised", f"handler reduces the output ({what})", line_of(func, m.group(0)), ""
        if schema is not None:
            return "minimised", f"response model {schema.name} has no logits/probabilities/embeddings fields", \
                getattr(response_model, "lineno", 0), ""
        return "none", "", 0, ""

    def _body_validation(self, func: ast.AST) -> tuple[str, str, int]:
        text = unparse(func)
        m = RAW_BODY.search(text)
        if m is None:
            return "none", "", 0
        line = line_of(func, m.group(0))
        v = VALIDATOR_CALLS.search(text)
        if v or self._schema_call(text):
            what = v.group(0) if v else "schema(**data)"
            return "validated", f"{m.group(0)} checked by {what.strip('(')}", line_of(func, what)
        return "raw", f"{m.group(0)} used without a schema", line


def named_for_inference(url: str, handler: str) -> bool:
    """A route whose URL or handler name says a model answers there (``/predict``, ``def recommend``)."""
    return bool(MODEL_URL.search(url) or STRONG_INFERENCE_WORD.search(handler))


def line_of(func: ast.AST, needle: str) -> int:
    """Line of the first node in ``func`` whose source contains ``needle`` (the function's line otherwise)."""
    best = getattr(func, "lineno", 0)
    for node in walk_bounded(func, 5000):
        if isinstance(node, (ast.stmt, ast.expr)) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                and needle in unparse(node):
                best = node.lineno
                if isinstance(node, ast.expr):
                    return best
    return best


def _exposes(node: ast.expr, local: dict[str, ast.expr], depth: int) -> str:
    """What sensitive model output an expression returns (``""`` when none)."""
    for sub in walk_bounded(node, 2000):
        if isinstance(sub, ast.Call):
            last = unparse(sub.func).rsplit(".", 1)[-1]
            if last in SENSITIVE_CALLS:
                return f"{last}(...) ({short(sub, 50)})"
            for kw in sub.keywords:  # HF pipelines asked for every class score
                if (kw.arg == "return_all_scores" and isinstance(kw.value, ast.Constant) and kw.value.value is True) \
                        or (kw.arg == "top_k" and isinstance(kw.value, ast.Constant) and kw.value.value is None):
                    return f"all class scores ({short(sub, 50)})"
        if isinstance(sub, ast.Attribute) and sub.attr in SENSITIVE_ATTRS:
            return f".{sub.attr} ({short(sub, 50)})"
        if isinstance(sub, ast.Dict):
            for k in sub.keys:
                ks = const_str(k)
                if ks is not None and ks.lower() in SENSITIVE_FIELDS:
                    return f"a '{ks}' field"
        if isinstance(sub, ast.Call) and unparse(sub.func) in ("dict",):
            for kw in sub.keywords:
                if kw.arg and kw.arg.lower() in SENSITIVE_FIELDS:
                    return f"a '{kw.arg}' field"
        if isinstance(sub, ast.Name) and depth < 2 and sub.id in local and local[sub.id] is not node:
            why = _exposes(local[sub.id], local, depth + 1)
            if why:
                return why
    return ""


def pyrate_rates(node: ast.expr, mod: ModuleIndex) -> list[Window]:
    """``Limiter(Rate(2, Duration.SECOND * 5), ...)`` -> windows (pyrate-limiter durations are milliseconds)."""
    out: list[Window] = []
    if isinstance(node, ast.Name) and node.id in mod.assigns:
        node = mod.assigns[node.id]
    for sub in walk_bounded(node, 500):
        if isinstance(sub, ast.Call) and unparse(sub.func).rsplit(".", 1)[-1] == "Rate" and len(sub.args) >= 2:
            count = const_num(sub.args[0])
            seconds = _duration(sub.args[1])
            if count is not None and seconds:
                out.append(Window(int(seconds), count))
    return out


def _duration(node: ast.expr) -> float:
    if isinstance(node, ast.Attribute) and node.attr in DURATIONS:
        return float(DURATIONS[node.attr])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        a, b = _duration(node.left), _duration(node.right)
        na, nb = const_num(node.left), const_num(node.right)
        if a and nb is not None:
            return a * nb
        if b and na is not None:
            return b * na
    n = const_num(node)
    return n / 1000 if n is not None else 0.0
