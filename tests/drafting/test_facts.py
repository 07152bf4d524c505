"""Facts (`drafting/facts.py`): a run record's numbers as named facts — ids, values, stats over seeds — and the
grouped lines the prompt shows."""

from __future__ import annotations

from studyforge.drafting.context import gather
from studyforge.drafting.facts import describe, fact_id, facts_of_record, group_lines


def test_fact_ids_values_and_stats(ws):
    record = gather(ws, 1).runs[0]
    facts = {f.id: f for f in facts_of_record(record, 1)}
    final = facts["w01.ppo.cartpole.final_return"]
    assert final.display == "487.3 ± 9.1 (3 seeds)" and final.numbers == (487.3, 9.1, 3.0)
    assert facts["w01.ppo.cartpole.cartpole.solved_at_step"].display == "40000"
    assert facts["w01.ppo.cartpole.cartpole.returns"].display == "[64 values: min 0, max 63, mean 31.5]"
    assert facts["w01.ppo.cartpole.config.clip"].value == 0.2
    assert facts["w01.ppo.cartpole.run.seeds"].value == 3
    assert fact_id(4, "ppo.cartpole", ["Gamma 0.99", "V*(start)"]) == "w04.ppo.cartpole.gamma_0_99.v_start"


def test_describe_lists_and_grouping():
    assert describe([0, -14, -20]) == ("[0, -14, -20]", (0.0, -14.0, -20.0, 3.0))
    assert describe(True) == ("true", ())
    assert describe(1e-10)[0] == "1e-10"
    from studyforge.drafting.facts import Fact

    facts = [Fact(f"w01.x.sweeps.{a}", n, str(n), "x", "r", (float(n),)) for a, n in (("vi", 4), ("pi", 2), ("mpi", 3))]
    assert group_lines(facts) == ["w01.x.sweeps.{vi = 4, pi = 2, mpi = 3}"]
    assert group_lines(facts[:2]) == ["w01.x.sweeps.vi = 4", "w01.x.sweeps.pi = 2"]
