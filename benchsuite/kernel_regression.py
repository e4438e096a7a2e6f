"""The regression a kernel kind's time is fitted with (latency_model.py): scikit-learn's estimator interface,
kept apart so that latency_model imports without scikit-learn (an optional extra, `benchsuite[predict]`)."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class KernelRegression(RegressorMixin, BaseEstimator):
    """log time of a kernel from its features (Kernel.features order), in two stages: a non-negative linear
    cost (a fixed cost, plus time per multiply-add, per byte moved and per output element; fitted on relative
    error), then a ridge quadratic in the logarithms of the shape that corrects its log ratio (how efficient
    the library's kernel is at that shape). The first stage is the physics and extrapolates; the second
    bends it between grid points. scikit-learn's estimator interface, so cross_val_predict can use it."""

    def __init__(self, alphas=(1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)):
        self.alphas = alphas

    @staticmethod
    def _linear(x):
        return np.column_stack([x[:, 0], x[:, 1], x[:, 2]])

    @staticmethod
    def _shape(x):
        return np.log1p(x)

    def fit(self, x, y):
        from sklearn.linear_model import LinearRegression, RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import PolynomialFeatures, StandardScaler

        t = np.exp(y)
        self.linear_ = LinearRegression(positive=True).fit(self._linear(x), t, sample_weight=1 / t ** 2)
        self.shape_ = make_pipeline(StandardScaler(), PolynomialFeatures(2), RidgeCV(alphas=self.alphas))
        self.shape_.fit(self._shape(x), y - self._log_linear(x))
        return self

    def _log_linear(self, x):
        return np.log(np.maximum(self.linear_.predict(self._linear(x)), 1e-12))

    def predict(self, x):
        return self._log_linear(x) + self.shape_.predict(self._shape(x))
