"""Report writers: one module per format behind the :class:`~scanner.report.interface.Writer` interface."""
