"""Report writers: one module per format behind the :class:`~mlposture.scanner.report.interface.Writer` interface."""
