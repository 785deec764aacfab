"""Python serving code read with ``ast``: routes and what protects, validates and limits each of them.

Over 600 lines: one module reader that follows routes, dependencies and limiters across the frameworks in a
single walk; a split per framework (FastAPI, Flask, DRF, Django, limiters) is planned, not done yet.

Frameworks: FastAPI (``@app.post``, ``APIRouter`` with prefixes and router/app/include dependencies), Flask
(``@app.route``, ``@bp.post``), Django REST framework (``APIView``/viewsets, ``@api_view``, ``REST_FRAMEWORK``
settings) and Django views named in ``urls.py``. Limiters: slowapi, flask-limiter, fastapi-limiter (``times=/seconds=``
and 0.2's ``limiter=Limiter(Rate(...))``), DRF throttles, django-ratelimit. Nothing is imported or executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

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

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}
ROUTE_DECORATORS = HTTP_METHODS | {"route", "api_route", "websocket"}
SECURITY_SCHEMES = {"HTTPBearer", "HTTPBasic", "HTTPDigest", "APIKeyHeader", "APIKeyQuery", "APIKeyCookie",
                    "OAuth2PasswordBearer", "OAuth2AuthorizationCodeBearer", "OAuth2", "OpenIdConnect"}
AUTH_NAME = re.compile(r"(auth|token|api_?key|apikey|current_user|jwt|credential|permission|login|bearer|"
                       r"principal|require_user|verify_key|verify_user|signed_in|authenticated)", re.I)
AUTH_DECORATORS = re.compile(r"(login_required|jwt_required|auth_required|token_required|requires_auth|"
                             r"api_key_required|require_api_key|roles_required|permission_required|"
                             r"roles_accepted|verify_jwt|auth\.login_required|requires_scope)", re.I)
STRONG_MODEL_METHODS = {"predict", "predict_proba", "predict_log_proba", "decision_function", "generate_content",
                        "text_generation", "chat_completion", "batch_predict"}
WEAK_MODEL_METHODS = {"generate", "forward", "infer", "inference", "encode", "embed", "embed_query",
                      "embed_documents", "invoke", "ainvoke", "run", "classify", "transform", "stream", "score",
                      "__call__"}
BARE_MODEL = re.compile(r"^_?(model|clf|classifier|predictor|pipe|pipeline|llm|generator|chain|agent|detector|net|"
                        r"encoder|embedder|estimator|regressor|recognizer|summarizer|translator|tagger|ner|"
                        r"segmenter|reranker)(_?\w*)?$", re.I)
MODELISH = re.compile(r"(model|pipe|classifier|predictor|regressor|estimator|llm|generator|chain|sess|clf|"
                      r"detector|encoder|embedder|agent|net\b|runner|onnx|booster|tagger|transformer)", re.I)
NOT_MODEL = re.compile(r"(\bobjects\b|^model_(dump|validate|json|copy|fields|construct)|BaseModel|db\.|session\.query)")
MODEL_URL = re.compile(r"(predict|infer|generat|chat|complet|embed|classif|score|detect|recogni|translat|summar|"
                       r"recommend|"
                       r"invocations|v\d/models)", re.I)
LLM_CREATE = re.compile(r"(completions|messages|chat|embeddings|responses)\.create$")
SENSITIVE_FIELDS = {"logits", "probabilities", "probs", "probas", "scores", "embeddings", "embedding",
                    "hidden_states", "last_hidden_state", "attentions", "logprobs", "top_logprobs", "raw_scores",
                    "confidences", "class_probabilities"}
SENSITIVE_CALLS = {"predict_proba", "predict_log_proba", "decision_function"}
SENSITIVE_ATTRS = {"logits", "last_hidden_state", "hidden_states", "attentions", "logprobs", "pooler_output"}
VALIDATOR_CALLS = re.compile(r"(model_validate|parse_obj|parse_raw|validate_python|jsonschema\.validate|"
                             r"\bvalidate\(|\.load\(|is_valid|Draft\d+Validator|TypeAdapter)")
RAW_BODY = re.compile(r"request\.(json\(\)|body\(\)|form\(\)|get_json|json\b|form\b|data\b|files\b|values\b|"
                      r"get_data|POST\b|query_params|stream\(\))")
IP_KEY = re.compile(r"(remote_addr|remote_address|client\.host|get_ipaddr|\bip\b|x-forwarded-for|x-real-ip)", re.I)
CONSUMER_KEY = re.compile(r"(api[-_]?key|authorization|x-api|token|user|account|tenant|client_id|subscription|"
                          r"consumer|customer|org_id|principal|jwt|credential)", re.I)
DRF_VIEW_BASES = re.compile(r"(APIView|ViewSet|GenericAPIView|CreateAPIView|ListCreateAPIView|RetrieveAPIView|"
                            r"GenericViewSet|ModelViewSet|ViewSetMixin|UpdateAPIView)$")
DRF_THROTTLES = {"AnonRateThrottle": ("anon", KeyKind.IP), "UserRateThrottle": ("user", KeyKind.CONSUMER),
                 "ScopedRateThrottle": ("", KeyKind.CONSUMER)}
DURATIONS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800, "MONTH": 2592000}


@dataclass(frozen=True)
class SchemaInfo:
    """A request/response schema class (pydantic, marshmallow, DRF serializer) found in the repository."""

    name: str
    path: str
    line: int
    constrained: bool
    sensitive: tuple[tuple[str, int], ...]


@dataclass
class RepoIndex:
    """Cross-module knowledge: schemas, DRF settings, custom throttles, Django URL names."""

    modules: list[ModuleIndex]
    schemas: dict[str, SchemaInfo] = field(default_factory=dict)
    drf_settings: dict[str, tuple[ast.expr, str, int]] = field(default_factory=dict)
    throttles: dict[str, tuple[str, KeyKind]] = field(default_factory=dict)
    urls: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # view name -> (url, path, line)
    app_deps: list[tuple[ModuleIndex, ast.expr]] = field(default_factory=list)  # FastAPI(dependencies=[...])
    app_auth: list[tuple[str, int, str]] = field(default_factory=list)  # HTTP middleware that rejects 401/403

    def resolve_function(self, mod: ModuleIndex, name: str) -> tuple[ModuleIndex, ast.FunctionDef |
                                                                      ast.AsyncFunctionDef] | None:
        """A function by name: defined in ``mod`` or imported into it from another module of the repository."""
        func = mod.functions.get(name)
        if func is not None:
            return mod, func
        target = mod.imports.get(name, "")
        owner, _, attr = target.rpartition(".")
        if not owner:
            return None
        tail = owner.lstrip(".")
        for other in self.modules:
            if other is not mod and (other.module_name == tail or other.module_name.endswith("." + tail)):
                found = other.functions.get(attr)
                if found is not None:
                    return other, found
        return None


# ---------------------------------------------------------------------------- repository-wide pass
def build_repo_index(modules: list[ModuleIndex]) -> RepoIndex:
    """First pass over every module: schema classes, DRF settings and throttles, Django URL patterns."""
    ri = RepoIndex(modules)
    pending: list[tuple[ModuleIndex, ast.ClassDef]] = [(m, c) for m in modules for c in m.classes.values()]
    known_bases = {"BaseModel", "Schema", "Serializer", "ModelSerializer", "SQLModel", "RootModel"}
    for _ in range(4):  # subclasses of subclasses, bounded
        left: list[tuple[ModuleIndex, ast.ClassDef]] = []
        for mod, cls in pending:
            bases = {unparse(b).rsplit(".", 1)[-1] for b in cls.bases}
            if bases & known_bases or bases & set(ri.schemas):
                ri.schemas[cls.name] = _schema_info(mod, cls, ri)
                known_bases.add(cls.name)
            else:
                left.append((mod, cls))
        pending = left
    for mod in modules:
        for cls in mod.classes.values():
            bases = {unparse(b).rsplit(".", 1)[-1] for b in cls.bases}
            for base in bases:
                if base in DRF_THROTTLES:
                    scope = _class_attr_str(cls, "scope") or DRF_THROTTLES[base][0]
                    ri.throttles[cls.name] = (scope, DRF_THROTTLES[base][1])
        rf = mod.assigns.get("REST_FRAMEWORK")
        if isinstance(rf, ast.Dict):
            for k, v in zip(rf.keys, rf.values, strict=False):
                key = const_str(k)
                if key is not None:
                    ri.drf_settings[key] = (v, mod.path, (k or v).lineno)
        _collect_urls(mod, ri)
        for call in mod.calls.values():
            if mod.call_name(call).endswith("FastAPI"):
                ri.app_deps.extend((mod, d) for d in _list_items(kwarg(call, "dependencies")))
        for func in mod.functions.values():
            decos = " ".join(unparse(d) for d in func.decorator_list)
            if re.search(r"\.middleware\(\s*['\"]http", decos):
                body = unparse(func)
                if re.search(r"(401|403|HTTP_401|HTTP_403|UNAUTHORIZED|FORBIDDEN)", body) and \
                        CONSUMER_KEY.search(body):
                    ri.app_auth.append((mod.path, func.lineno, f"HTTP middleware {func.name}() rejects with 401/403"))
    return ri


def _class_attr(cls: ast.ClassDef, name: str) -> ast.expr | None:
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name) and t.id == name:
                    return stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
            return stmt.value
    return None


def _class_attr_str(cls: ast.ClassDef, name: str) -> str | None:
    return const_str(_class_attr(cls, name))


CONSTRAINT_KW = {"ge", "gt", "le", "lt", "max_length", "min_length", "pattern", "regex", "max_items",
                 "min_items", "multiple_of", "max_digits", "validate", "max_value", "min_value", "allow_inf_nan"}
CONSTRAINED_TYPES = re.compile(r"\b(conint|confloat|constr|conlist|conbytes|condecimal|conset|PositiveInt|"
                               r"PositiveFloat|NonNegative\w*|StringConstraints|Literal|EmailStr|HttpUrl|"
                               r"Annotated\[.*(Field|Len|Ge|Le|Gt|Lt|MaxLen|Interval)|OneOf|Length|Range)")


def _schema_info(mod: ModuleIndex, cls: ast.ClassDef, ri: RepoIndex) -> SchemaInfo:
    constrained = False
    sensitive: list[tuple[str, int]] = []
    for base in cls.bases:
        parent = ri.schemas.get(unparse(base).rsplit(".", 1)[-1])
        if parent is not None:
            constrained = constrained or parent.constrained
            sensitive.extend(parent.sensitive)
    for stmt in cls.body:
        name: str | None = None
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            if CONSTRAINED_TYPES.search(unparse(stmt.annotation)):
                constrained = True
            value = stmt.value
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            value = stmt.value
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(re.search(r"validator|validates", unparse(d)) for d in stmt.decorator_list):
                constrained = True
            continue
        else:
            continue
        if isinstance(value, ast.Call) and any(kw.arg in CONSTRAINT_KW for kw in value.keywords):
            constrained = True
        if name.lower() in SENSITIVE_FIELDS:
            sensitive.append((name, stmt.lineno))
    return SchemaInfo(cls.name, mod.path, cls.lineno, constrained, tuple(sensitive))


def _collect_urls(mod: ModuleIndex, ri: RepoIndex) -> None:
    for node in mod.nodes:
        if not isinstance(node, ast.Call) or not node.args:
            continue
        fname = unparse(node.func).rsplit(".", 1)[-1]
        if fname in ("path", "re_path", "url") and len(node.args) >= 2:
            url = const_str(node.args[0])
            view = node.args[1]
            if isinstance(view, ast.Call):  # PredictView.as_view()
                view = view.func.value if isinstance(view.func, ast.Attribute) else view.func
            if url is not None:
                name = unparse(view).rsplit(".", 1)[-1]
                ri.urls.setdefault(name, ("/" + url.lstrip("^/").rstrip("$"), mod.path, node.lineno))
        elif fname == "register" and len(node.args) >= 2 and isinstance(node.func, ast.Attribute):
            url = const_str(node.args[0])
            if url is not None:
                name = unparse(node.args[1]).rsplit(".", 1)[-1]
                ri.urls.setdefault(name, ("/" + url.lstrip("^r/").rstrip("$"), mod.path, node.lineno))


# ---------------------------------------------------------------------------- per-module reading
@dataclass
class _Limiter:
    source: str
    key: KeyKind
    key_detail: str
    defaults: tuple[Window, ...]
    line: int
    default_text: str


class ModuleReader:
    """Reads one module's routes, with the repository index for cross-module names."""

    def __init__(self, mod: ModuleIndex, ri: RepoIndex, prefixes: dict[tuple[str, str], str],
                 include_deps: dict[tuple[str, str], list[tuple[ModuleIndex, ast.expr]]]) -> None:
        self.mod = mod
        self.ri = ri
        self.prefixes = prefixes
        self.include_deps = include_deps
        self.facts = Facts()
        self.limiters: dict[str, _Limiter] = {}
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
                self.limiters[name] = _Limiter(source, key, detail, windows, call.lineno, "; ".join(texts))
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

    # ------------------------------------------------------------ routes
    def read(self) -> Facts:
        """Every route of the module, plus module-level limits."""
        for func in self._functions():
            for route in self._routes_of(func):
                self.facts.routes.append(route)
        for cls in self.mod.classes.values():
            self._drf_class(cls)
        self._plain_django_views()
        return self.facts

    def _functions(self) -> Iterable[ast.FunctionDef | ast.AsyncFunctionDef]:
        """Decorated functions anywhere but directly in a class (app factories register routes in a function)."""
        methods = {id(s) for n in self.mod.nodes if isinstance(n, ast.ClassDef) for s in n.body}
        for node in self.mod.nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list \
                    and id(node) not in methods:
                yield node

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

    def _routes_of(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Route]:
        out: list[Route] = []
        for dec in func.decorator_list:
            found = self._route_decorator(dec)
            if found is None:
                continue
            framework, method, call, owner = found
            url = const_str(call.args[0]) if call.args else const_str(kwarg(call, "path") or kwarg(call, "rule"))
            url = (url or "/")
            prefix = self._prefix(owner, framework)
            full = (prefix.rstrip("/") + "/" + url.lstrip("/")) if prefix else url
            if framework == "fastapi":
                out.append(self._fastapi_route(func, call, method, full or "/", owner))
            else:
                out.append(self._flask_route(func, call, method, full or "/"))
        if not out and any(self._is_drf_api_view(d) for d in func.decorator_list):
            out.append(self._drf_function(func))
        return out

    def _prefix(self, owner: str, framework: str) -> str:
        call = self.mod.calls.get(owner)
        prefix = ""
        if call is not None:
            prefix = const_str(kwarg(call, "prefix") or kwarg(call, "url_prefix")) or ""
        outer = self.prefixes.get((self.mod.module_name, owner), "")
        return outer.rstrip("/") + prefix if outer else prefix

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

    # ------------------------------------------------------------ FastAPI
    def _fastapi_route(self, func: ast.FunctionDef | ast.AsyncFunctionDef, dec: ast.Call, method: str,
                       url: str, owner: str) -> Route:
        model = self.model_call(func)
        route = Route("fastapi", method, url, func.name, self.mod.path, dec.lineno,
                      bool(model) or _named_for_inference(url, func.name), model)
        mod = self.mod
        deps: list[tuple[ModuleIndex, ast.expr]] = []
        deps.extend((mod, d) for d in _list_items(kwarg(dec, "dependencies")))
        owner_call = mod.calls.get(owner)
        if owner_call is not None:
            deps.extend((mod, d) for d in _list_items(kwarg(owner_call, "dependencies")))
        deps.extend(self.include_deps.get((mod.module_name, owner), []))
        deps.extend(d for d in self.ri.app_deps if not (d[0] is mod and owner_call is not None
                                                        and mod.call_name(owner_call).endswith("FastAPI")))
        params = _params(func)
        for _, _, default in params:
            if default is not None:
                deps.append((mod, default))
        for _, ann, _ in params:
            if ann is not None and isinstance(ann, ast.Subscript) and unparse(ann.value).endswith("Annotated"):
                deps.extend((mod, m) for m in _annotated_meta(ann))
        auth: list[str] = []
        limits: list[RateLimit] = []
        for dep_mod, dep in deps:
            inner = _depends_target(dep)
            if inner is None:
                continue
            target, is_security = inner
            lim = self._fastapi_limiter(target, route, dep_mod)
            if lim is not None:
                limits.append(lim)
                continue
            desc = auth_dependency(self.ri, dep_mod, target, 0)
            if desc or is_security:
                auth.append(desc or f"Security({short(target, 40)})")
        auth.extend(f"{d} ({p}:{ln})" for p, ln, d in self.ri.app_auth)
        limits.extend(self._decorator_limits(func, route))
        validation, vdetail, vline = self._fastapi_validation(func, params)
        output, odetail, oline, opath = self._output(func, kwarg(dec, "response_model") or func.returns)
        return replace(route, auth=tuple(auth), auth_line=dec.lineno, validation=validation,
                       validation_detail=vdetail, validation_line=vline or dec.lineno, output=output,
                       output_detail=odetail, output_line=oline or dec.lineno, output_path=opath or self.mod.path,
                       limits=tuple(limits), exempt=self._exempt(func))

    def _fastapi_limiter(self, target: ast.expr, route: Route, mod: ModuleIndex) -> RateLimit | None:
        if not isinstance(target, ast.Call):
            return None
        q = mod.call_name(target)
        if not q.endswith("RateLimiter"):
            return None
        windows: tuple[Window, ...] = ()
        times, seconds = const_num(kwarg(target, "times")), 0.0
        for unit, mult in (("milliseconds", 0.001), ("seconds", 1), ("minutes", 60), ("hours", 3600)):
            v = const_num(kwarg(target, unit))
            if v is not None:
                seconds += v * mult
        if times is not None and seconds:
            windows = (Window(int(seconds), times),)
        lim_node = kwarg(target, "limiter")
        if lim_node is not None:
            windows = tuple(_pyrate_rates(lim_node, mod))
        ident = kwarg(target, "identifier")
        if ident is not None:
            key, detail = self.classify_key(ident, (KeyKind.IP, "default identifier (IP)"))
        elif self.fastapi_identifier is not None:
            key, detail = self.fastapi_identifier
        else:
            key, detail = KeyKind.IP, "default identifier (client IP)"
        return RateLimit("fastapi-limiter", mod.path, target.lineno, key, detail, windows,
                         short(target), Scope("route", (route.ident,)))

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

    def _fastapi_validation(self, func: ast.FunctionDef | ast.AsyncFunctionDef,
                            params: list[tuple[str, ast.expr | None, ast.expr | None]]) -> tuple[str, str, int]:
        verdicts: list[tuple[str, str, int]] = []
        body_text = unparse(func)
        for name, ann, default in params:
            if name in ("self", "cls", "response", "background_tasks", "db"):
                continue
            if default is not None and _depends_target(default) is not None:
                continue
            ann_text = unparse(ann) if ann is not None else ""
            if ann is not None and isinstance(ann, ast.Subscript) and ann_text.startswith("Annotated"):
                meta = _annotated_meta(ann)
                if any(_depends_target(m) is not None for m in meta):
                    continue
                if any(isinstance(m, ast.Call) and any(k.arg in CONSTRAINT_KW for k in m.keywords) for m in meta):
                    verdicts.append(("validated", f"{name}: {short(ann, 60)}", ann.lineno))
                    continue
                inner = ann.slice.elts[0] if isinstance(ann.slice, ast.Tuple) and ann.slice.elts else ann.slice
                ann_text = unparse(inner)
            if isinstance(default, ast.Call) and any(k.arg in CONSTRAINT_KW for k in default.keywords):
                verdicts.append(("validated", f"{name} = {short(default, 60)}", default.lineno))
                continue
            base = re.sub(r"^(typing\.|t\.)", "", ann_text)
            schema_name = re.sub(r"^(List|list|Sequence|Optional)\[(.*)\]$", r"\2", base).rsplit(".", 1)[-1]
            schema = self.ri.schemas.get(schema_name)
            line = ann.lineno if ann is not None else func.lineno
            if schema is not None:
                state = "constrained" if schema.constrained else "no Field constraints"
                verdicts.append(("validated" if schema.constrained else "typed",
                                 f"{name}: {schema.name} ({state}, {schema.path}:{schema.line})", line))
            elif re.match(r"^(dict|Dict|Any|typing\.Any|Json|Mapping|dict\[.*\]|Dict\[.*\]|object)$", base):
                verdicts.append(("raw", f"{name}: {base}", line))
            elif base in ("Request", "starlette.requests.Request") or base.endswith(".Request"):
                m = RAW_BODY.search(body_text)
                if m and not VALIDATOR_CALLS.search(body_text) and not self._schema_call(body_text):
                    verdicts.append(("raw", f"{m.group(0)} read without a schema", _line_of(func, m.group(0))))
            elif base in ("UploadFile", "fastapi.UploadFile", "bytes", "File"):
                verdicts.append(("typed", f"{name}: {base} (upload; size checks not recognised)", line))
            elif base in ("str", "int", "float", "bool"):
                verdicts.append(("typed", f"{name}: {base}", line))
        kinds = {v[0] for v in verdicts}
        for kind in ("raw", "validated", "typed"):
            if kind in kinds:
                first = next(v for v in verdicts if v[0] == kind)
                return first
        return "none", "", 0

    def _schema_call(self, body: str) -> bool:
        return any(re.search(rf"\b{re.escape(n)}\s*\(\s*\*\*", body) for n in self.ri.schemas)

    # ------------------------------------------------------------ outputs
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
            return "minimised", f"handler reduces the output ({what})", _line_of(func, m.group(0)), ""
        if schema is not None:
            return "minimised", f"response model {schema.name} has no logits/probabilities/embeddings fields", \
                getattr(response_model, "lineno", 0), ""
        return "none", "", 0, ""

    # ------------------------------------------------------------ Flask
    def _flask_route(self, func: ast.FunctionDef | ast.AsyncFunctionDef, dec: ast.Call, method: str,
                     url: str) -> Route:
        model = self.model_call(func)
        route = Route("flask", method, url, func.name, self.mod.path, dec.lineno,
                      bool(model) or _named_for_inference(url, func.name), model)
        auth = [unparse(d) for d in func.decorator_list if AUTH_DECORATORS.search(unparse(d))]
        before = self._before_request_auth()
        if before:
            auth.append(before)
        validation, vdetail, vline = self._body_validation(func)
        output, odetail, oline, opath = self._output(func, None)
        return replace(route, auth=tuple(auth), auth_line=dec.lineno, validation=validation,
                       validation_detail=vdetail, validation_line=vline or dec.lineno, output=output,
                       output_detail=odetail, output_line=oline or dec.lineno, output_path=opath or self.mod.path,
                       limits=tuple(self._decorator_limits(func, route)), exempt=self._exempt(func))

    def _before_request_auth(self) -> str:
        for func in self.mod.functions.values():
            if any(unparse(d).endswith("before_request") for d in func.decorator_list):
                body = unparse(func)
                if re.search(r"(401|403|Unauthorized|Forbidden)", body) and CONSUMER_KEY.search(body):
                    return f"@before_request {func.name}() rejects with 401/403"
        return ""

    def _body_validation(self, func: ast.AST) -> tuple[str, str, int]:
        text = unparse(func)
        m = RAW_BODY.search(text)
        if m is None:
            return "none", "", 0
        line = _line_of(func, m.group(0))
        v = VALIDATOR_CALLS.search(text)
        if v or self._schema_call(text):
            what = v.group(0) if v else "schema(**data)"
            return "validated", f"{m.group(0)} checked by {what.strip('(')}", _line_of(func, what)
        return "raw", f"{m.group(0)} used without a schema", line

    # ------------------------------------------------------------ DRF / Django
    def _is_drf_api_view(self, dec: ast.expr) -> bool:
        target = dec.func if isinstance(dec, ast.Call) else dec
        return unparse(target).rsplit(".", 1)[-1] == "api_view"

    def _drf_function(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> Route:
        url, methods = self._django_url(func.name, func.lineno)
        for dec in func.decorator_list:
            if isinstance(dec, ast.Call) and unparse(dec.func).endswith("api_view"):
                methods = "/".join(s for s, _ in str_list(dec.args[0] if dec.args else None)) or "GET"
        model = self.model_call(func)
        route = Route("drf", methods, url, func.name, self.mod.path, func.lineno,
                      bool(model) or bool(MODEL_URL.search(url + func.name)), model)
        perms: ast.expr | None = None
        throttles: ast.expr | None = None
        for dec in func.decorator_list:
            if isinstance(dec, ast.Call) and dec.args:
                name = unparse(dec.func).rsplit(".", 1)[-1]
                if name == "permission_classes":
                    perms = dec.args[0]
                elif name == "throttle_classes":
                    throttles = dec.args[0]
        route = self._drf_auth(route, perms, func.lineno, [unparse(d) for d in func.decorator_list])
        validation, vdetail, vline = self._body_validation(func)
        output, odetail, oline, opath = self._output(func, None)
        limits = self._drf_throttles(route, throttles, None)
        limits.extend(self._decorator_limits(func, route))
        return replace(route, validation=validation, validation_detail=vdetail, validation_line=vline or func.lineno,
                       output=output, output_detail=odetail, output_line=oline or func.lineno,
                       output_path=opath or self.mod.path, limits=tuple(limits))

    def _django_url(self, name: str, line: int) -> tuple[str, str]:
        hit = self.ri.urls.get(name)
        return (hit[0] if hit else f"<{name}>"), "POST"

    def _drf_auth(self, route: Route, perms: ast.expr | None, line: int, decorators: list[str]) -> Route:
        names = [s.rsplit(".", 1)[-1] for s, _ in str_list(perms)]
        pline = perms.lineno if perms is not None else line
        where = f"permission_classes = [{', '.join(names)}]"
        if perms is None:
            setting = self.ri.drf_settings.get("DEFAULT_PERMISSION_CLASSES")
            if setting is not None:
                names = [s.rsplit(".", 1)[-1] for s, _ in str_list(setting[0])]
                where = f"DEFAULT_PERMISSION_CLASSES = [{', '.join(names)}] ({setting[1]}:{setting[2]})"
            else:
                names = ["AllowAny"]
                where = "no permission_classes and no DEFAULT_PERMISSION_CLASSES (DRF default AllowAny)"
        if any(AUTH_DECORATORS.search(d) for d in decorators):
            return replace(route, auth=tuple(d for d in decorators if AUTH_DECORATORS.search(d)), auth_line=line)
        if not names or names == ["AllowAny"] or "AllowAny" in names:
            return replace(route, auth_denied=where, auth_line=pline)
        return replace(route, auth=(where,), auth_line=pline)

    def _drf_throttles(self, route: Route, throttles: ast.expr | None, scope_attr: str | None) -> list[RateLimit]:
        out: list[RateLimit] = []
        names = str_list(throttles)
        src_path, base_line = self.mod.path, throttles.lineno if throttles is not None else route.line
        if throttles is None:
            setting = self.ri.drf_settings.get("DEFAULT_THROTTLE_CLASSES")
            if setting is None:
                return out
            names = str_list(setting[0])
            src_path, base_line = setting[1], setting[2]
        rates_setting = self.ri.drf_settings.get("DEFAULT_THROTTLE_RATES")
        rates: dict[str, str] = {}
        if rates_setting is not None and isinstance(rates_setting[0], ast.Dict):
            for k, v in zip(rates_setting[0].keys, rates_setting[0].values, strict=False):
                ks, vs = const_str(k), const_str(v)
                if ks is not None and vs is not None:
                    rates[ks] = vs
        for full, line in names:
            cname = full.rsplit(".", 1)[-1]
            info = self.ri.throttles.get(cname) or DRF_THROTTLES.get(cname)
            if info is None:
                continue
            scope, key = info
            if cname == "ScopedRateThrottle":
                scope = scope_attr or ""
            rate = rates.get(scope, "")
            windows = parse_limit_string(rate, drf=True)
            kdetail = f"{cname} ({'client IP' if key is KeyKind.IP else 'user id, IP for anonymous'})"
            out.append(RateLimit("drf", src_path, line if throttles is not None else base_line, key, kdetail,
                                 windows, f"{cname} rate '{scope}': '{rate or 'missing'}'",
                                 Scope("route", (route.ident,))))
        return out

    def _drf_class(self, cls: ast.ClassDef) -> None:
        bases = [unparse(b).rsplit(".", 1)[-1] for b in cls.bases]
        if not any(DRF_VIEW_BASES.search(b) for b in bases) and not \
                any(b == "View" for b in bases):
            return
        drf = any(DRF_VIEW_BASES.search(b) for b in bases)
        url, _ = self._django_url(cls.name, cls.lineno)
        handlers = [s for s in cls.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and (s.name in HTTP_METHODS or s.name in ("create", "list", "retrieve", "update")
                         or any("action" in unparse(d) for d in s.decorator_list))]
        for handler in handlers:
            model = self.model_call(handler) or self.model_call(cls)
            method = handler.name.upper() if handler.name in HTTP_METHODS else "POST"
            route = Route("drf" if drf else "django", method, url, f"{cls.name}.{handler.name}", self.mod.path,
                          handler.lineno, bool(model) or bool(MODEL_URL.search(url + cls.name)), model)
            decorators = [unparse(d) for d in [*cls.decorator_list, *handler.decorator_list]]
            if drf:
                route = self._drf_auth(route, _class_attr(cls, "permission_classes"), cls.lineno, decorators)
                limits = self._drf_throttles(route, _class_attr(cls, "throttle_classes"),
                                             _class_attr_str(cls, "throttle_scope"))
            else:
                auth = tuple(d for d in decorators if AUTH_DECORATORS.search(d))
                if any(AUTH_DECORATORS.search(unparse(b)) or "LoginRequiredMixin" in unparse(b) for b in cls.bases):
                    auth = (*auth, "LoginRequiredMixin")
                route = replace(route, auth=auth, auth_line=cls.lineno)
                limits = []
            for dec in [*cls.decorator_list, *handler.decorator_list]:
                if isinstance(dec, ast.Call) and unparse(dec.func).endswith("method_decorator") and dec.args \
                        and isinstance(dec.args[0], ast.Call) and unparse(dec.args[0].func).endswith("ratelimit"):
                    limits.append(self._django_ratelimit(dec.args[0], route))
            limits.extend(self._decorator_limits(handler, route))
            validation, vdetail, vline = self._body_validation(handler)
            output, odetail, oline, opath = self._output(handler, None)
            self.facts.routes.append(replace(
                route, validation=validation, validation_detail=vdetail, validation_line=vline or handler.lineno,
                output=output, output_detail=odetail, output_line=oline or handler.lineno,
                output_path=opath or self.mod.path, limits=tuple(limits)))

    def _plain_django_views(self) -> None:
        if not self.mod.path.endswith("views.py"):
            return
        for func in self.mod.functions.values():
            if func.name not in self.ri.urls or any(self._is_drf_api_view(d) for d in func.decorator_list):
                continue
            if any(self._route_decorator(d) for d in func.decorator_list):
                continue
            url, _ = self._django_url(func.name, func.lineno)
            model = self.model_call(func)
            decorators = [unparse(d) for d in func.decorator_list]
            route = Route("django", "ANY", url, func.name, self.mod.path, func.lineno,
                          bool(model) or bool(MODEL_URL.search(url)), model,
                          auth=tuple(d for d in decorators if AUTH_DECORATORS.search(d)), auth_line=func.lineno)
            limits = self._decorator_limits(func, route)
            validation, vdetail, vline = self._body_validation(func)
            output, odetail, oline, opath = self._output(func, None)
            self.facts.routes.append(replace(
                route, validation=validation, validation_detail=vdetail, validation_line=vline or func.lineno,
                output=output, output_detail=odetail, output_line=oline or func.lineno,
                output_path=opath or self.mod.path, limits=tuple(limits)))


# ---------------------------------------------------------------------------- helpers
def _named_for_inference(url: str, handler: str) -> bool:
    """A route whose URL or handler name says a model answers there (``/predict``, ``def recommend``)."""
    return bool(MODEL_URL.search(url) or STRONG_INFERENCE_WORD.search(handler))


def auth_dependency(ri: RepoIndex, mod: ModuleIndex, target: ast.expr, depth: int) -> str:
    """Why a FastAPI dependency authenticates the caller, or ``""``.

    Follows security-scheme instances (``APIKeyHeader(...)``), dependency functions whose parameters depend on a
    scheme (also across modules of the repository, three levels deep), functions that reject with 401/403, and
    finally the dependency's name.
    """
    text = unparse(target)
    name = text.rsplit(".", 1)[-1].split("(")[0]
    call = mod.calls.get(text)
    if call is not None:
        scheme = mod.call_name(call).rsplit(".", 1)[-1]
        if scheme in SECURITY_SCHEMES:
            return f"{text} = {scheme}(...)"
    if isinstance(target, ast.Call):
        scheme = mod.call_name(target).rsplit(".", 1)[-1]
        if scheme in SECURITY_SCHEMES:
            return f"{scheme}(...)"
    found = ri.resolve_function(mod, name) if isinstance(target, ast.Name) else None
    if found is not None and depth < 3:
        fmod, func = found
        for _, ann, default in _params(func):
            for dep in [default, *(_annotated_meta(ann) if isinstance(ann, ast.Subscript) else [])]:
                inner = _depends_target(dep) if dep is not None else None
                if inner is not None:
                    why = auth_dependency(ri, fmod, inner[0], depth + 1)
                    if why or inner[1]:
                        return f"{name}() -> {why or 'Security'}"
        body = unparse(func)
        if re.search(r"(401|403|HTTP_401|HTTP_403|UNAUTHORIZED|FORBIDDEN)", body) and \
                re.search(r"(key|token|auth|credential|user)", body, re.I):
            return f"{name}() rejects with 401/403"
    if AUTH_NAME.search(name) and not re.search(r"(rate|limit|throttle)", name, re.I):
        return f"Depends({name})"
    return ""


def _list_items(node: ast.expr | None) -> list[ast.expr]:
    if isinstance(node, (ast.List, ast.Tuple)):
        return list(node.elts)
    return []


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, ast.expr | None, ast.expr | None]]:
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    out = [(a.arg, a.annotation, d) for a, d in zip(positional, defaults, strict=False)]
    out.extend((a.arg, a.annotation, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=False))
    return out


def _annotated_meta(ann: ast.expr | None) -> list[ast.expr]:
    if isinstance(ann, ast.Subscript) and isinstance(ann.slice, ast.Tuple):
        return list(ann.slice.elts[1:])
    return []


def _depends_target(node: ast.expr | None) -> tuple[ast.expr, bool] | None:
    """For ``Depends(x)`` / ``Security(x)``: (x, is Security)."""
    if not isinstance(node, ast.Call):
        return None
    name = unparse(node.func).rsplit(".", 1)[-1]
    if name not in ("Depends", "Security"):
        return None
    target = node.args[0] if node.args else kwarg(node, "dependency")
    if target is None:
        return None
    return target, name == "Security"


def _line_of(func: ast.AST, needle: str) -> int:
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


def _pyrate_rates(node: ast.expr, mod: ModuleIndex) -> list[Window]:
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


def read_routers(modules: list[ModuleIndex]) -> tuple[dict[tuple[str, str], str],
                                                     dict[tuple[str, str], list[tuple[ModuleIndex, ast.expr]]]]:
    """Prefixes and dependencies given by ``include_router(x.router, prefix=..., dependencies=[...])``.

    Keys are (module name of the router, router variable); the router module is found by the last part of
    the included expression's owner (``routes.predict.router`` -> module ``*.predict``).
    """
    prefixes: dict[tuple[str, str], str] = {}
    deps: dict[tuple[str, str], list[tuple[ModuleIndex, ast.expr]]] = {}
    names = {m.module_name for m in modules}
    for mod in modules:
        for node in mod.nodes:
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("include_router", "register_blueprint") and node.args):
                continue
            target = node.args[0]
            text = unparse(target)
            owner, _, var = text.rpartition(".")
            if not owner:
                owner_mod, var = mod.module_name, text
                imported = mod.imports.get(text, "")
                if imported:
                    owner, _, var = imported.rpartition(".")
                    owner_mod = _match_module(owner, names) or owner_mod
            else:
                imported = mod.imports.get(owner.split(".")[0], owner)
                owner_mod = _match_module(imported + owner[len(owner.split(".")[0]):], names) or owner
            prefix = const_str(kwarg(node, "prefix") or kwarg(node, "url_prefix"))
            if prefix:
                prefixes[(owner_mod, var)] = prefix
            extra = _list_items(kwarg(node, "dependencies"))
            if extra:
                deps.setdefault((owner_mod, var), []).extend((mod, e) for e in extra)
    return prefixes, deps


def _match_module(dotted: str, names: set[str]) -> str | None:
    tail = dotted.lstrip(".")
    for name in names:
        if name == tail or name.endswith("." + tail) or (tail and name.rsplit(".", 1)[-1] == tail.rsplit(".", 1)[-1]):
            return name
    return None


def read_python_app(modules: list[ModuleIndex]) -> Facts:
    """Routes and app-level limits of every module, with default limits scoped to the routes they cover."""
    ri = build_repo_index(modules)
    prefixes, deps = read_routers(modules)
    facts = Facts()
    readers = [ModuleReader(m, ri, prefixes, deps) for m in modules]
    for reader in readers:
        facts.extend(reader.read())
    slowapi_middleware = any(
        isinstance(node, ast.Call) and unparse(node.func).endswith("add_middleware") and node.args
        and unparse(node.args[0]).endswith(("SlowAPIMiddleware", "SlowAPIASGIMiddleware"))
        for m in modules if "SlowAPI" in m.source or not m.source for node in m.nodes)
    for reader in readers:
        for name, lim in reader.limiters.items():
            if not lim.defaults:
                continue
            # flask-limiter documents default limits as applying to every route *not* decorated with its own
            # limit; slowapi copies that, and applies them only through SlowAPIMiddleware.
            framework = "fastapi" if lim.source == "slowapi" else "flask"
            covered = tuple(r.ident for r in facts.routes if r.framework == framework and not r.exempt
                            and not any(x.source == lim.source for x in r.limits))
            key_detail = lim.key_detail
            if lim.source == "slowapi" and not slowapi_middleware:
                covered = ()
                key_detail += "; no SlowAPIMiddleware, so default limits are not enforced"
            facts.limits.append(RateLimit(lim.source, reader.mod.path, lim.line, lim.key, key_detail,
                                          lim.defaults, f'{name} default_limits "{lim.default_text}"',
                                          Scope("route", covered)))
        for node in reader.mod.nodes if "RateLimiterMiddleware" in reader.mod.source or not reader.mod.source \
                else []:
            if isinstance(node, ast.Call) and unparse(node.func).endswith("add_middleware") and node.args and \
                    unparse(node.args[0]).endswith("RateLimiterMiddleware"):
                lim_node = kwarg(node, "limiter")
                windows = tuple(_pyrate_rates(lim_node, reader.mod)) if lim_node is not None else ()
                key, detail = reader.classify_key(kwarg(node, "identifier"), (KeyKind.IP, "default identifier (IP)"))
                facts.limits.append(RateLimit("fastapi-limiter", reader.mod.path, node.lineno, key, detail, windows,
                                              "RateLimiterMiddleware", Scope.everywhere()))
    for route in facts.routes:
        facts.limits.extend(route.limits)
    return facts
