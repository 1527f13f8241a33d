"""Global settings: the only global state bazenji keeps."""

from __future__ import annotations

import logging
import os

import numpy as np
import torch

logger = logging.getLogger("bazenji")

_VERBOSITY = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}


class Settings:
    """Library-wide defaults, read by every function that takes the matching keyword.

    Attributes
    ----------
    device
        ``"auto"`` (CUDA, then MPS, then CPU) or any torch device string.
    batch_size
        Windows per model call when a function is not given ``batch_size``.
    n_threads
        Threads for torch and the numba encoding kernels; ``None`` leaves torch's default.
    progress
        Show tqdm progress bars for long work.
    verbosity
        0 errors, 1 warnings, 2 info, 3 debug; sets the level of the ``bazenji`` logger.
    client
        A ``dask.distributed.Client`` used by functions that take ``client=`` when none is given.
    """

    def __init__(self) -> None:
        self._device = "auto"
        self._batch_size = 4
        self._n_threads: int | None = None
        self.progress = True
        self._verbosity = 1
        self.client = None
        self.verbosity = 1

    @property
    def device(self) -> str:
        return self._device

    @device.setter
    def device(self, value: str) -> None:
        if value != "auto":
            try:
                torch.device(value)
            except (RuntimeError, TypeError) as err:
                raise ValueError(f"settings.device={value!r} is not 'auto' or a torch device string") from err
        self._device = value

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"settings.batch_size={value!r}; expected a positive integer")
        self._batch_size = value

    @property
    def n_threads(self) -> int | None:
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"settings.n_threads={value!r}; expected a positive integer or None")
        self._n_threads = value
        if value is not None:
            torch.set_num_threads(value)
            try:
                import numba

                numba.set_num_threads(min(value, numba.config.NUMBA_NUM_THREADS))
            except ImportError:  # pragma: no cover
                pass

    @property
    def verbosity(self) -> int:
        return self._verbosity

    @verbosity.setter
    def verbosity(self, value: int) -> None:
        if value not in _VERBOSITY:
            raise ValueError(f"settings.verbosity={value!r}; expected one of {sorted(_VERBOSITY)}")
        self._verbosity = value
        logger.setLevel(_VERBOSITY[value])

    def resolve_batch_size(self, batch_size: int | None) -> int:
        """``batch_size``, or :attr:`batch_size` when ``None``; anything but a positive integer is refused."""
        if batch_size is None:
            return self._batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r}; expected a positive integer")
        return int(batch_size)

    def resolve_device(self, device: str | torch.device | None = None) -> torch.device:
        """The torch device for ``device``, or for :attr:`device` when ``None``; ``"auto"`` picks the best present."""
        device = self._device if device is None else device
        if device == "auto":
            if torch.cuda.is_available():
                return torch.device("cuda")
            if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
                return torch.device("mps")
            return torch.device("cpu")
        try:
            resolved = torch.device(device)
        except RuntimeError as err:
            raise ValueError(f"device={device!r}; expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' ({err})") from None
        present = {
            "cpu": lambda: True,
            "cuda": lambda: torch.cuda.is_available() and (resolved.index or 0) < torch.cuda.device_count(),
            "mps": lambda: getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        }.get(resolved.type, lambda: True)
        if not present():
            raise ValueError(f"device={device!r} is not available on this machine; expected 'auto' or 'cpu'")
        return resolved

    def __repr__(self) -> str:
        fields = ("device", "batch_size", "n_threads", "progress", "verbosity", "client")
        return "Settings(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in fields) + ")"


settings = Settings()
if "BAZENJI_THREADS" in os.environ:
    settings.n_threads = int(os.environ["BAZENJI_THREADS"])
