"""Looking inside a trained model: evaluation, per-sample predictions, learned features, k-means.

Never imports Qt, and importing the package imports neither torch nor scikit-learn: each module
imports what it needs where it is first used. The functions that only take numpy arrays (k-means,
scores, projections) can run on a worker thread and report progress through a plain callback.

    studio.analysis.predictions   the validation set's predictions as a table a gallery can filter
    studio.analysis.images        predictions for image files
    studio.analysis.regions       decision regions of a model on 2-D points
    studio.analysis.features      the outputs of a chosen layer, one row per sample
    studio.analysis.clustering    k-means on those features, scored against the true classes
    studio.analysis.projection    2-D views of features (PCA, t-SNE)
    studio.analysis.samples       which part of the data (validation or training) is analysed
"""

from studio.core.errors import StudioError


class AnalysisError(StudioError):
    """An analysis that cannot run as asked (a layer that does not exist, an impossible k, ...)."""


__all__ = ["AnalysisError"]
