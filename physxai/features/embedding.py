"""Embeddings of a layer's activations over a data set, and how well they separate the classes.

Rauber et al. (2017) look at the hidden activity of a network by projecting the activations of
one layer, over a whole data set, into two dimensions. PCA keeps the directions of largest
variance (linear, deterministic); t-SNE (van der Maaten & Hinton 2008) keeps local neighbourhoods:
Gaussian affinities ``p_ij`` in the activation space, heavy-tailed Student-t affinities ``q_ij`` in
the map, positions by minimising ``KL(P || Q)``. Its picture depends on the perplexity (the
effective number of neighbours), so that is an option here, and it is a visualisation, not a
measurement: the class separation is therefore quantified by :func:`separation_scores` -- the
leave-one-out k-NN accuracy in the map and the silhouette coefficient -- which should rise with
training. Scatter plots coloured by label or by a physical parameter (temperature) are in
:func:`physxai.plot.embedding_scatter`.

References
----------
P. E. Rauber, S. G. Fadel, A. X. Falcao, A. C. Telea, IEEE TVCG 23, 101 (2017),
doi:10.1109/TVCG.2016.2598838.
L. van der Maaten, G. Hinton, JMLR 9, 2579 (2008).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_inputs, check_positive_float, check_positive_int
from ._capture import capture_activations

__all__ = ["Embedding", "embed", "layer_embedding", "separation_scores"]

METHODS = ("tsne", "pca")


@dataclass(frozen=True)
class Embedding:
    """The result of :func:`embed` / :func:`layer_embedding`.

    Attributes
    ----------
    coordinates : Tensor, shape ``(n, n_components)``, float64
    method : str
        ``"tsne"`` or ``"pca"``.
    explained_variance_ratio : Tensor or None
        PCA only: the variance fraction of each component.
    kl_divergence : float or None
        t-SNE only: the final KL(P || Q).
    settings : dict
        Perplexity, standardisation, random state, layer.
    """

    coordinates: Tensor
    method: str
    explained_variance_ratio: Tensor | None
    kl_divergence: float | None
    settings: dict[str, Any]


def _as_features(X: Any, caller: str, name: str = "features") -> np.ndarray:
    if isinstance(X, np.ndarray):
        X = torch.as_tensor(X)
    X = check_inputs(X, caller, name)
    return X.detach().reshape(X.shape[0], -1).cpu().double().numpy()


def embed(
    features: Tensor | np.ndarray,
    *,
    method: str = "tsne",
    n_components: int = 2,
    perplexity: float = 30.0,
    standardize: bool = False,
    random_state: int = 0,
) -> Embedding:
    """Reduce features ``(n, *F)`` (flattened) to ``(n, n_components)`` by t-SNE or PCA.

    Parameters
    ----------
    features : Tensor or ndarray, shape ``(n, *F)``
        Activations of a layer (or raw inputs).
    method : {"tsne", "pca"}, default "tsne"
    n_components : int, default 2
    perplexity : float, default 30
        t-SNE's effective number of neighbours; must be below ``n``.
    standardize : bool, default False
        Scale every feature to zero mean and unit variance first (constant features stay 0).
    random_state : int, default 0
        Seeds t-SNE's initialisation (PCA init) and optimiser.

    Returns
    -------
    Embedding

    Raises
    ------
    ValueError
        Unknown method, ``perplexity >= n``, ``n_components`` larger than the features allow.

    Examples
    --------
    >>> import torch
    >>> from physxai.features import embed
    >>> embed(torch.randn(30, 5), method="pca").coordinates.shape
    torch.Size([30, 2])
    """
    caller = "embed"
    check_choice(method, METHODS, caller, "method")
    check_positive_int(n_components, caller, "n_components")
    perplexity = check_positive_float(perplexity, caller, "perplexity")
    check_positive_int(random_state, caller, "random_state", minimum=0)
    X = _as_features(features, caller)
    n, d = X.shape
    if standardize:
        std = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    settings = {"perplexity": perplexity, "standardize": standardize, "random_state": random_state}
    if method == "pca":
        from sklearn.decomposition import PCA

        if n_components > min(n, d):
            raise ValueError(
                f"{caller}: n_components must be at most min(n_samples, n_features) = "
                f"{min(n, d)} for PCA; got {n_components}."
            )
        pca = PCA(n_components=n_components).fit(X)
        coords = pca.transform(X)
        return Embedding(
            torch.as_tensor(coords),
            "pca",
            torch.as_tensor(pca.explained_variance_ratio_),
            None,
            settings,
        )
    from sklearn.manifold import TSNE

    if perplexity >= n:
        raise ValueError(
            f"{caller}: perplexity must be below the number of samples ({n}); got {perplexity}."
        )
    if n_components > 3:
        raise ValueError(
            f"{caller}: t-SNE (Barnes-Hut) supports n_components <= 3; got {n_components}."
        )
    tsne = TSNE(
        n_components=n_components,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        random_state=random_state,
    )
    coords = tsne.fit_transform(X)
    return Embedding(torch.as_tensor(coords), "tsne", None, float(tsne.kl_divergence_), settings)


def layer_embedding(
    model: Any,
    inputs: Tensor,
    layer: str,
    *,
    method: str = "tsne",
    n_components: int = 2,
    perplexity: float = 30.0,
    standardize: bool = False,
    random_state: int = 0,
    max_batch_size: int = 256,
) -> Embedding:
    """The activations of ``layer`` over ``inputs``, embedded by :func:`embed`.

    Parameters
    ----------
    model : nn.Module
    inputs : Tensor, shape ``(n, *F)``
    layer : str
        A qualified module name (``"features.act1"``).
    method, n_components, perplexity, standardize, random_state
        As in :func:`embed`.
    max_batch_size : int, default 256

    Returns
    -------
    Embedding
        ``settings["layer"]`` records the layer.

    Raises
    ------
    ValueError
        A layer the model does not have (the message lists the valid names), and :func:`embed`'s.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> layer_embedding(model, torch.randn(20, 3), "1", method="pca").coordinates.shape
    torch.Size([20, 2])
    """
    acts = capture_activations(model, inputs, [layer], max_batch_size=max_batch_size)[layer]
    emb = embed(
        acts,
        method=method,
        n_components=n_components,
        perplexity=perplexity,
        standardize=standardize,
        random_state=random_state,
    )
    return Embedding(
        emb.coordinates,
        emb.method,
        emb.explained_variance_ratio,
        emb.kl_divergence,
        {**emb.settings, "layer": layer},
    )


def separation_scores(
    coordinates: Tensor | np.ndarray, labels: Tensor | np.ndarray, *, n_neighbors: int = 5
) -> dict[str, float]:
    """How well the classes separate in a map: k-NN accuracy, neighbourhood hit, silhouette.

    Parameters
    ----------
    coordinates : Tensor or ndarray, shape ``(n, d)``
        An embedding (or any features).
    labels : Tensor or ndarray, shape ``(n,)``, integers
    n_neighbors : int, default 5

    Returns
    -------
    dict
        ``knn_accuracy``: leave-one-out accuracy of a majority vote of the ``n_neighbors``
        nearest other points (ties go to the smallest label); ``neighborhood_hit``: the mean
        fraction of those neighbours sharing the point's label (Rauber et al. 2017);
        ``silhouette``: the mean silhouette coefficient (Euclidean), in [-1, 1].

    Raises
    ------
    ValueError
        Shapes that disagree, fewer than two classes, ``n_neighbors >= n``.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    >>> separation_scores(x, torch.tensor([0, 0, 0, 1, 1, 1]), n_neighbors=2)["knn_accuracy"]
    1.0
    """
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import NearestNeighbors

    caller = "separation_scores"
    X = _as_features(coordinates, caller, "coordinates")
    check_positive_int(n_neighbors, caller, "n_neighbors")
    y = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{caller}: labels must be integers of shape ({X.shape[0]},); got dtype {y.dtype} "
            f"and shape {y.shape}."
        )
    n_classes = len(np.unique(y))
    if n_classes < 2:
        raise ValueError(f"{caller}: labels must hold at least two classes; got {n_classes}.")
    if n_neighbors >= X.shape[0]:
        raise ValueError(
            f"{caller}: n_neighbors must be below the number of points ({X.shape[0]}); got "
            f"{n_neighbors}."
        )
    # the query point itself is its own nearest neighbour: ask for one more and drop it
    _, idx = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(X).kneighbors(X)
    rows = np.arange(X.shape[0])
    neighbours = np.array([[j for j in r if j != i][:n_neighbors] for i, r in zip(rows, idx)])
    classes, codes = np.unique(y, return_inverse=True)
    votes = np.zeros((X.shape[0], len(classes)), dtype=int)
    np.add.at(votes, (np.repeat(rows, n_neighbors), codes[neighbours].ravel()), 1)
    predicted = classes[votes.argmax(axis=1)]
    return {
        "knn_accuracy": float((predicted == y).mean()),
        "neighborhood_hit": float((y[neighbours] == y[:, None]).mean()),
        "silhouette": float(silhouette_score(X, y)),
    }
