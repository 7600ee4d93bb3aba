"""Embeddings (PCA, t-SNE) of activations, and class-separation scores against references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from physxai.features import embed, layer_embedding, separation_scores
from physxai.testing import tiny_mlp

D = torch.float64


def test_pca_embedding_matches_the_top_singular_vectors():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(50, 4, generator=g, dtype=D) * torch.tensor([5.0, 2.0, 0.5, 0.1], dtype=D)
    emb = embed(X, method="pca")
    Xc = X - X.mean(0)
    _, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    ref = Xc @ Vh[:2].T
    # components are defined up to sign
    assert torch.allclose(emb.coordinates.abs(), ref.abs(), atol=1e-10)
    assert torch.allclose(emb.explained_variance_ratio, (S[:2] ** 2) / (S**2).sum(), atol=1e-12)


def test_tsne_separates_two_clusters_and_scores_see_it():
    g = torch.Generator().manual_seed(0)
    X = torch.cat([torch.randn(30, 5, generator=g), torch.randn(30, 5, generator=g) + 6.0])
    y = torch.tensor([0] * 30 + [1] * 30)
    emb = embed(X, method="tsne", perplexity=10.0)
    assert emb.coordinates.shape == (60, 2) and emb.kl_divergence is not None
    scores = separation_scores(emb.coordinates, y)
    assert scores["knn_accuracy"] == 1.0 and scores["neighborhood_hit"] == 1.0
    assert scores["silhouette"] > 0.5
    shuffled = separation_scores(emb.coordinates, y[torch.randperm(60, generator=g)])
    assert shuffled["knn_accuracy"] < 0.8 and abs(shuffled["silhouette"]) < 0.2


def test_knn_accuracy_equals_leave_one_out_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = rng.integers(0, 3, size=40)
    ours = separation_scores(X, y, n_neighbors=3)["knn_accuracy"]
    hits = 0
    for i in range(40):
        keep = np.arange(40) != i
        clf = KNeighborsClassifier(n_neighbors=3).fit(X[keep], y[keep])
        hits += int(clf.predict(X[i : i + 1])[0] == y[i])
    assert ours == hits / 40


def test_layer_embedding_records_the_layer():
    model = tiny_mlp(dtype=D)
    X = torch.randn(25, 6, dtype=D)
    emb = layer_embedding(model, X, "1", method="pca", max_batch_size=7)
    assert emb.coordinates.shape == (25, 2) and emb.settings["layer"] == "1"
    with pytest.raises(ValueError, match="'9'.*valid names"):
        layer_embedding(model, X, "9")


def test_embedding_errors():
    X = torch.randn(10, 3)
    with pytest.raises(ValueError, match="method must be one of"):
        embed(X, method="umap")
    with pytest.raises(ValueError, match="perplexity must be below the number of samples"):
        embed(X, perplexity=30.0)
    with pytest.raises(ValueError, match="n_components must be at most"):
        embed(X, method="pca", n_components=4)
    with pytest.raises(ValueError, match="t-SNE .* supports n_components <= 3"):
        embed(X, n_components=4, perplexity=3.0)
    with pytest.raises(ValueError, match="labels must be integers of shape"):
        separation_scores(X, torch.zeros(9, dtype=torch.long))
    with pytest.raises(ValueError, match="at least two classes"):
        separation_scores(X, torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match="n_neighbors must be below the number of points"):
        separation_scores(X, torch.arange(10) % 2, n_neighbors=10)
