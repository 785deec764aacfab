"""Data and model lifecycle: one distribution, two probes (``data_lifecycle``, ``model_lifecycle``).

Both judge the same facts (Python sources and notebooks, CI and shell commands, DVC and LFS files, documents), so
they share one context (:mod:`.context`) built once per scan instead of one probe importing the other.
"""

from mlposture.probes.lifecycle.data import DataLifecycleProbe
from mlposture.probes.lifecycle.model import ModelLifecycleProbe

__all__ = ["DataLifecycleProbe", "ModelLifecycleProbe"]
