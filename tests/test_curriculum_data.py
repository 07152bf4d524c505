"""The shipped curriculum.yaml against the study plan it transcribes.

The expected post titles below were transcribed by hand from study-plan.md, independently of
curriculum.yaml; where ../shared/study-plan.md is present, the notes and WandB lines are also compared
with the plan's text itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from studyforge.curriculum import Curriculum, load_curriculum

ROOT = Path(__file__).parents[1]
PLAN = ROOT.parent / "shared" / "study-plan.md"

# Week -> the plan's named posts, in order (Blog 1, Blog 2 / the single "Blog").
NAMED_POSTS: dict[int, list[str]] = {
    1: ["Decision Making 101: How AI Learns to Choose",
        "The Mathematics of Optimal Decisions: Bellman Equations Explained"],
    2: ["Breaking Down Language: How AI Reads Text",
        "The Tokenization Wars: BPE vs WordPiece vs SentencePiece"],
    3: ["The Evolution of Attention: From Dot-Product to Flash Attention",
        "Position, Position, Position: The Hidden Battle in Transformers"],
    4: ["The Policy Gradient Wars: From REINFORCE to GRPO",
        "Beyond PPO: The New Generation of Preference Optimization"],
    5: ["Transformer Architecture Evolution: From Attention to Mamba",
        "The Efficiency Revolution: MoE, Sparse Attention, and Beyond"],
    6: ["The Best of Both Worlds: Actor-Critic Methods"],
    7: ["PPO: The Goldilocks of Policy Optimization"],
    8: ["Teaching Machines to Speak: The Art of Language Modeling"],
    9: ["The Science of Preference: From Human Feedback to AI Alignment",
        "Building Better Reward Models: Architecture, Uncertainty, and Robustness"],
    10: ["RLHF in Practice: PPO Meets Language Models"],
    11: ["Constitutional AI: Teaching Machines Right from Wrong",
         "The Alignment Challenge: From Weak-to-Strong Generalization to Superalignment"],
    12: ["When Optimization Goes Wrong: The Dark Side of Reward Maximization"],
    13: ["The Mathematics of Intelligence: Decoding Scaling Laws",
         "When Magic Happens: Understanding Emergent Capabilities in Large Models"],
    14: ["Learning Values: From Bellman to Deep Q-Networks"],
    15: ["Planning vs Learning: The Model-Based Advantage"],
    16: ["The Road Ahead: Open Problems and Future Directions"],
}

# Well-known arXiv ids, looked up independently of curriculum.yaml.
KNOWN_ARXIV = {
    "Attention Is All You Need": "1706.03762",
    "Proximal Policy Optimization Algorithms": "1707.06347",
    "Trust Region Policy Optimization": "1502.05477",
    "Direct Preference Optimization: Your Language Model is Secretly a Reward Model": "2305.18290",
    "Constitutional AI: Harmlessness from AI Feedback": "2212.08073",
    "Scaling Laws for Neural Language Models": "2001.08361",
    "Training Compute-Optimal Large Language Models": "2203.15556",
    "Playing Atari with Deep Reinforcement Learning": "1312.5602",
}

# Week -> the package (experiment id prefix) that implements its studies.
TOPIC_OF_WEEK = {
    1: {"mdp"}, 2: {"tokenization"}, 3: {"attention"}, 4: {"policy_gradient", "preference_optimization"},
    5: {"transformer"}, 6: {"policy_gradient"}, 7: {"policy_gradient"}, 8: {"language_modeling"},
    9: {"preference"}, 10: {"rlhf"}, 11: {"safety"}, 12: {"reward_hacking"}, 13: {"scaling"},
    14: {"value_based"}, 15: {"model_based"}, 16: {"meta_learning"},
}


@pytest.fixture(scope="module")
def cur() -> Curriculum:
    return load_curriculum(ROOT / "curriculum.yaml")


def test_sixteen_weeks_in_four_phases(cur: Curriculum) -> None:
    assert [w.week for w in cur.weeks] == list(range(1, 17))
    assert [(p.id, p.weeks) for p in cur.phases] == [
        (1, [1, 2, 3, 4]), (2, [5, 6, 7, 8]), (3, [9, 10, 11, 12]), (4, [13, 14, 15, 16])]
    for phase in cur.phases:
        for number in phase.weeks:
            assert cur.week(number).phase == phase.id


def test_named_posts_are_the_plans_24_titles_in_order(cur: Curriculum) -> None:
    assert sum(len(titles) for titles in NAMED_POSTS.values()) == 24
    for w in cur.weeks:
        named = [p for p in w.posts if p.title is not None]
        assert [p.title for p in named] == NAMED_POSTS[w.week], f"week {w.week}"
        assert named[0].kind == "primary"
        assert all(p.kind == "connection" for p in named[1:])


def test_single_post_weeks_have_a_connection_slot(cur: Curriculum) -> None:
    for w in cur.weeks:
        slots = [p for p in w.posts if p.title is None]
        if len(NAMED_POSTS[w.week]) == 1:
            assert len(slots) == 1, f"week {w.week}"
            assert slots[0].kind == "connection"
            assert slots[0].notes_for_agent.strip()
        else:
            assert slots == [], f"week {w.week}"
    assert cur.post_count() == 2 * len(cur.weeks) == 16 * cur.schedule.posts_per_week


def test_post_slugs_are_unique(cur: Curriculum) -> None:
    slugs = [p.slug for w in cur.weeks for p in w.posts]
    assert len(slugs) == len(set(slugs))


def test_week1_experiments(cur: Curriculum) -> None:
    assert [e.id for e in cur.week(1).experiments] == ["mdp.gridworld_solver", "mdp.value_vs_policy_iteration"]


def test_every_week_has_experiments_and_a_wandb_line(cur: Curriculum) -> None:
    for w in cur.weeks:
        assert w.experiments, f"week {w.week} has no experiments"
        assert w.wandb.strip(), f"week {w.week} has no WandB line"
        for e in w.experiments:
            assert e.id.split(".")[0] in TOPIC_OF_WEEK[w.week], e.id
            assert e.title.strip() and e.description.strip() and e.tracks.strip(), e.id


def test_builds_on_links(cur: Curriculum) -> None:
    assert {4, 1} <= set(cur.week(6).posts[0].builds_on)
    assert 2 in cur.week(3).posts[0].builds_on
    assert set(cur.week(12).posts[0].builds_on) == {9, 10, 11}
    assert set(cur.week(16).posts[0].builds_on) == set(range(1, 16))


def test_arxiv_ids_well_formed_and_consistent(cur: Curriculum) -> None:
    id_of: dict[str, str] = {}
    title_of: dict[str, str] = {}
    for w in cur.weeks:
        for paper in w.core_papers:
            if paper.arxiv is None:
                continue
            match = re.fullmatch(r"(\d{2})(\d{2})\.(\d{4,5})", paper.arxiv)
            assert match, paper.arxiv
            yy, mm, number = match.groups()
            assert 1 <= int(mm) <= 12, paper.arxiv
            # Five-digit sequence numbers started in January 2015.
            assert (len(number) == 5) == ((int(yy), int(mm)) >= (15, 1)), paper.arxiv
            # One id per title and one title per id, wherever the paper recurs.
            assert id_of.setdefault(paper.title, paper.arxiv) == paper.arxiv, paper.title
            assert title_of.setdefault(paper.arxiv, paper.title) == paper.title, paper.arxiv
    for title, arxiv in KNOWN_ARXIV.items():
        assert id_of.get(title) == arxiv, title


def test_schedule(cur: Curriculum) -> None:
    s = cur.schedule
    assert s.start_date.weekday() == 0
    assert s.study_days == ["monday", "tuesday", "wednesday"] and s.review_day == "thursday"
    assert s.posts_per_week == 2
    assert {e.id for e in cur.editions} == {"scientist", "manager"}


def _plan_lines(prefix: str) -> list[str]:
    text = PLAN.read_text(encoding="utf-8")
    return [m.group(1).strip() for m in re.finditer(rf"^\*\*{prefix}\*\*:\s*(.+)$", text, re.MULTILINE)]


@pytest.mark.skipif(not PLAN.exists(), reason="../shared/study-plan.md is not present")
def test_notes_and_wandb_lines_are_verbatim(cur: Curriculum) -> None:
    wandb = [m.strip() for m in re.findall(r"^- \*\*WandB\*\*: (.+)$", PLAN.read_text(encoding="utf-8"), re.MULTILINE)]
    assert [w.wandb for w in cur.weeks] == wandb
    notes = _plan_lines(r"(?:Notes for Agent|Content)")
    ours = [p.notes_for_agent for w in cur.weeks for p in w.posts if p.title is not None]
    assert ours == notes
    titles = [t.strip('"') for t in _plan_lines(r"Blog(?: \d)?")]
    assert titles == [t for week in sorted(NAMED_POSTS) for t in NAMED_POSTS[week]]
