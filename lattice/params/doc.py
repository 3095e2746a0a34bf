"""Print the parameter reference (key, default, units, meaning, source) as a Markdown table.

    python -m lattice.params.doc
"""

from __future__ import annotations

from lattice.params.run import RunParams
from lattice.params.spec import describe


def reference_table() -> str:
    lines = ["| key | default | units | meaning | source |", "|---|---|---|---|---|"]
    for key, default, units, help_, source in describe(RunParams):
        lines.append(f"| `{key}` | {default!r} | {units} | {help_} | {source} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference_table())
