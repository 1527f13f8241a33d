"""Window plans and the zarr/xarray window store: create, open, read back in batches, resume.

Knows nothing of torch: the model side reads batches as numpy arrays.
"""

from ._batches import WindowDataset, iter_batches
from ._plan import WindowPlan, geometry, plan_centered, plan_tiled
from ._results import (
    announce_reuse,
    create_profile,
    done_chunks,
    open_results,
    read_chunk,
    reset_chunks,
    results_keys,
    write_chunk,
    write_profile,
)
from ._zarr import (
    FORMAT,
    FORMAT_VERSION,
    attrs,
    check_complete,
    check_targets,
    chunk_bounds,
    create,
    encoded_chunks,
    exists,
    is_created,
    is_store,
    is_url,
    mark_complete,
    open,
    read_plan,
    remove,
    write_onehot_chunk,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "WindowDataset",
    "WindowPlan",
    "announce_reuse",
    "attrs",
    "check_complete",
    "check_targets",
    "chunk_bounds",
    "create",
    "create_profile",
    "done_chunks",
    "encoded_chunks",
    "exists",
    "geometry",
    "is_created",
    "is_store",
    "is_url",
    "iter_batches",
    "mark_complete",
    "open",
    "open_results",
    "plan_centered",
    "plan_tiled",
    "read_chunk",
    "read_plan",
    "reset_chunks",
    "results_keys",
    "remove",
    "write_chunk",
    "write_onehot_chunk",
    "write_profile",
]
