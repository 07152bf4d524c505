"""The figures of week 9's studies, one function per figure (study modules only hand them to `ctx.log_figure`).

matplotlib is imported inside each function (the CLI must start fast); the runner selects the Agg backend.
"""

from __future__ import annotations
