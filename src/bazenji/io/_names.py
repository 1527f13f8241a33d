"""Small helpers shared by the io readers: unique row names and short lists in error messages."""

from __future__ import annotations


def make_unique(names: list[str]) -> tuple[list[str], list[str]]:
    """Names with ``-1``, ``-2`` ... appended to repeats, skipping suffixed names already taken.

    The first occurrence keeps its name. Returns the new names and the original names that were repeated, one entry
    per renamed item, so callers can warn about them.
    """
    taken = set(names)
    if len(taken) == len(names):
        return list(names), []
    out = list(names)
    seen: set[str] = set()
    repeated = []
    for i, name in enumerate(out):
        if name not in seen:
            seen.add(name)
            continue
        k = 1
        while f"{name}-{k}" in taken:
            k += 1
        out[i] = f"{name}-{k}"
        taken.add(out[i])
        repeated.append(name)
    return out, repeated


def show(items, k: int = 5) -> str:
    """The first ``k`` items for an error message (strings quoted), with the total when there are more."""
    items = list(items)
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in items[:k])
    return shown + (f" ... ({len(items)} in all)" if len(items) > k else "")
