"""Built-in probes. Each one registers in the ``mlposture.probes`` entry-point group, like third-party probes."""
