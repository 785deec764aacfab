"""LLM applicability and INF-09/13/14."""

from __future__ import annotations


def test_guarded_chatbot(scan):
    result = scan("llm_guarded")
    assert result.status("INF-09") == "pass"
    assert ("config/config.yml", 8, "pass") in result.where("INF-09")
    assert ("app/chat.py", 5, "pass") in result.where("INF-09")
    assert len(result.evidence("INF-09")) == 2  # one per library, one per rails config
    assert result.findings("serving.user-input-in-system-prompt") == []
    assert result.status("INF-13") == "pass"
    assert ("templates/chat.html", 1, "pass") in result.where("INF-13")
    assert result.status("INF-14") == "pass"
    assert ("HUMAN_OVERSIGHT.md", 1, "pass") in result.where("INF-14")
    assert ("app/chat.py", 31, "pass") in result.where("INF-14")


def test_oversight_without_document_is_partial(scan, copy_fixture):
    repo = copy_fixture("llm_guarded")
    (repo / "HUMAN_OVERSIGHT.md").unlink()
    result = scan(repo)
    assert result.status("INF-14") == "partial"


def test_agent_with_shell_tool_and_concatenated_system_prompt(scan):
    result = scan("llm_agent_bad")
    assert result.status("INF-09") == "fail"
    tool = result.findings("serving.unrestricted-agent-tool")[0]
    assert (tool.path, tool.line) == ("agent.py", 9) and "ShellTool" in tool.message
    prompt = result.findings("serving.user-input-in-system-prompt")[0]
    assert (prompt.path, prompt.line) == ("agent.py", 15) and "'user'" in prompt.message


def test_without_llm_inf09_not_applicable_with_reason(scan):
    result = scan("fastapi_nginx")
    na = [i for i in result.items if getattr(i, "control", "") == "INF-09"]
    assert len(na) == 1 and na[0].reason.startswith("no LLM use")


def test_transparency_applies_only_to_conversational_or_generative_systems(scan):
    scoring = scan("fastapi_nginx")
    (na,) = [i for i in scoring.items if getattr(i, "control", "") == "INF-13"]
    assert na.reason.startswith("no conversational or generative surface")
    assert scan("fastapi_bad").status("INF-13") == "unverified"  # LLM chat without any notice


def test_oversight_not_applicable_below_high_risk_unless_agents(scan):
    from mlposture.scanner.settings import Settings

    minimal = Settings(eu_risk_tier="minimal")
    assert scan("fastapi_nginx", minimal).status("INF-14") == "not_applicable"
    assert scan("fastapi_nginx", Settings(eu_risk_tier="high")).status("INF-14") == "unverified"
    assert scan("llm_agent_bad", minimal).status("INF-14") == "unverified"  # agent code: applies anyway


def test_surface_reports_agents():
    from pathlib import Path

    from mlposture.probes.serving.surface import detect_surface
    from mlposture.scanner.repo import RepoView

    root = Path(__file__).resolve().parents[3]
    from_fixture = detect_surface(RepoView(root / "fixtures" / "serving" / "llm_agent_bad"))
    assert from_fixture.has_agents
    assert {(a.library, a.line) for a in from_fixture.agents} >= {("langchain.agents", 2)}
