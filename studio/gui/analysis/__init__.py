"""The Results dock: looking inside a trained run (evaluation, predictions, decision regions, k-means).

The numbers come from studio.analysis; this package only shows them. Everything that needs torch or
scikit-learn runs in one background worker (`worker.JobRunner`) on a `session.Session` that holds the
model and the data, and the views receive plain results (numpy arrays and dataclasses of them).
"""
