"""Which posts and editions `--post` and `--edition` pick from a week: one reading for draft, review and publish.

    select(plan, week, post="2", edition="all") -> Selection
    selection.pairs()              (post, edition) in the plan's order: what `forge draft` writes
    selection.has(slug, edition)   whether a draft file's post and edition are picked: what review reads

`post` is the post's number in the week (1, 2), its slug, or all (None too); `edition` an edition id or
all. Anything else is a ForgeError that lists what there is.
"""

from __future__ import annotations

from dataclasses import dataclass

from studyforge.curriculum import Curriculum, Edition, Post, Week
from studyforge.errors import ForgeError


@dataclass(frozen=True)
class Selection:
    week: Week
    editions: tuple[Edition, ...]  # the plan's
    post: Post | None  # None: every post
    edition: Edition | None  # None: every edition

    def pairs(self) -> list[tuple[Post, Edition]]:
        posts = [self.post] if self.post else list(self.week.posts)
        editions = [self.edition] if self.edition else list(self.editions)
        return [(p, e) for p in posts for e in editions]

    @property
    def label(self) -> str:
        """What was picked, e.g. 'ppo-explained scientist' ('' when everything was)."""
        return " ".join(x for x in (self.post and self.post.slug, self.edition and self.edition.id) if x)

    def has(self, slug: str, edition: str) -> bool:
        return ((self.post is None or slug == self.post.slug)
                and (self.edition is None or edition == self.edition.id))


def select(plan: Curriculum, week: int, post: str | None = None, edition: str | None = None) -> Selection:
    """What `--post N|SLUG|all` and `--edition ID|all` pick in `week` (None: all)."""
    w = plan.week(week)
    posts = list(w.posts)
    chosen_post = None
    if post not in (None, "all"):
        if post.isdigit() and 1 <= int(post) <= len(posts):
            chosen_post = posts[int(post) - 1]
        else:
            chosen_post = next((p for p in posts if p.slug == post), None)
        if chosen_post is None:
            listing = ", ".join(f"{i} = {p.slug}" for i, p in enumerate(posts, 1))
            raise ForgeError(f"week {w.week} has no post {post!r}", hint=f"use --post with a number or slug: {listing}")
    editions = tuple(plan.editions)
    chosen_edition = None
    if edition not in (None, "all"):
        chosen_edition = next((e for e in editions if e.id == edition), None)
        if chosen_edition is None:
            raise ForgeError(f"no edition {edition!r}", hint=f"use --edition {' | '.join(e.id for e in editions)} | all")
    return Selection(w, editions, chosen_post, chosen_edition)
