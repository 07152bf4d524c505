"""Week 12's studies, one module each.

- `simple_environments`   specification gaming in two gridworlds (a respawning bonus tile, a CoastRunners-style
                          lagoon): PPO on the proxy learns to farm while the task's success falls; the control and
                          the exact optima of both MDPs beside it
- `overoptimization`      Gao et al.'s over-optimisation: best-of-n (N = 256) and PPO against proxies trained on
                          128/512/2048 pairs, gold against d = √KL fitted with d(α − βd) and d(α − β log d), and the
                          text of the length/vowel exploit
- `distributional_shift`  the proxy's gold accuracy, rank correlation and calibration on the PPO policy's own samples
                          against KL from the reference, with bootstrap intervals, and where it goes wrong
- `mitigations`           KL strength, a conservative reward-model ensemble (min, mean − k·std), early stopping on a
                          held-out gold check and a length penalty, compared at equal compute over seeds
"""
