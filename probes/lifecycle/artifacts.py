"""MODEL-01 (digests verified before load), MODEL-07 (pre-trained provenance), MODEL-11 (signing): judgements.

MODEL-01: a load (``torch.load``, ``load_file``, ``from_pretrained``, ``joblib.load``, ``InferenceSession``,
``hf_hub_download``...) preceded in the same function by a hashlib digest comparison, or by a call to a function of
the file that does one, passes; framework helpers with a digest (``check_hash=True``, ``file_hash=``,
``known_hash=``) pass; digest manifests and DVC hashes of model files are partial; loads without any check are
listed in the Searched text (absence is not fail).
MODEL-07: hub ids loaded through ``from_pretrained``/``pipeline``/``hf_hub_download``/``snapshot_download`` pinned to a
40-hex commit pass; no ``revision`` or a branch/tag fails; ``torch.hub.load("owner/repo")`` without ``:ref`` fails;
model scanners (modelscan, ModelAudit, picklescan, fickling) in CI pass. ``trust_remote_code`` is left to the
serialization probe.
MODEL-11: a verify step (``cosign verify-blob``, ``model_signing verify``, ``sigstore verify``, the Python APIs)
passes; signing only (commands, APIs or committed, well-formed bundles) is partial.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlposture.probes.lifecycle.commands import is_pipeline
from mlposture.probes.lifecycle.context import Context
from mlposture.probes.lifecycle.provenance import COMMIT, URL
from mlposture.probes.lifecycle.pysource import Call, DigestCheck, SourceFacts
from mlposture.probes.lifecycle.signing import signature_files
from mlposture.scanner.probe import Effect, Evidence, Finding, ProbeItem, Searched, Severity

R = "model_lifecycle."
LOAD_ATTRS = {"load_file", "safe_open", "load_model", "InferenceSession", "from_pretrained", "hf_hub_download",
              "load_state_dict"}
LOAD_NAMES = {"torch.load", "joblib.load", "pickle.load", "dill.load", "cloudpickle.load"}
MODEL_EXT = re.compile(r"(?i)\.(safetensors|pt|pth|bin|ckpt|onnx|pkl|pickle|joblib|gguf|h5|keras|pb|tflite|mlmodel)\b")
HELPER_DIGESTS = {"load_state_dict_from_url": "check_hash", "get_file": "file_hash", "retrieve": "known_hash",
                  "download_url_to_file": "hash_prefix"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
SCANNER_CMD = re.compile(r"\b(modelscan|modelaudit|picklescan|fickling)\b|promptfoo\s+scan-model")
SIGN_CMD = re.compile(r"\bcosign\s+(?:sign(?:-blob)?|attest(?:-blob)?)\b|\bmodel[_-]signing\s+sign\b"
                      r"|\bsigstore\s+(?:sign|attest)\b")
VERIFY_CMD = re.compile(r"\bcosign\s+verify(?:-blob)?\b|\bmodel[_-]signing\s+verify\b|\bsigstore\s+verify\b")
WEIGHTS_DOWNLOAD = re.compile(r"\b(?:wget|curl)\b")
DIGEST_MANIFEST = re.compile(r"(?i)^(SHA256SUMS|SHA512SUMS|.+\.sha256|.+\.sha512|checksums?\.(txt|json))$")
DIGEST_CMD = re.compile(r"\b(?:sha256sum|sha512sum|shasum|b2sum)\b")


def _is_load(call: Call) -> bool:
    return call.attr in LOAD_ATTRS or call.name in LOAD_NAMES


CheckIndex = dict[str, list[DigestCheck]]


def check_index(all_facts: list[SourceFacts]) -> CheckIndex:
    """Digest-check functions of the whole repository by function name (a load may call a helper that another
    module defines: ``from .integrity import verify_model``)."""
    out: CheckIndex = {}
    for facts in all_facts:
        for check in facts.digest_checks:
            if check.function:
                out.setdefault(check.function, []).append(check)
    return out


def _module_stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".py")


def _helper_check(call: Call, facts: SourceFacts, index: CheckIndex) -> DigestCheck | None:
    """The digest check ``call`` runs: a function of the same file, or one it imports from another module."""
    for check in index.get(call.attr, ()):
        if check.site.path == facts.path or call.name.endswith(f"{_module_stem(check.site.path)}.{call.attr}"):
            return check
    return None


def _verified(facts: SourceFacts, load: Call, index: CheckIndex) -> tuple[str, DigestCheck] | None:
    """How a load is preceded by a digest check in its function (and the check), or ``None``."""
    here = next((c for c in facts.digest_checks if c.function == load.function), None)
    if here is not None and (here.site.line or 0) <= (load.site.line or 0):
        return f"{'signature' if here.keyed else 'digest'} compared at line {here.site.line}", here
    for call in facts.calls:
        if call.function != load.function or not call.attr or (call.site.line or 0) > (load.site.line or 0):
            continue
        check = _helper_check(call, facts, index)
        if check is not None:
            what = "an HMAC/signature" if check.keyed else "a digest"
            where = (f"line {check.site.line}" if check.site.path == facts.path
                     else f"{check.site.path}:{check.site.line}")
            return f"{call.attr}() compares {what} ({where})", check
    return None


def hashes(ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-01."""
    unchecked: list[str] = []
    index = check_index(list(ctx.facts))
    for facts in ctx.facts:
        for call in facts.calls:
            key = HELPER_DIGESTS.get(call.attr)
            if key is not None and call.has_kw(key) and call.kw(key) not in (None, False):
                effect = Effect.PARTIAL if facts.notebook else Effect.PASS
                yield Evidence("MODEL-01", effect, f"{call.name}(..., {key}=...) checks the digest of the download"
                               f"{call.site.suffix()}", call.site.path, call.site.line, R + "verified-load")
                continue
            if not _is_load(call):
                continue
            found = _verified(facts, call, index)
            if found is None:
                unchecked.append(call.site.where())
                continue
            how, _ = found
            yield Evidence("MODEL-01", Effect.PARTIAL if facts.notebook else Effect.PASS,
                           f"{call.name}() is preceded by a hash check: {how}{call.site.suffix()}",
                           call.site.path, call.site.line, R + "verified-load")
    for f in ctx.repo.files:
        if DIGEST_MANIFEST.match(f.name):
            lines = ctx.repo.lines(f, limit=1024 * 1024)
            hit = next((n for n, x in enumerate(lines, 1) if MODEL_EXT.search(x) and re.search(r"[0-9a-f]{64}", x)),
                       None)
            if hit is None and f.name.lower().endswith((".sha256", ".sha512")) and MODEL_EXT.search(f.name):
                hit = 1
            if hit is not None:
                yield Evidence("MODEL-01", Effect.PARTIAL, "SHA-2 digest of a model artifact recorded (a check before "
                               "load was not seen)", f.path, hit, R + "model-digest")
    for path, stages in ctx.dvc.locks:
        for st in stages:
            for e in st.outs:
                if e.digest and MODEL_EXT.search(e.path):
                    yield Evidence("MODEL-01", Effect.PARTIAL, f"dvc.lock records {e.hash_kind} of model '{e.path}' "
                                   "(md5, and no load-time check seen)", path, e.line, R + "model-digest")
    shown = ", ".join(unchecked[:5]) + (f" and {len(unchecked) - 5} more" if len(unchecked) > 5 else "")
    yield Searched("MODEL-01", "hashlib digest comparison before torch.load/load_file/from_pretrained/joblib.load/"
                   "InferenceSession/hf_hub_download, check_hash=/file_hash=/known_hash= helpers, model digest "
                   "manifests, DVC hashes of model files"
                   + (f"; loads without a preceding check: {shown}" if unchecked else ""))


def _hub_target(call: Call, ctx: Context) -> str | None:
    """The hub id a call loads, when it is a literal that is not a path in the repository."""
    if call.attr == "pipeline":
        value = call.kw("model")
    elif call.attr in ("hf_hub_download", "snapshot_download"):
        value = call.arg(0, "repo_id")
    else:
        value = call.arg(0, "pretrained_model_name_or_path")
    if not isinstance(value, str) or not HUB_ID.match(value) or value.startswith("."):
        return None
    if ctx.repo.get(value) is not None or ctx.repo.under(value) or ctx.repo.get(value + "/config.json"):
        return None
    return value


def provenance(ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-07."""
    dynamic: list[str] = []
    for facts in ctx.facts:
        for call in facts.calls:
            site = call.site
            if call.attr in ("from_pretrained", "hf_hub_download", "snapshot_download") or (
                    call.attr == "pipeline" and call.name.startswith("transformers")):
                target = _hub_target(call, ctx)
                if target is None:
                    if call.attr != "pipeline":
                        dynamic.append(site.where())
                    continue
                rev = call.kw("revision")
                if isinstance(rev, str) and COMMIT.match(rev):
                    yield Evidence("MODEL-07", Effect.PASS, f"{call.attr}('{target}') pinned to commit {rev[:12]}"
                                   f"{site.suffix()}", site.path, site.line, R + "pinned-pretrained")
                elif rev is None:
                    yield Finding(R + "unpinned-pretrained", Severity.HIGH,
                                  f"{call.attr}('{target}') without revision=: the weights can change under the same "
                                  f"name{site.suffix()}", site.path, site.line, ("MODEL-07",), f"{target}:none")
                elif isinstance(rev, str):
                    yield Finding(R + "unpinned-pretrained", Severity.HIGH,
                                  f"{call.attr}('{target}', revision='{rev}'): a branch or tag, not a 40-hex commit"
                                  f"{site.suffix()}", site.path, site.line, ("MODEL-07",), f"{target}:{rev}")
                else:
                    yield Evidence("MODEL-07", Effect.PARTIAL, f"{call.attr}('{target}') with a non-literal "
                                   f"revision (not determinable){site.suffix()}", site.path, site.line,
                                   R + "pinned-pretrained")
            elif call.name == "torch.hub.load":
                repo_arg = call.arg(0, "repo_or_dir")
                if isinstance(repo_arg, str) and "/" in repo_arg and call.kw("source") != "local":
                    if ":" in repo_arg:
                        yield Evidence("MODEL-07", Effect.PASS if COMMIT.match(repo_arg.split(":", 1)[1])
                                       else Effect.PARTIAL, f"torch.hub.load('{repo_arg}') names a ref"
                                       f"{site.suffix()}", site.path, site.line, R + "pinned-pretrained")
                    else:
                        yield Finding(R + "unpinned-pretrained", Severity.HIGH,
                                      f"torch.hub.load('{repo_arg}') without a :tag or :commit runs the default "
                                      f"branch's hubconf.py{site.suffix()}", site.path, site.line, ("MODEL-07",),
                                      f"torch.hub:{repo_arg}")
    checked = {c.path for c in ctx.commands if DIGEST_CMD.search(c.text)}
    for cmd in ctx.commands:
        if is_pipeline(cmd) and SCANNER_CMD.search(cmd.text):
            yield Evidence("MODEL-07", Effect.PASS, f"model scanner runs in {cmd.describe()}: {cmd.text[:100]}",
                           cmd.path, cmd.line, R + "model-scan")
        if WEIGHTS_DOWNLOAD.search(cmd.text) and cmd.path not in checked:
            for url in URL.findall(cmd.text):
                if MODEL_EXT.search(url):
                    yield Finding(R + "unverified-weights-download", Severity.HIGH,
                                  f"{cmd.text.split()[0]} downloads weights from {url[:160]} with no digest check in "
                                  "this file", cmd.path, cmd.line, ("MODEL-07", "MODEL-01"), f"shell:{url}")
                    break
    yield Searched("MODEL-07", "revision=<40-hex commit> on from_pretrained/pipeline/hf_hub_download/"
                   "snapshot_download of hub ids, torch.hub.load refs, modelscan/ModelAudit/picklescan/fickling in "
                   "CI, wget/curl of weight files without a digest"
                   + (f"; model ids not determinable (variables) at: {', '.join(dynamic[:5])}" if dynamic else ""))


def signing(ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-11."""
    verifies: list[Evidence] = []
    signs: list[tuple[str, str | None, int | None]] = []
    for cmd in ctx.commands:
        if VERIFY_CMD.search(cmd.text):
            verifies.append(Evidence("MODEL-11", Effect.PASS, f"signature verified in {cmd.describe()}: "
                                     f"{cmd.text[:100]}", cmd.path, cmd.line, R + "signature-verify"))
        elif SIGN_CMD.search(cmd.text):
            signs.append((f"signing step in {cmd.describe()}: {cmd.text[:100]}", cmd.path, cmd.line))
    for facts in ctx.facts:
        for call in facts.calls:
            if not call.name.startswith(("model_signing", "sigstore")):
                continue
            if call.attr in ("verify", "Verifier", "verify_artifact", "verify_dsse"):
                verifies.append(Evidence("MODEL-11", Effect.PARTIAL if facts.notebook else Effect.PASS,
                                         f"{call.name}() verifies a model signature{call.site.suffix()}",
                                         call.site.path, call.site.line, R + "signature-verify"))
            elif call.attr in ("sign", "Signer", "sign_artifact", "sign_dsse"):
                signs.append((f"{call.name}() signs a model{call.site.suffix()}", call.site.path, call.site.line))
    index = check_index(list(ctx.facts))
    for facts in ctx.facts:
        for call in facts.calls:
            if not _is_load(call):
                continue
            found = _verified(facts, call, index)
            if found is not None and found[1].keyed:
                verifies.append(Evidence(
                    "MODEL-11", Effect.PARTIAL, f"{call.name}() loads a model only after a keyed signature check "
                    f"({found[0]}){call.site.suffix()}: signed and verified, but with an HMAC or a project key, not "
                    "a Sigstore/Cosign signature with a public identity", call.site.path, call.site.line,
                    R + "signature-verify"))
    bundles: list[tuple[str, str | None, int | None]] = []
    for sig in signature_files(ctx.repo):
        if sig.valid:
            bundles.append((f"committed signature: {sig.detail}", sig.path, 1))
        else:
            ctx.repo.note(f"signature file is not a valid signature document: {sig.detail}", sig.path)
    yield from verifies
    tail = "" if verifies else " (no verification step seen: sign only is partial)"
    for text, path, line in signs:
        yield Evidence("MODEL-11", Effect.PARTIAL, text + tail, path, line, R + "signature-sign")
    for text, path, line in bundles:
        yield Evidence("MODEL-11", Effect.PARTIAL, text + tail, path, line, R + "signature-bundle")
    yield Searched("MODEL-11", "cosign sign-blob/verify-blob, model_signing sign/verify, sigstore sign/verify in CI, "
                   "scripts and code; committed *.sigstore.json/*.sigstore/*.bundle/*.sig validated as documents")
