"""MODEL-04 (watermarking), MODEL-05 (differential privacy), MODEL-10 (compression), MODEL-12 (hardening).

MODEL-05 reads epsilon from code (Opacus ``make_private_with_epsilon(target_epsilon=E)``, diffprivlib
``epsilon=E``) or YAML config (``target_epsilon``/``dp_epsilon``, or ``epsilon`` beside ``delta``/
``noise_multiplier``/``max_grad_norm`` or under a privacy/dp key) and compares it with ``Settings.dp_epsilon_max``:
below passes, at or above is partial, a DP library with no readable epsilon is partial. Opacus ``PrivacyEngine``
without ``secure_mode=True`` is an info finding (its default is not cryptographically safe noise).
MODEL-10 is not applicable without quantisation/pruning code. MODEL-04 is at most partial (the catalog's default
is a manual answer): a repository can show watermark code, not that it survives theft.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlposture.probes.lifecycle.context import Context
from mlposture.probes.lifecycle.libraries import Library, find_usages, searched_text, usage_evidence
from mlposture.probes.lifecycle.pysource import UNKNOWN, Call
from mlposture.scanner import yamlsafe
from mlposture.scanner.probe import Effect, Evidence, Finding, NotApplicable, ProbeItem, Searched, Severity
from mlposture.scanner.settings import Settings

R = "model_lifecycle."
DP_MODULES = ("opacus", "tensorflow_privacy", "jax_privacy", "diffprivlib", "pydp",
              "flwr.server.strategy.DifferentialPrivacyServerSideFixedClipping",
              "flwr.server.strategy.DifferentialPrivacyClientSideFixedClipping",
              "flwr.server.strategy.DifferentialPrivacyServerSideAdaptiveClipping",
              "flwr.server.strategy.DifferentialPrivacyClientSideAdaptiveClipping")
DP_FACTORIES = {"make_keras_optimizer_class", "make_vectorized_keras_optimizer_class", "make_optimizer_class",
                "make_gaussian_optimizer_class", "make_vectorized_optimizer_class"}
DP_OPTIMIZERS = DP_FACTORIES | {"DPKerasSGDOptimizer", "DPKerasAdamOptimizer", "DPKerasAdagradOptimizer",
                                "VectorizedDPKerasSGDOptimizer", "VectorizedDPKerasAdamOptimizer",
                                "DPGradientDescentGaussianOptimizer", "DPAdamGaussianOptimizer",
                                "DPAdagradGaussianOptimizer", "DPSequential"}
DP_OPTIMIZER_NAME = re.compile(r"^(Vectorized)?DP(Keras)?\w*Optimizer$")
DP_CONTEXT_KEYS = {"delta", "target_delta", "noise_multiplier", "max_grad_norm", "l2_norm_clip"}
COMPRESSION = (
    Library("PyTorch quantization", ("torch.ao.quantization", "torch.quantization")),
    Library("PyTorch pruning", ("torch.nn.utils.prune",)),
    Library("bitsandbytes", ("bitsandbytes", "transformers.BitsAndBytesConfig")),
    Library("Optimum", ("optimum",)),
    Library("AutoGPTQ", ("auto_gptq",)),
    Library("AutoAWQ", ("awq",)),
    Library("ONNX Runtime quantization", ("onnxruntime.quantization",)),
    Library("Intel Neural Compressor", ("neural_compressor",)),
    Library("TF Model Optimization", ("tensorflow_model_optimization",)),
)
ATTACKS = (
    Library("ART attacks", ("art.attacks",)),
    Library("torchattacks", ("torchattacks",)),
    Library("TextAttack", ("textattack",)),
    Library("Foolbox", ("foolbox",)),
    Library("RobustBench", ("robustbench",)),
)
HARDENING = (
    Library("ART adversarial trainer", ("art.defences.trainer",)),
    Library("ART certified estimator (randomized smoothing)", ("art.estimators.certification",)),
    Library("torchattacks", ("torchattacks",)),
    Library("TextAttack augmentation", ("textattack.augmentation",)),
    Library("CleverHans", ("cleverhans",)),
    Library("Foolbox", ("foolbox",)),
    Library("ART attacks", ("art.attacks",)),
    Library("AdverTorch", ("advertorch",)),
)
# attack libraries: hardening only when they generate examples inside a training loop, not for evaluation
ATTACK_ONLY = {"torchattacks", "CleverHans", "Foolbox", "ART attacks", "AdverTorch"}
HARDENING_KEYS = {"adversarial_training", "adv_training", "pgd_eps", "pgd_epsilon", "randomized_smoothing",
                  "smoothing_sigma", "certified_training"}
WATERMARK = re.compile(r"(?i)watermark|trigger_set|key_inputs")
OUTPUT_MARKING = ("imwatermark", "invisible_watermark", "synthid", "c2pa")


def _yaml_files(ctx: Context, needles: tuple[str, ...]) -> Iterator[tuple[str, yamlsafe.YMap]]:
    """YAML documents of the files whose text mentions one of ``needles`` (lower-case): only those can hold the
    keys the caller looks for, so the thousands of other YAML files of a large repository are not parsed."""
    for f in ctx.repo.files:
        if f.suffix not in (".yml", ".yaml") or f.path.startswith(".github/") or f.size > 512 * 1024:
            continue
        text = ctx.repo.read_text(f, limit=512 * 1024)
        if text is None:
            continue
        low = text.lower()
        if not any(n in low for n in needles):
            continue
        try:
            docs = yamlsafe.load_all(text)
        except yamlsafe.YamlError as exc:
            if re.search(r"(?i)epsilon|adversarial|pgd_|smoothing", text):
                ctx.repo.note(f"YAML not parsed ({exc.message}); privacy/hardening settings in it were not read",
                              f.path, exc.line)
            continue
        for doc in docs:
            if isinstance(doc, yamlsafe.YMap):
                yield f.path, doc


def _walk(node: object, parents: tuple[str, ...] = (), depth: int = 0) -> Iterator[tuple[yamlsafe.YMap, str,
                                                                                          tuple[str, ...]]]:
    if depth > 40:
        return
    if isinstance(node, yamlsafe.YMap):
        for key, value in node.items():
            yield node, str(key), parents
            yield from _walk(value, (*parents, str(key)), depth + 1)
    elif isinstance(node, yamlsafe.YList):
        for item in node:
            yield from _walk(item, parents, depth + 1)


def _epsilon_verdict(value: object, settings: Settings) -> tuple[Effect, str]:
    limit = settings.dp_epsilon_max
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < limit:
            return Effect.PASS, f"ε = {value:g}, below {limit:g}"
        return Effect.PARTIAL, f"ε = {value:g}, not below {limit:g}"
    return Effect.PARTIAL, "ε not determinable from the code (not a literal)"


def _dp_optimizer(call: Call) -> bool:
    """A DP optimizer: TF Privacy classes and factories, or any optimizer given DP-SGD's clipping and noise."""
    return (call.attr in DP_OPTIMIZERS or bool(DP_OPTIMIZER_NAME.match(call.attr)) or "dp_sgd" in call.attr.lower()
            or (call.has_kw("noise_multiplier") and (call.has_kw("l2_norm_clip") or call.has_kw("max_grad_norm"))))


def privacy(ctx: Context, settings: Settings) -> Iterator[ProbeItem]:
    """MODEL-05."""
    found = False
    for facts in ctx.facts:
        if not facts.uses_module(*DP_MODULES) and not facts.imports(*DP_MODULES) and \
                not any(_dp_optimizer(c) for c in facts.calls):
            continue
        for call in facts.calls:
            site = call.site
            if call.attr == "make_private_with_epsilon" or (call.name.startswith("diffprivlib") and
                                                            call.has_kw("epsilon")):
                found = True
                key = "target_epsilon" if call.attr == "make_private_with_epsilon" else "epsilon"
                value = call.kw(key)
                effect, text = _epsilon_verdict(UNKNOWN if value is None else value, settings)
                yield Evidence("MODEL-05", effect, f"{call.name}({key}=...): {text}{site.suffix()}", site.path,
                               site.line, R + "dp-epsilon")
            elif call.attr in ("make_private", "DifferentialPrivacyServerSideFixedClipping",
                               "DifferentialPrivacyClientSideFixedClipping") or _dp_optimizer(call):
                found = True
                nm = call.kw("noise_multiplier")
                if call.attr in DP_FACTORIES:
                    what = f"{call.name}() builds a DP-SGD optimizer class"
                else:
                    shown = f"noise_multiplier={nm}" if isinstance(nm, (int, float)) else "noise set elsewhere"
                    what = f"{call.name}() trains with DP ({shown})"
                yield Evidence("MODEL-05", Effect.PARTIAL, f"{what}; ε not stated in code{site.suffix()}",
                               site.path, site.line, R + "dp-training")
            if call.attr == "PrivacyEngine" and call.kw("secure_mode") is not True:
                yield Finding(R + "dp-secure-mode-off", Severity.INFO,
                              "Opacus PrivacyEngine without secure_mode=True: noise comes from a non-cryptographic "
                              f"generator (fine for research, weak against a determined attacker){site.suffix()}",
                              site.path, site.line, ("MODEL-05",), "secure_mode", Effect.PARTIAL)
    for path, doc in _yaml_files(ctx, ("epsilon",)):
        for node, key, parents in _walk(doc):
            low = key.lower()
            dp_scope = any(re.search(r"(?i)privacy|\bdp\b|^dp_|_dp$", p) for p in parents)
            sibling = bool(DP_CONTEXT_KEYS & {str(k).lower() for k in node})
            if low in ("target_epsilon", "dp_epsilon") or (low == "epsilon" and (dp_scope or sibling)):
                found = True
                effect, text = _epsilon_verdict(node[key], settings)
                yield Evidence("MODEL-05", effect, f"config {'.'.join((*parents, key))}: {text}", path,
                               node.line_of(key), R + "dp-epsilon")
    yield Searched("MODEL-05", "Opacus make_private_with_epsilon(target_epsilon=)/make_private, TF Privacy DP "
                   "optimizers, JAX Privacy, diffprivlib epsilon=, Flower DP wrappers, YAML target_epsilon/"
                   f"dp_epsilon/epsilon beside delta or noise_multiplier; threshold ε < {settings.dp_epsilon_max:g}"
                   + ("" if found else " (none found)"))


def compression(ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-10: applicability, then a robustness comparison of compressed models."""
    usages = find_usages(list(ctx.facts), COMPRESSION, ctx.wiring)
    kwarg_sites = [c.site for f in ctx.facts for c in f.calls if c.kw("load_in_8bit") is True
                   or c.kw("load_in_4bit") is True]
    if not usages and not kwarg_sites:
        yield NotApplicable("MODEL-10", f"no quantisation/pruning code found ({searched_text(COMPRESSION)}, "
                            "load_in_8bit/load_in_4bit)")
        return
    where = usages[0].where if usages else kwarg_sites[0].where()
    compared = False
    for facts in ctx.facts:
        attacks = facts.imports(*(m for lib in ATTACKS for m in lib.modules))
        if not attacks:
            continue
        text = " ".join(s for s, _ in facts.strings) + " " + " ".join(c.name for c in facts.calls) + facts.path
        if re.search(r"(?i)quantiz|prun|int8|4bit|8bit|compress|distil", text):
            compared = True
            yield Evidence("MODEL-10", Effect.PASS, f"robustness of the compressed model is tested with "
                           f"{attacks[0].name}{attacks[0].site.suffix()}", facts.path, attacks[0].site.line,
                           R + "compression-robustness")
    if not compared:
        for u in find_usages(list(ctx.facts), ATTACKS, ctx.wiring)[:1]:
            yield Evidence("MODEL-10", Effect.PARTIAL, f"attack library {u.name} present ({u.where}) but not seen "
                           "comparing full and compressed models", u.path, u.line, R + "compression-robustness")
    yield Searched("MODEL-10", f"model compression found ({where}); looked for an attack suite "
                   f"({searched_text(ATTACKS)}) run against the compressed model (file mentioning quantisation, "
                   "pruning or distillation)")


def hardening(ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-12: adversarial training and certified robustness, plus config flags."""
    usages = find_usages(list(ctx.facts), HARDENING, ctx.wiring)
    in_loop = {f.path for f in ctx.facts if any(c.attr in ("backward", "step", "fit", "train_step") for c in f.calls)}
    kept = []
    for u in usages:
        if u.library.label in ATTACK_ONLY and u.path not in in_loop:
            continue  # an attack used for evaluation only is not hardening
        kept.append(u)
    yield from usage_evidence("MODEL-12", R + "adversarial-training", "adversarial training / certified robustness",
                              kept, [])
    for path, doc in _yaml_files(ctx, tuple(sorted(HARDENING_KEYS))):
        for node, key, parents in _walk(doc):
            if key.lower() in HARDENING_KEYS and node[key] not in (False, None, 0, "false"):
                yield Evidence("MODEL-12", Effect.PARTIAL, f"config {'.'.join((*parents, key))} = {node[key]!s} "
                               "(hardening configured; training code not confirmed)", path, node.line_of(key),
                               R + "adversarial-training")
    yield Searched("MODEL-12", f"{searched_text(HARDENING)} (attack libraries only inside a training loop), config "
                   f"flags {', '.join(sorted(HARDENING_KEYS))}")


def watermarking(ctx: Context) -> Iterator[ProbeItem]:
    """MODEL-04 (partial at most)."""
    for facts in ctx.facts:
        if facts.uses_module(*OUTPUT_MARKING):
            continue
        hits = [c for c in facts.calls if WATERMARK.search(c.attr)]
        if hits:
            verify = any(re.search(r"(?i)verif|detect|check", c.attr) for c in hits)
            call = hits[0]
            yield Evidence("MODEL-04", Effect.PARTIAL, f"model watermark code {call.name}()"
                           + (" with a verification function" if verify else " (no verification function seen)")
                           + f"{call.site.suffix()}; that it survives extraction needs a manual answer",
                           call.site.path, call.site.line, R + "watermark")
    yield Searched("MODEL-04", "watermark/trigger_set/key_inputs calls and verify_watermark functions in model code "
                   "(output-marking libraries such as invisible-watermark, SynthID, C2PA do not count)")
