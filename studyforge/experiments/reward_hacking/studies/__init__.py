"""Week 12's studies, one module each.

- `simple_environments`  specification gaming in two gridworlds (a respawning bonus tile, a CoastRunners-style
                         lagoon): PPO on the proxy learns to farm while the task's success falls; the control and
                         the exact optima of both MDPs beside it
"""
