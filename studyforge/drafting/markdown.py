"""Links in markdown, read one way for everyone: the grounding checks, `forge publish`, post summaries.

    find_links(body)              every `[text](target)`, `![alt](target)` and `<img src=...>` outside code
    rewrite_targets(body, {old: new})   the same links with their targets replaced (publishing's figures)
    unlink(text)                  images dropped, links replaced by their text (a summary in plain words)

Code is not prose: links inside fenced code blocks, inline code and HTML comments are not links (a post
that shows markdown syntax in a code block links nothing). `blank_fenced_code` is that rule for fences,
shared with the checks' own masking (checks.mask_code_and_links).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

FENCE = re.compile(r"^(\s*)(```|~~~)")
# [text](target "title") and ![alt](target): the text may hold one level of brackets ("Figure [1]")
_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_IMG_TAG = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*(["'])([^"']+)\1""", re.IGNORECASE)
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# the `(target "title")` right after a `]`: what the checks blank so that a path's digits are no claim
LINK_TARGET = re.compile(r"(?<=\])\([^)\s]*(?:\s+\"[^\"]*\")?\)")


@dataclass(frozen=True)
class Link:
    target: str
    line: int  # 1-based, in the text searched
    image: bool
    text: str  # the link text or alt text ("" for <img>)
    span: tuple[int, int]  # the whole link (of an <img> tag: up to the end of its src)
    target_span: tuple[int, int]
    html: bool = False  # an <img> tag


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def blank_fenced_code(body: str) -> str:
    """`body` with every line of a fenced code block (fences included) blanked; lines and columns are kept."""
    lines = body.split("\n")
    fence: str | None = None
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(2)
            lines[i] = " " * len(line)
        elif fence is not None:
            if m and m.group(2) == fence:
                fence = None
            lines[i] = " " * len(line)
    return "\n".join(lines)


def find_links(body: str) -> list[Link]:
    """Every markdown link and image and every `<img src=...>` outside code and comments, in order.

    >>> [(l.target, l.line, l.image) for l in find_links('![V*](v.png "values")\\nSee [PPO](#ppo), `[x](y)`.')]
    [('v.png', 1, True), ('#ppo', 2, False)]
    """
    text = _COMMENT.sub(_blank, _INLINE_CODE.sub(_blank, blank_fenced_code(body)))
    found = [Link(m.group(3), text.count("\n", 0, m.start()) + 1, m.group(1) == "!", m.group(2), m.span(),
                  m.span(3)) for m in _LINK.finditer(text)]
    found += [Link(m.group(2), text.count("\n", 0, m.start()) + 1, True, "", m.span(), m.span(2), html=True)
              for m in _IMG_TAG.finditer(text)]
    return sorted(found, key=lambda link: link.span)


def _replace(body: str, links: list[Link], part: Callable[[Link], tuple[tuple[int, int], str]]) -> str:
    """`body` with, for each link, the span `part` names replaced by the text it gives (links do not overlap)."""
    pieces, at = [], 0
    for link in links:
        (start, end), new = part(link)
        pieces += [body[at:start], new]
        at = end
    return "".join(pieces) + body[at:]


def rewrite_targets(body: str, mapping: dict[str, str], *, images_only: bool = True) -> str:
    """`body` with each link target found in `mapping` replaced (old -> new); everything else as it was.

    >>> rewrite_targets("![a](x.png) [b](x.png) `![c](x.png)`", {"x.png": "posts/x.png"})
    '![a](posts/x.png) [b](x.png) `![c](x.png)`'
    """
    links = [link for link in find_links(body) if link.target in mapping and (link.image or not images_only)]
    return _replace(body, links, lambda link: (link.target_span, mapping[link.target]))


def unlink(text: str) -> str:
    """`text` with markdown images dropped and each link replaced by its text (HTML is left as it is).

    >>> unlink("An [MDP](https://x.org) ![fig](a.png)is a model.")
    'An MDP is a model.'
    """
    links = [link for link in find_links(text) if not link.html]
    return _replace(text, links, lambda link: (link.span, "" if link.image else link.text))
