"""Look-alikes that must not count: each would otherwise tick or fail a control wrongly."""

from __future__ import annotations

from pathlib import Path

SERVE = (
    "from fastapi import FastAPI\n"
    "import joblib\n"
    "app = FastAPI()\n"
    "clf = joblib.load('m.joblib')\n\n"
    "@app.post('/predict')\n"
    "def predict(x: list[float]):\n"
    "    return {'label': int(clf.predict([x])[0])}\n"
)


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return tmp_path


def test_web_app_without_models_is_not_a_surface(scan, tmp_path):
    repo = _repo(tmp_path, {"app.py": "from flask import Flask\napp = Flask(__name__)\n\n"
                                      "@app.route('/chat', methods=['POST'])\ndef chat():\n"
                                      "    return relay_to_support_agent_queue()\n\n"
                                      "@app.get('/users')\ndef users():\n    return get_session().query_users()\n"})
    result = scan(repo)
    assert result.status("INF-07") == "not_applicable"


def test_decision_threshold_is_not_a_rejection_option(scan, tmp_path):
    repo = _repo(tmp_path, {"app.py": SERVE, "post.py": "def label(prob):\n    if prob > 0.5:\n"
                                                          "        return 'positive'\n    return 'negative'\n"})
    result = scan(repo)
    assert result.evidence("INF-05") == []


def test_feature_extraction_is_not_extraction_monitoring(scan, tmp_path):
    repo = _repo(tmp_path, {"app.py": SERVE, "features.py": "def feature_extraction(df):\n    return df\n"})
    assert scan(repo).evidence("INF-06") == []


def test_system_prompt_passed_as_a_parameter_is_not_injection(scan, tmp_path):
    helper = ("from openai import OpenAI\nclient = OpenAI()\n\n"
              "def ask(system_prompt, question):\n"
              "    return client.chat.completions.create(model='m', messages=[\n"
              "        {'role': 'system', 'content': system_prompt},\n"
              "        {'role': 'user', 'content': question}])\n")
    result = scan(_repo(tmp_path, {"app.py": SERVE, "llm.py": helper}))
    assert result.findings("serving.user-input-in-system-prompt") == []
    bad = helper.replace("'content': system_prompt}", "'content': f'{system_prompt} Question: {question}'}")
    (tmp_path / "llm.py").write_text(bad)
    found = scan(tmp_path).findings("serving.user-input-in-system-prompt")
    assert len(found) == 1 and (found[0].path, found[0].line) == ("llm.py", 6) and "'question'" in found[0].message


def test_docstring_about_prompt_injection_is_not_a_defence(scan, tmp_path):
    mod = '"""Notes: we still need a prompt-injection filter."""\nimport openai\n'
    result = scan(_repo(tmp_path, {"app.py": SERVE, "notes.py": mod}))
    assert result.status("INF-09") == "unverified"


def test_readme_saying_ai_generated_is_not_a_notice(scan, tmp_path):
    result = scan(_repo(tmp_path, {"app.py": SERVE, "README.md": "Parts of this README are AI-generated.\n"}))
    assert result.evidence("INF-13") == []


def test_session_helper_is_not_a_model_call(scan, tmp_path):
    app = SERVE + "\n@app.get('/orders')\ndef orders():\n    return get_session().all()\n"
    result = scan(_repo(tmp_path, {"app.py": app}))
    routes = {f.message.split(" (")[0] for f in result.findings("serving.unauthenticated-model-route")}
    assert routes == {"model route POST /predict"}
