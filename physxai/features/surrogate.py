"""Global surrogates: an interpretable model fitted to the network's predictions.

A global surrogate (Craven & Shavlik 1996; Molnar, *Interpretable Machine Learning*, Sec. 8.6)
replaces the question "what does the network do?" by "what does a shallow decision tree (or a
sparse linear model) that imitates it do?". The surrogate is trained on the network's own
predictions -- not on the true labels -- so its **fidelity** on held-out inputs (the accuracy of
agreeing with the network for a classifier, R^2 for a regressor) says how far its rules can be
trusted as a description of the network. The rules are printed in the input's own feature names
(``magnetization <= 0.42``, ``energy > -1.3``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validation import (
    check_choice,
    check_inputs,
    check_positive_float,
    check_positive_int,
    check_same_device,
    check_target,
    warn_if_training,
)
from ..errors import NotFittedError

__all__ = ["GlobalSurrogate"]

KINDS = ("tree", "linear")
TASKS = ("classification", "regression")


class GlobalSurrogate:
    """A decision tree or sparse linear model fitted to a model's predictions.

    Parameters
    ----------
    model : nn.Module or callable
        ``x (n, *F) -> output``. Classification: logits ``(n, K)`` (the prediction is the
        argmax) or one logit ``(n,)``/``(n, 1)`` (positive means class 1). Regression: the
        output selected by ``target``.
    kind : {"tree", "linear"}, default "tree"
        ``"tree"``: ``DecisionTreeClassifier``/``Regressor``; ``"linear"``: an L1-penalised
        logistic regression (classification) or a Lasso (regression).
    task : {"classification", "regression"}, default "classification"
    max_depth : int, default 3
        Depth of the tree (readability: 2^depth leaves at most).
    alpha : float, default 0.01
        L1 strength of the linear surrogate (Lasso's ``alpha``; ``C = 1/alpha`` for logistic).
    feature_names : sequence of str or None
        One name per input feature (after flattening); default ``x[i]`` / ``x[i,j]``.
    target : None, int or callable
        Regression only: which output to imitate (as in ``attribute``).
    max_batch_size : int, default 1024
    random_state : int, default 0

    Attributes
    ----------
    surrogate_ : sklearn estimator
    feature_names_ : list of str
    classes_ : ndarray (classification)
    train_fidelity_ : float

    References
    ----------
    M. Craven, J. Shavlik, NeurIPS 8 (1996); C. Molnar, Interpretable Machine Learning (2022),
    "Global Surrogate".

    Examples
    --------
    >>> import torch
    >>> model = lambda x: torch.stack([x[:, 0], -x[:, 0]], 1)
    >>> s = GlobalSurrogate(model, max_depth=1, feature_names=["a", "b"]).fit(torch.randn(50, 2))
    >>> s.fidelity(torch.randn(50, 2))
    1.0
    """

    def __init__(
        self,
        model: Any,
        *,
        kind: str = "tree",
        task: str = "classification",
        max_depth: int = 3,
        alpha: float = 0.01,
        feature_names: Sequence[str] | None = None,
        target: Any = None,
        max_batch_size: int = 1024,
        random_state: int = 0,
    ):
        caller = "GlobalSurrogate"
        if not callable(model):
            raise TypeError(
                f"{caller}: model must be an nn.Module or a callable; got {type(model).__name__}."
            )
        check_choice(kind, KINDS, caller, "kind")
        check_choice(task, TASKS, caller, "task")
        check_positive_int(max_depth, caller, "max_depth")
        check_positive_float(alpha, caller, "alpha")
        if feature_names is not None and (
            isinstance(feature_names, str) or not all(isinstance(f, str) for f in feature_names)
        ):
            raise TypeError(f"{caller}: feature_names must be a sequence of str or None.")
        if target is not None and task == "classification":
            raise ValueError(
                f"{caller}: target selects a regression output; a classifier's prediction is the "
                "argmax of its logits. Use task='regression' or target=None."
            )
        check_positive_int(max_batch_size, caller, "max_batch_size")
        check_positive_int(random_state, caller, "random_state", minimum=0)
        self.model = model
        self.kind = kind
        self.task = task
        self.max_depth = max_depth
        self.alpha = alpha
        self.feature_names = feature_names
        self.target = target
        self.max_batch_size = max_batch_size
        self.random_state = random_state

    def __repr__(self) -> str:
        return (
            f"GlobalSurrogate(kind={self.kind!r}, task={self.task!r}, max_depth={self.max_depth}, "
            f"alpha={self.alpha})"
        )

    def _predictions(self, X: Tensor, caller: str) -> np.ndarray:
        check_same_device(self.model, X, caller)
        warn_if_training(self.model, caller)
        select = (
            check_target(self.target, X.shape[0], caller) if self.task == "regression" else None
        )
        parts = []
        with torch.no_grad():
            for start in range(0, X.shape[0], self.max_batch_size):
                chunk = X[start : start + self.max_batch_size]
                out = self.model(chunk)
                if not isinstance(out, Tensor):
                    raise TypeError(
                        f"{caller}: the model must return one tensor; got {type(out).__name__}."
                    )
                if self.task == "regression":
                    rows = torch.arange(start, start + chunk.shape[0])
                    parts.append(select(out, rows).double().cpu().numpy())
                elif out.dim() == 2 and out.shape[1] >= 2:
                    parts.append(out.argmax(dim=1).cpu().numpy())
                elif out.dim() == 1 or (out.dim() == 2 and out.shape[1] == 1):
                    parts.append((out.reshape(-1) > 0).long().cpu().numpy())
                else:
                    raise ValueError(
                        f"{caller}: a classifier must output logits (n, n_classes) or one logit "
                        f"(n,); got shape {tuple(out.shape)}."
                    )
        return np.concatenate(parts)

    def _features(self, X: Any, caller: str) -> tuple[Tensor, np.ndarray]:
        X = check_inputs(X, caller, "X")
        flat = X.detach().reshape(X.shape[0], -1).cpu().double().numpy()
        if hasattr(self, "surrogate_") and tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"{caller}: X must have per-sample shape {self.input_shape_} like the data the "
                f"surrogate was fitted on; got shape {tuple(X.shape)}."
            )
        return X, flat

    def fit(self, X: Tensor) -> GlobalSurrogate:
        """Fit the surrogate to the model's predictions on ``X`` ``(n, *F)``; returns self."""
        from sklearn.linear_model import Lasso
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        caller = "GlobalSurrogate.fit"
        for attr in ("surrogate_",):
            self.__dict__.pop(attr, None)
        X, flat = self._features(X, caller)
        d = flat.shape[1]
        if self.feature_names is not None and len(self.feature_names) != d:
            raise ValueError(
                f"{caller}: feature_names must give one name per feature; X of shape "
                f"{tuple(X.shape)} has {d} features, got {len(self.feature_names)} names."
            )
        names = (
            list(self.feature_names)
            if self.feature_names is not None
            else _default_names(tuple(X.shape[1:]))
        )
        y = self._predictions(X, caller)
        if self.task == "classification":
            if self.kind == "tree":
                est = DecisionTreeClassifier(
                    max_depth=self.max_depth, random_state=self.random_state
                )
            else:
                est = _l1_logistic(1.0 / self.alpha, self.random_state)
            if len(np.unique(y)) < 2:
                raise ValueError(
                    f"{caller}: the model predicts one class on all of X; a surrogate needs at "
                    "least two. Use more varied inputs."
                )
        elif self.kind == "tree":
            est = DecisionTreeRegressor(max_depth=self.max_depth, random_state=self.random_state)
        else:
            est = Lasso(alpha=self.alpha, max_iter=10000)
        est.fit(flat, y)
        self.surrogate_ = est
        self.feature_names_ = names
        self.input_shape_ = tuple(X.shape[1:])
        if self.task == "classification":
            self.classes_ = est.classes_
        self.train_fidelity_ = self._score(flat, y)
        return self

    def _score(self, flat: np.ndarray, y: np.ndarray) -> float:
        pred = self.surrogate_.predict(flat)
        if self.task == "classification":
            return float((pred == y).mean())
        ss_res = float(((y - pred) ** 2).sum())
        ss_tot = float(((y - y.mean()) ** 2).sum())
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else float(ss_res == 0.0)

    def _check_fitted(self, caller: str) -> None:
        if not hasattr(self, "surrogate_"):
            raise NotFittedError(
                f"{caller}: this GlobalSurrogate is not fitted; call fit(X) first."
            )

    def predict(self, X: Tensor) -> Tensor:
        """The surrogate's prediction ``(n,)`` for ``X`` ``(n, *F)``."""
        caller = "GlobalSurrogate.predict"
        self._check_fitted(caller)
        _, flat = self._features(X, caller)
        return torch.as_tensor(self.surrogate_.predict(flat))

    def fidelity(self, X: Tensor) -> float:
        """Agreement with the model on ``X`` (held out): accuracy, or R^2 for regression."""
        caller = "GlobalSurrogate.fidelity"
        self._check_fitted(caller)
        X, flat = self._features(X, caller)
        return self._score(flat, self._predictions(X, caller))

    def rules(self, decimals: int = 3) -> str:
        """The surrogate as text in the feature names: the tree's rules or the linear formula."""
        from sklearn.tree import export_text

        caller = "GlobalSurrogate.rules"
        self._check_fitted(caller)
        check_positive_int(decimals, caller, "decimals", minimum=0)
        est = self.surrogate_
        if self.kind == "tree":
            return export_text(est, feature_names=self.feature_names_, decimals=decimals)
        coef = np.atleast_2d(est.coef_)
        intercept = np.atleast_1d(est.intercept_)
        lines = []
        heads = (
            ["y"]
            if self.task == "regression"
            else (
                ["logit(class 1)"]
                if coef.shape[0] == 1
                else [f"score(class {c})" for c in self.classes_]
            )
        )
        for head, w, b in zip(heads, coef, intercept):
            terms = [
                f"{wi:+.{decimals}f} * {name}"
                for wi, name in zip(w, self.feature_names_)
                if wi != 0
            ]
            lines.append(f"{head} = {b:.{decimals}f} " + " ".join(terms))
        return "\n".join(lines)


def _l1_logistic(C: float, random_state: int) -> Any:
    """An L1-penalised logistic regression; scikit-learn 1.8 replaced penalty= by l1_ratio=."""
    import sklearn
    from sklearn.linear_model import LogisticRegression

    major, minor = (int(p) for p in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        return LogisticRegression(
            l1_ratio=1.0, C=C, solver="saga", max_iter=5000, random_state=random_state
        )
    return LogisticRegression(
        penalty="l1", C=C, solver="saga", max_iter=5000, random_state=random_state
    )


def _default_names(shape: tuple[int, ...]) -> list[str]:
    if len(shape) <= 1:
        return [f"x[{i}]" for i in range(int(np.prod(shape)) if shape else 1)]
    return ["x[" + ",".join(map(str, idx)) + "]" for idx in np.ndindex(*shape)]
