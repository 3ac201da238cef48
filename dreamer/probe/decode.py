"""Decodability: how well a linear classifier tells two kinds of input apart, cross-validated.

The classifier is a regularised least-squares (ridge) linear classifier on
standardised features: targets -1/+1, the sign of the fitted score decides.
Features are standardised once (per column, over all rows: no labels are
used), then the Gram matrix of all rows is computed once; every fold works
on its parts, centred on the fold's training rows, in kernel form (an
eigendecomposition of the training rows' Gram matrix). That costs about the
same for a 16-wide and a 5120-wide layer and gives every penalty of
``PENALTIES`` at once; the penalty is chosen in each training part by an
inner cross-validation. (L2 logistic regression by L-BFGS was tried first:
as accurate, but about 50 times slower here.) The matrices are small, so
BLAS runs on one thread (many threads only fight on a busy machine).

The folds keep a *group* together (an image and its transform, or a pair of
the user's images), so the classifier is always tested on images it has not
seen in any form.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

#: Ridge penalties tried by the inner cross-validation, relative to the mean diagonal of the Gram matrix.
PENALTIES = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
INNER_FOLDS = 3


def cross_validated_accuracy(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = 5,
                             seed: int = 0) -> float:
    """The mean accuracy on held-out groups of a linear classifier of ``labels`` (0/1) from ``features``.

    Args:
        features: M x D.
        labels: M values, 0 or 1.
        groups: M group ids; a group is never split between training and test.
        folds: outer folds (fewer if there are fewer groups of a kind).
        seed: the fold assignment's seed.

    Returns:
        The fraction of rows classified correctly, each row tested once.
    """
    labels = np.asarray(labels, int)
    groups = np.asarray(groups)
    fold_of = assign_folds(groups, labels, folds, seed)
    with threadpool_limits(1, user_api="blas"):
        gram = gram_matrix(features)
        correct = 0
        for fold in np.unique(fold_of):
            test = fold_of == fold
            penalty = choose_penalty(gram[np.ix_(~test, ~test)], labels[~test], groups[~test], seed)
            scores = ridge_scores(gram[np.ix_(~test, ~test)], gram[np.ix_(test, ~test)], labels[~test], (penalty,))
            correct += int(np.sum((scores[0] > 0).astype(int) == labels[test]))
    return correct / len(labels)


def ridge_weights(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, seed: int = 0
                  ) -> tuple[np.ndarray, float]:
    """The classifier ``cross_validated_accuracy`` tests, trained on every row: (w, b), score = features @ w + b.

    Standardisation is folded into ``w`` and ``b``; the penalty is chosen by the inner cross-validation
    over ``groups``, as in each outer fold. A score above 0 means label 1.
    """
    features = np.asarray(features, np.float64)
    labels = np.asarray(labels, int)
    mean, std = _column_scales(features)
    scaled = (features - mean) / std
    with threadpool_limits(1, user_api="blas"):
        gram = scaled @ scaled.T
        penalty = choose_penalty(gram, labels, np.asarray(groups), seed)
        targets = np.where(labels > 0, 1.0, -1.0)
        offset = targets.mean()
        values, vectors = np.linalg.eigh(gram)
        values = np.maximum(values, 0.0)
        scale = max(float(np.trace(gram)) / len(gram), 1e-30)
        alpha = vectors @ ((vectors.T @ (targets - offset)) / (values + penalty * scale))
        weights = (scaled.T @ alpha) / std
    return weights, float(offset - mean @ weights)


def _column_scales(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation (1 for a constant column, which is then only centred)."""
    mean = features.mean(axis=0)
    std = (features - mean).std(axis=0)
    return mean, np.where(std > 1e-8 * max(float(std.max(initial=0.0)), 1e-30), std, 1.0)


def gram_matrix(features: np.ndarray) -> np.ndarray:
    """M x M inner products of the rows after each column is standardised (constant columns only centred)."""
    features = np.asarray(features, np.float64)
    mean, std = _column_scales(features)
    scaled = (features - mean) / std
    return scaled @ scaled.T


def assign_folds(groups: np.ndarray, labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold number per row: groups shuffled, then dealt out round-robin within each kind of group.

    A kind is the set of labels a group holds, so with one class per group
    (two folders of classes) every fold gets both classes.
    """
    groups = np.asarray(groups)
    unique = list(dict.fromkeys(groups.tolist()))
    rng = np.random.default_rng(seed)
    kinds: dict[tuple, list] = {}
    for group in rng.permutation(len(unique)):
        key = tuple(sorted(set(labels[groups == unique[group]].tolist())))
        kinds.setdefault(key, []).append(unique[group])
    folds = max(2, min(folds, min(len(members) for members in kinds.values())))
    fold_of_group = {}
    for members in kinds.values():
        for position, group in enumerate(members):
            fold_of_group[group] = position % folds
    return np.array([fold_of_group[g] for g in groups.tolist()])


def ridge_scores(train_gram: np.ndarray, test_gram: np.ndarray, train_y: np.ndarray,
                 penalties: tuple[float, ...]) -> list[np.ndarray]:
    """For each penalty, the test rows' scores (above 0: class 1) of ridge regression on -1/+1 targets.

    Args:
        train_gram: train x train inner products.
        test_gram: test x train inner products.
    """
    targets = np.where(train_y > 0, 1.0, -1.0)
    offset = targets.mean()
    row_means = train_gram.mean(axis=0)
    centred = train_gram - row_means[None, :] - row_means[:, None] + row_means.mean()
    cross = test_gram - row_means[None, :] - test_gram.mean(axis=1)[:, None] + row_means.mean()
    values, vectors = np.linalg.eigh(centred)
    values = np.maximum(values, 0.0)
    scale = max(float(np.trace(centred)) / len(centred), 1e-30)
    projected = vectors.T @ (targets - offset)
    cross = cross @ vectors
    return [cross @ (projected / (values + penalty * scale)) + offset for penalty in penalties]


def choose_penalty(train_gram: np.ndarray, train_y: np.ndarray, groups: np.ndarray, seed: int) -> float:
    """The penalty with the least inner cross-validated squared error (ties: the stronger penalty)."""
    if len(np.unique(groups)) < 2 * INNER_FOLDS or len(np.unique(train_y)) < 2:
        return PENALTIES[-1]
    fold_of = assign_folds(groups, train_y, INNER_FOLDS, seed + 1)
    errors = np.zeros(len(PENALTIES))
    for fold in np.unique(fold_of):
        test = fold_of == fold
        targets = np.where(train_y[test] > 0, 1.0, -1.0)
        scores = ridge_scores(train_gram[np.ix_(~test, ~test)], train_gram[np.ix_(test, ~test)], train_y[~test],
                              PENALTIES)
        errors += [float(np.sum((s - targets) ** 2)) for s in scores]
    best = errors.min()
    return max(p for p, e in zip(PENALTIES, errors) if e <= best * (1 + 1e-9))


def wilson_interval(accuracy: float, count: int, z: float = 1.96) -> tuple[float, float]:
    """The ~95% Wilson score interval of an accuracy measured on ``count`` independent units.

    The probe counts images (groups), not rows: an image and its transform
    are tested together and are not independent, so the interval is that
    of ``count`` trials, which is the honest (wider) one.
    """
    if count <= 0:
        return 0.0, 1.0
    p = min(max(float(accuracy), 0.0), 1.0)
    z2 = z * z / count
    centre = (p + z2 / 2) / (1 + z2)
    half = z / (1 + z2) * np.sqrt(p * (1 - p) / count + z2 / (4 * count))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def chance_band(rows: int, z: float = 1.96) -> float:
    """Half-width of the ~95% band of accuracy around 50% that guessing reaches on ``rows`` test rows."""
    return z * 0.5 / np.sqrt(max(rows, 1))
