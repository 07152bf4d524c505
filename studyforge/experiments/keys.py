"""Summary-key-safe names, shared by every topic's studies.

Summary keys nest with dots (`cartpole_v1.ppo.final_return`), so a name that becomes one part of a key
must not contain a dot: environment ids and numbers are written with underscores.
"""

from __future__ import annotations


def env_key(env_id: str) -> str:
    """An environment id as one key part: every character that is not a letter or a digit becomes `_`.

    >>> env_key("CartPole-v1"), env_key("MinAtar/Breakout")
    ('cartpole_v1', 'minatar_breakout')
    """
    return "".join(c if c.isalnum() else "_" for c in env_id.lower())


def num_key(x: float) -> str:
    """A number as one key part, in its shortest form (`:g`), `.` -> `_` and `-` -> `m`.

    >>> num_key(0.95), num_key(1.0), num_key(16), num_key(-0.5)
    ('0_95', '1', '16', 'm0_5')
    """
    return f"{x:g}".replace(".", "_").replace("-", "m")


def gamma_key(gamma: float) -> str:
    """A discount factor γ ∈ (0, 1] as one key part.

    >>> gamma_key(0.99), gamma_key(1.0), gamma_key(0.9)
    ('gamma0_99', 'gamma1', 'gamma0_9')
    """
    return "gamma" + num_key(gamma)
