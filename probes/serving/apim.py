"""Azure API Management policy XML, read with defusedxml (no DTDs, no entities, no external resources).

Reads ``rate-limit-by-key`` / ``rate-limit`` (INF-01), ``quota-by-key`` / ``quota`` (INF-11), ``validate-jwt``
and ``check-header`` on ``Authorization`` (INF-07). The SAX reader keeps each element's line for the evidence.
"""

from __future__ import annotations

import re
import xml.sax
from dataclasses import dataclass, field
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesImpl, Locator

import defusedxml.sax
from defusedxml import DefusedXmlException

from mlposture.probes.serving.facts import AuthFact, Facts, KeyKind, RateLimit, Window
from mlposture.scanner.probe import Note
from mlposture.scanner.repo import RepoView

MAX_ELEMENTS = 50000
CONSUMER_KEY = re.compile(r"(Subscription|context\.User|Authorization|api-key|Ocp-Apim|AsJwt|Jwt|\.Key\b|client_id|"
                          r"x-api-key|Product)", re.I)


@dataclass(frozen=True)
class Element:
    """One policy element with its attributes and line."""

    name: str
    attrs: dict[str, str]
    line: int


@dataclass
class _Collector(ContentHandler):
    elements: list[Element] = field(default_factory=list)
    locator: Locator | None = None

    def setDocumentLocator(self, locator: Locator) -> None:
        self.locator = locator

    def startElement(self, name: str, attrs: AttributesImpl) -> None:
        if len(self.elements) >= MAX_ELEMENTS:
            raise xml.sax.SAXException(f"more than {MAX_ELEMENTS} elements")
        line = self.locator.getLineNumber() if self.locator is not None else 0
        self.elements.append(Element(name, {k: attrs[k] for k in attrs.getNames()}, int(line or 0)))


def parse_policy(text: str) -> list[Element] | Note:
    """Elements of a policy document, or a Note with the parser's message."""
    handler = _Collector()
    try:
        defusedxml.sax.parseString(text.encode("utf-8"), handler, forbid_dtd=True)
    except xml.sax.SAXParseException as exc:
        return Note(f"XML not parsed: {exc.getMessage()}", None, exc.getLineNumber())
    except (xml.sax.SAXException, DefusedXmlException, ValueError) as exc:
        return Note(f"XML not parsed: {type(exc).__name__}: {exc}")
    return handler.elements


def read_apim(repo: RepoView) -> tuple[Facts, list[Note]]:
    """Facts from every ``.xml`` file that holds APIM ``<policies>``."""
    facts = Facts()
    notes: list[Note] = []
    for f in repo.text_files((".xml",)):
        text = repo.read_text(f, 2 * 1024 * 1024)
        if text is None or "<policies" not in text:
            continue
        parsed = parse_policy(text)
        if isinstance(parsed, Note):
            notes.append(Note(f"Azure APIM policy {parsed.message}", f.path, parsed.line))
            continue
        for el in parsed:
            _element(el, f.path, facts)
    return facts, notes


def _element(el: Element, path: str, facts: Facts) -> None:
    a = el.attrs
    if el.name in ("rate-limit-by-key", "rate-limit", "quota-by-key", "quota"):
        calls = _float(a.get("calls"))
        period = _float(a.get("renewal-period"))
        if period == 0 and el.name.startswith("quota"):
            period = 10 * 31536000  # renewal-period="0": a lifetime quota
        windows = (Window(int(period), calls),) if period else ()
        if el.name in ("rate-limit", "quota"):
            key, kd = KeyKind.CONSUMER, "per subscription"
        else:
            counter = a.get("counter-key", "")
            if CONSUMER_KEY.search(counter):
                key, kd = KeyKind.CONSUMER, f'counter-key="{counter}"'
            elif "IpAddress" in counter:
                key, kd = KeyKind.IP, f'counter-key="{counter}" (client IP)'
            else:
                key, kd = KeyKind.UNKNOWN, f'counter-key="{counter}"'
        shown = " ".join(f'{k}="{v}"' for k, v in a.items() if k in ("calls", "renewal-period", "bandwidth"))
        facts.limits.append(RateLimit("azure-apim", path, el.line, key, kd, windows, f"<{el.name} {shown}>",
                                      quota=el.name.startswith("quota")))
    elif el.name in ("validate-jwt", "validate-azure-ad-token", "authentication-certificate",
                     "validate-client-certificate"):
        facts.auth.append(AuthFact("azure-apim", path, el.line, f"<{el.name}>"))
    elif el.name == "check-header" and a.get("name", "").lower() in ("authorization", "api-key", "x-api-key"):
        facts.auth.append(AuthFact("azure-apim", path, el.line, f'<check-header name="{a.get("name")}">'))


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
