"""Model lifecycle probe: artifact hashes, registries, privacy, versioned deploys, provenance, cards, signing.

Reads Python sources and notebook code cells (``ast``; shared facts with the data probe), CI steps, shell scripts,
Makefiles, Dockerfiles, deploy manifests (YAML/JSON/Terraform text), YAML configs, model cards (Hugging Face front
matter, Markdown sections, CycloneDX ``modelCard``) and signature files (Sigstore bundles, ``.sig``). Speaks for
MODEL-01 (hashes verified before load), MODEL-02 (registry), MODEL-04 (watermarking), MODEL-05 (differential
privacy, epsilon compared with ``dp_epsilon_max``), MODEL-06 (versioned deploy references), MODEL-07 (pre-trained
provenance), MODEL-08 (model cards), MODEL-09 (classification), MODEL-10 (compression), MODEL-11 (signing),
MODEL-12 (adversarial training / certified robustness) and MODEL-13 (third-party licences).

``trust_remote_code=True`` and pickle loads are the serialization probe's; they are not repeated here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from mlposture.probes.lifecycle import artifacts, documents, registry, training
from mlposture.probes.lifecycle.cards import model_cards
from mlposture.probes.lifecycle.context import SOURCE, context_of
from mlposture.probes.lifecycle.pysource import VISITORS
from mlposture.probes.lifecycle.rules_model_lifecycle import RULES
from mlposture.scanner.probe import Probe, ProbeItem
from mlposture.scanner.sources import ScanContext
from mlposture.scanner.sources.python import PythonVisitor


class ModelLifecycleProbe(Probe):
    """Model hashes, registry, DP epsilon, versioned deploys, pre-trained provenance, model cards, signing, licences.

    See the module docstring for the files read and the rules applied.
    """

    name = "model_lifecycle"
    version = "0.1.0"
    rules = RULES
    uses = (SOURCE,)
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = VISITORS

    def scan(self, scan_ctx: ScanContext) -> Iterable[ProbeItem]:
        """Gather the facts once (shared with the data probe), then judge each control."""
        repo, settings = scan_ctx.repo, scan_ctx.settings
        ctx = context_of(repo)
        cards = model_cards(repo)
        yield from artifacts.hashes(ctx)
        yield from registry.registry(ctx)
        yield from training.watermarking(ctx)
        yield from training.privacy(ctx, settings)
        yield from registry.versioning(ctx)
        yield from artifacts.provenance(ctx)
        yield from documents.model_cards_control(cards, ctx)
        yield from registry.classification(ctx, cards)
        yield from training.compression(ctx)
        yield from artifacts.signing(ctx)
        yield from training.hardening(ctx)
        yield from documents.licences(cards, ctx)
