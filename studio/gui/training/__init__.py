"""Training from the window: a worker thread running the engine, live curves, the runs of a project."""
