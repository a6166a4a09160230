"""Lambda entry points. Each parses its event and hands the work to :mod:`kitteh`."""
