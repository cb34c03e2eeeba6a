"""summary.md: the report's headline figures and tables as Markdown (no charts), for a chat message,
an e-mail or a pull request; the same cards and tables as report.html."""

from __future__ import annotations

from fidelcli.report.html import Card, Cells, PageSection, labelled_cells, section_warnings
from fidelcli.report.views import Note, TableBlock


def _table(block: TableBlock, cells: Cells, *, max_rows: int = 20) -> list[str]:
    headers, rows, numeric = cells(block.frame.head(max_rows))
    lines = [f"**{block.title}**", "", "| " + " | ".join(headers) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    if block.frame.height > max_rows:
        lines.append(f"| … {block.frame.height - max_rows} |" + " |" * (len(headers) - 1))
    if block.note:
        lines += ["", f"_{block.note}_"]
    return [*lines, ""]


def summary(*, title: str, subtitle: str, cards: list[Card], sections: list[PageSection], cells: Cells,
            skipped: dict[str, str], skipped_title: str, lang: str = "en") -> str:
    """The Markdown document (the sections' warnings in `lang`)."""
    cells = labelled_cells(cells, lang)
    lines = [f"# {title}", "", subtitle, ""]
    lines += [f"- **{c.label}**: {c.value}" + (f" ({c.change})" if c.change else "") for c in cards]
    lines.append("")
    for s in sections:
        lines += [f"## {s.title}", ""]
        lines += [f"> {w}" for w in section_warnings(s, lang)]
        for b in s.blocks:
            if isinstance(b, TableBlock):
                lines += _table(b, cells)
            elif isinstance(b, Note):
                lines += [b.text, ""]
    if skipped:
        lines += [f"## {skipped_title}", ""] + [f"- {k}: {v}" for k, v in skipped.items()] + [""]
    return "\n".join(lines)
