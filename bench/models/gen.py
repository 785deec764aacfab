"""Write the large benchmark files (run in the fixtures environment: torch, numpy, scikit-learn, joblib).

Usage: python gen.py OUTDIR SCALE. SCALE 1.0 gives the sizes of issue 7: a 5-million-opcode pickle, a 1 GiB NumPy
array pickled in-band, a 2 GiB torch zip with 20,000 tensors, a 100-tree forest as pickle and joblib, and a
540 MiB pickle whose (inert) payload comes first. Nothing here is ever loaded.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path


class Payload:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("touch /tmp/mlposture-bench-canary",))


def main() -> None:
    out = Path(sys.argv[1])
    scale = float(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    import joblib
    import numpy as np
    import torch
    from sklearn.ensemble import RandomForestClassifier

    def done(name: str) -> None:
        print(f"{name}: {(out / name).stat().st_size / 2**20:.0f} MiB", flush=True)

    n = 450_000  # about 5 million opcodes whatever the scale: small on disk, costly to walk
    (out / "opcodes_5m.pkl").write_bytes(pickle.dumps(
        [{"a": i, "b": float(i), "c": f"x{i % 100}"} for i in range(n)], protocol=4))
    done("opcodes_5m.pkl")
    with open(out / "numpy_1g_inband.pkl", "wb") as fh:
        pickle.dump(np.zeros(int((1 << 27) * scale), dtype=np.float64), fh, protocol=4)
    done("numpy_1g_inband.pkl")
    per = max(1, int((2 << 30) * scale / 20_000 / 4))
    torch.save({f"layer{i}.weight": torch.zeros(per) for i in range(20_000)}, out / "torch_2g_20k.pt")
    done("torch_2g_20k.pt")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 20))
    y = (X[:, 0] + rng.normal(size=20_000) > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1).fit(X, y)
    (out / "forest_100.pkl").write_bytes(pickle.dumps(forest, protocol=4))
    done("forest_100.pkl")
    joblib.dump(forest, out / "forest_100.joblib")
    done("forest_100.joblib")
    (out / "payload_first_540m.pkl").write_bytes(pickle.dumps([Payload(), b"\0" * int(540 * 2**20 * scale)],
                                                              protocol=4))
    done("payload_first_540m.pkl")


if __name__ == "__main__":
    main()
