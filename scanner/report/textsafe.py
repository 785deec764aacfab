"""Repository text made safe for the medium it is printed in (Markdown, terminal).

File names, keys and values quoted in findings come from the scanned repository. A file name can hold a newline
(a fake report line), HTML (``<img onerror=...>`` rendered by a Markdown viewer), ANSI/OSC escape sequences (that
recolour, retitle or hyperlink a terminal) or bidirectional overrides (that make ``gnp.lkp`` read as ``pkl.png``).
Writers pass every such string through one of these functions; JSON and SARIF keep the exact text (their encoders
escape it) so tools see what the repository holds.
"""

from __future__ import annotations

import re

# C0 and C1 controls (tab and newline included: a report line is one line), DEL, bidirectional controls,
# zero-width characters and the BOM
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def _visible(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in "\t\n\r":
        return " "
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(text: object) -> str:
    """One line of text without control, bidi or zero-width characters (shown as ``\\xNN``/``\\uNNNN``)."""
    return _UNSAFE.sub(_visible, str(text))


def md_text(text: object) -> str:
    """Plain text for Markdown prose or a table cell: no HTML, no Markdown syntax, one line."""
    s = _MD_SPECIAL.sub(r"\\\1", plain(text))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_code(text: object, table: bool = False) -> str:
    """A Markdown code span the text cannot close early; ``table`` escapes ``|`` for a table cell."""
    s = plain(text)
    if table:
        s = s.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"
