"""``python -m mlposture.probes.serialization PATH...``: ``mlposture scan-models`` without loading the rest of the
CLI."""

from mlposture.probes.serialization.command import scan_models

if __name__ == "__main__":
    scan_models.main(prog_name="mlposture scan-models")
