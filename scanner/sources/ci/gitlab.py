"""GitLab CI files (``.gitlab-ci.yml``, ``*.gitlab-ci.yml``; includes listed, not followed) as :class:`Workflow`s."""

from __future__ import annotations

import re
from typing import Any

from mlposture.scanner.sources.ci.model import (
    GITLAB,
    Include,
    Job,
    Step,
    Trigger,
    Workflow,
)
from mlposture.scanner.sources.ci.nodes import item_line, key_line, pairs, str_list, text_of, truthy, value_line
from mlposture.scanner.yamlsafe import YamlError, YMap

# ---------------------------------------------------------------------------------------------------------- GitLab
_GITLAB_RESERVED = {
    "stages", "include", "variables", "workflow", "default", "image", "services", "cache", "before_script",
    "after_script", "types", "pages:deploy",
}


def _gitlab_includes(node: Any, line: int) -> tuple[Include, ...]:
    items = node if isinstance(node, list) else [node]
    out: list[Include] = []
    for i, item in enumerate(items):
        iline = item_line(node, i, line) if isinstance(node, list) else line
        if isinstance(item, str):
            out.append(Include("remote" if item.startswith(("http://", "https://")) else "local", item, iline))
        elif isinstance(item, dict):
            for kind in ("template", "local", "remote", "project", "component"):
                if kind in item:
                    value = text_of(item[kind])
                    if kind == "project" and "file" in item:
                        value += ":" + ",".join(str_list(item["file"]))
                    out.append(Include(kind, value, key_line(item, kind, iline)))
                    break
    return tuple(out)


def _gitlab_triggers(job: dict[str, Any], workflow_rules: Any, line: int) -> tuple[Trigger, ...]:
    """Which pipelines run the job: GitLab's default is every branch pipeline (push) and MR pipelines."""

    def from_rules(rules: Any, rline: int) -> tuple[Trigger, ...] | None:
        if not isinstance(rules, list):
            return None
        events: list[Trigger] = []
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            if text_of(rule.get("when")) == "never":
                continue
            cond = text_of(rule.get("if"))
            ln = item_line(rules, i, rline)
            if not cond:
                events.extend([Trigger("push", ln), Trigger("merge_request", ln)])
                continue
            if re.search(r"CI_PIPELINE_SOURCE\s*==\s*['\"]schedule['\"]", cond):
                events.append(Trigger("schedule", ln))
            elif re.search(r"CI_PIPELINE_SOURCE\s*==\s*['\"]merge_request_event['\"]", cond) or \
                    "CI_MERGE_REQUEST" in cond:
                events.append(Trigger("merge_request", ln))
            elif re.search(r"CI_PIPELINE_SOURCE\s*==\s*['\"](web|api|trigger|pipeline)['\"]", cond):
                events.append(Trigger("workflow_dispatch", ln))
            elif "CI_COMMIT_TAG" in cond and "==" not in cond.split("CI_COMMIT_TAG", 1)[1][:4]:
                events.append(Trigger("tag", ln))
            else:
                events.append(Trigger("push", ln, branch_filtered="CI_COMMIT_BRANCH" in cond
                                      or "CI_DEFAULT_BRANCH" in cond))
        return tuple(events)

    own = from_rules(job.get("rules"), key_line(job, "rules", line))
    if own is not None:
        return own
    only = job.get("only")
    if only is not None:
        refs = only.get("refs") if isinstance(only, dict) else only
        names = str_list(refs)
        oline = key_line(job, "only", line)
        events = []
        for n in names:
            if n == "schedules":
                events.append(Trigger("schedule", oline))
            elif n in ("merge_requests", "external_pull_requests"):
                events.append(Trigger("merge_request", oline))
            elif n == "tags":
                events.append(Trigger("tag", oline))
            elif n in ("web", "api", "triggers", "pipelines"):
                events.append(Trigger("workflow_dispatch", oline))
            else:
                events.append(Trigger("push", oline, branch_filtered=n != "branches"))
        if events:
            return tuple(events)
    wf = from_rules(workflow_rules, line)
    if wf:
        return wf
    return (Trigger("push", line), Trigger("merge_request", line))


def _script_steps(path: str, job_id: str, job: dict[str, Any], coe: bool, start: int) -> list[Step]:
    steps: list[Step] = []
    env = pairs(job.get("variables"))
    for key in ("before_script", "script", "after_script"):
        node = job.get(key)
        if node is None:
            continue
        kline = key_line(job, key, start)
        items = node if isinstance(node, list) else [node]
        for i, item in enumerate(items):
            lines_items = item if isinstance(item, list) else [item]  # nested lists from !reference
            for sub in lines_items:
                if not isinstance(sub, str):
                    continue
                if isinstance(node, list):
                    ln = item_line(node, i, kline)
                    run_line = value_line(node, i, ln) if sub is item else ln
                else:
                    ln, run_line = kline, value_line(job, key, kline)
                steps.append(Step(path=path, line=ln, system=GITLAB, job=job_id, index=len(steps), name=key,
                                  run=sub, run_line=run_line, env=env, continue_on_error=coe))
    return steps


def _gitlab_images(job: dict[str, Any], line: int) -> tuple[tuple[str, int], ...]:
    images: list[tuple[str, int]] = []
    img = job.get("image")
    if isinstance(img, str):
        images.append((img, key_line(job, "image", line)))
    elif isinstance(img, dict) and isinstance(img.get("name"), str):
        images.append((img["name"], key_line(img, "name", line)))
    services = job.get("services")
    if isinstance(services, list):
        for i, svc in enumerate(services):
            name = svc if isinstance(svc, str) else (svc.get("name") if isinstance(svc, dict) else None)
            if isinstance(name, str):
                images.append((name, item_line(services, i, line)))
    return tuple(images)


def parse_gitlab(path: str, doc: Any) -> Workflow:
    if not isinstance(doc, dict):
        raise YamlError("the pipeline is not a mapping", 1)
    includes = _gitlab_includes(doc["include"], key_line(doc, "include", 1)) if "include" in doc else ()
    stages = str_list(doc.get("stages")) or (".pre", "build", "test", "deploy", ".post")
    workflow = doc.get("workflow")
    wf_rules = workflow.get("rules") if isinstance(workflow, dict) else None
    default = doc.get("default") if isinstance(doc.get("default"), dict) else {}
    jobs: list[Job] = []
    for job_id, job in doc.items():
        if not isinstance(job_id, str) or job_id in _GITLAB_RESERVED or not isinstance(job, dict):
            continue
        if not any(k in job for k in ("script", "extends", "trigger", "stage", "rules", "only", "needs",
                                       "image", "before_script")):
            continue
        jline = key_line(doc, job_id, 1)
        merged = YMap(job)
        merged.line = jline
        merged.key_lines = dict(job.key_lines) if isinstance(job, YMap) else {}
        merged.value_lines = dict(job.value_lines) if isinstance(job, YMap) else {}
        parents = str_list(job.get("extends"))
        for parent in parents:  # one level of ``extends``, enough for the usual ``.template`` pattern
            pnode = doc.get(parent)
            if isinstance(pnode, dict):
                for k, v in pnode.items():
                    if k not in merged:
                        merged[k] = v
                        merged.key_lines[k] = key_line(pnode, k, jline)
                        merged.value_lines[k] = value_line(pnode, k, merged.key_lines[k])
        for k in ("before_script", "after_script", "image", "services"):
            if k not in merged and isinstance(default, dict) and k in default:
                merged[k] = default[k]
                merged.key_lines[k] = key_line(default, k, jline)
                merged.value_lines[k] = value_line(default, k, merged.key_lines[k])
        coe = truthy(merged.get("allow_failure")) or (isinstance(merged.get("allow_failure"), dict))
        jobs.append(Job(
            path=path, id=job_id, line=jline, system=GITLAB,
            steps=tuple(_script_steps(path, job_id, merged, coe, jline)),
            needs=tuple(n if isinstance(n, str) else text_of(n.get("job")) for n in merged.get("needs") or []
                        if isinstance(n, (str, dict))) if isinstance(merged.get("needs"), list) else (),
            env=pairs(merged.get("variables")),
            continue_on_error=coe,
            images=_gitlab_images(merged, jline),
            stage=text_of(merged.get("stage") or "test"),
            triggers=_gitlab_triggers(merged, wf_rules, jline),
            hidden=job_id.startswith("."),
        ))
    return Workflow(path=path, system=GITLAB, line=1, triggers=_gitlab_triggers({}, wf_rules, 1),
                    env=pairs(doc.get("variables")), jobs=tuple(jobs), includes=includes, stages=stages)


