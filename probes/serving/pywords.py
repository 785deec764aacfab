"""Words and patterns the Python route readers recognise: HTTP methods, auth names, model calls, sensitive outputs,
validators, limiter keys, DRF classes, schema constraints (shared by every framework reader)."""

from __future__ import annotations

import re

from mlposture.probes.serving.facts import KeyKind

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

CONSTRAINT_KW = {"ge", "gt", "le", "lt", "max_length", "min_length", "pattern", "regex", "max_items",
                 "min_items", "multiple_of", "max_digits", "validate", "max_value", "min_value", "allow_inf_nan"}
CONSTRAINED_TYPES = re.compile(r"\b(conint|confloat|constr|conlist|conbytes|condecimal|conset|PositiveInt|"
                               r"PositiveFloat|NonNegative\w*|StringConstraints|Literal|EmailStr|HttpUrl|"
                               r"Annotated\[.*(Field|Len|Ge|Le|Gt|Lt|MaxLen|Interval)|OneOf|Length|Range)")
