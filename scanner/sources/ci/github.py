"""GitHub Actions workflows (``.github/workflows/*.yml``) into :class:`Workflow` values."""

from __future__ import annotations

from typing import Any

from mlposture.scanner.sources.ci.model import (
    GITHUB,
    Job,
    Step,
    Trigger,
    Workflow,
)
from mlposture.scanner.sources.ci.nodes import (
    item_line,
    key_line,
    pairs,
    permissions,
    str_list,
    text_of,
    truthy,
    value_line,
)
from mlposture.scanner.yamlsafe import YamlError


# ---------------------------------------------------------------------------------------------------------- GitHub
def _github_triggers(on: Any, line: int) -> tuple[Trigger, ...]:
    if isinstance(on, str):
        return (Trigger(on, line),)
    if isinstance(on, list):
        return tuple(Trigger(text_of(e), item_line(on, i, line)) for i, e in enumerate(on))
    if not isinstance(on, dict):
        return ()
    out: list[Trigger] = []
    for event, cfg in on.items():
        ev = text_of(event)
        ln = key_line(on, event, line)
        if isinstance(cfg, dict):
            filtered = any(k in cfg for k in ("branches", "branches-ignore", "tags", "tags-ignore"))
            out.append(Trigger(ev, ln, str_list(cfg.get("branches")), str_list(cfg.get("tags")),
                               str_list(cfg.get("paths")), branch_filtered=filtered))
        elif ev == "schedule" and isinstance(cfg, list):
            crons = tuple(text_of(c.get("cron")) for c in cfg if isinstance(c, dict) and "cron" in c)
            out.append(Trigger(ev, ln, crons=crons))
        else:
            out.append(Trigger(ev, ln))
    return tuple(out)


def _job_images(job: dict[str, Any], line: int) -> tuple[tuple[str, int], ...]:
    images: list[tuple[str, int]] = []
    container = job.get("container")
    if isinstance(container, str):
        images.append((container, key_line(job, "container", line)))
    elif isinstance(container, dict) and isinstance(container.get("image"), str):
        images.append((container["image"], key_line(container, "image", line)))
    services = job.get("services")
    if isinstance(services, dict):
        for name, svc in services.items():
            if isinstance(svc, dict) and isinstance(svc.get("image"), str):
                images.append((svc["image"], key_line(svc, "image", key_line(services, name, line))))
    return tuple(images)


def parse_github(path: str, doc: Any) -> Workflow:
    if not isinstance(doc, dict):
        raise YamlError("the workflow is not a mapping", 1)
    # YAML 1.1 reads a bare ``on`` key as the boolean true
    on_key: Any = "on" if "on" in doc else (True if True in doc else None)
    triggers = _github_triggers(doc.get(on_key), key_line(doc, on_key, 1)) if on_key is not None else ()
    perms = permissions(doc.get("permissions"), key_line(doc, "permissions", 1)) if "permissions" in doc else None
    jobs: list[Job] = []
    jobs_node = doc.get("jobs")
    if isinstance(jobs_node, dict):
        for job_id, job in jobs_node.items():
            if not isinstance(job, dict):
                continue
            jline = key_line(jobs_node, job_id, 1)
            job_coe = truthy(job.get("continue-on-error"))
            steps: list[Step] = []
            steps_node = job.get("steps")
            if isinstance(steps_node, list):
                for i, st in enumerate(steps_node):
                    if not isinstance(st, dict):
                        continue
                    sline = item_line(steps_node, i, jline)
                    run = st.get("run")
                    with_node = st.get("with")
                    steps.append(Step(
                        path=path, line=sline, system=GITHUB, job=str(job_id), index=i,
                        name=text_of(st["name"]) if "name" in st else None,
                        uses=text_of(st["uses"]) if "uses" in st else None,
                        uses_line=key_line(st, "uses", sline) if "uses" in st else None,
                        run=text_of(run) if run is not None else None,
                        run_line=value_line(st, "run", sline) if run is not None else None,
                        with_=pairs(with_node),
                        with_lines=tuple((str(k), key_line(with_node, k, sline)) for k in with_node)
                        if isinstance(with_node, dict) else (),
                        env=pairs(st.get("env")),
                        if_=text_of(st["if"]) if "if" in st else None,
                        continue_on_error=truthy(st.get("continue-on-error")),
                        job_continue_on_error=job_coe,
                        shell=text_of(st["shell"]) if "shell" in st else None,
                    ))
            needs = job.get("needs")
            jobs.append(Job(
                path=path, id=str(job_id), line=jline, system=GITHUB, steps=tuple(steps),
                name=text_of(job["name"]) if "name" in job else None,
                needs=str_list(needs),
                if_=text_of(job["if"]) if "if" in job else None,
                permissions=permissions(job.get("permissions"), key_line(job, "permissions", jline))
                if "permissions" in job else None,
                env=pairs(job.get("env")),
                continue_on_error=job_coe,
                uses=text_of(job["uses"]) if "uses" in job else None,
                images=_job_images(job, jline),
            ))
    return Workflow(path=path, system=GITHUB, line=1, name=text_of(doc["name"]) if "name" in doc else None,
                    triggers=triggers, permissions=perms, env=pairs(doc.get("env")), jobs=tuple(jobs))


