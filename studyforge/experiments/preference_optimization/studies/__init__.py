"""Week 4's preference-optimization study, in its own module: `method_comparison` trains DPO, IPO, SimPO and
KTO from one reference model (a week-8 language model) on one set of preference pairs labelled by a
Bradley–Terry annotator with a known reward, and measures held-out preference accuracy, implicit reward margins
and the true reward of fresh samples against their KL from the reference. Its figure is
`preference_optimization.plots`.
"""
