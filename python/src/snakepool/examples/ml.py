"""An ML adapter: trains a linear classifier on scikit-learn's bundled digits data set.

``train`` heartbeats after every epoch with a JSON checkpoint and resumes from ``ctx.resume``, so a
Temporal retry (after a worker crash, a timeout or a cancel) continues where the last attempt
stopped instead of at epoch 0. ``evaluate`` scores a model that ``train`` returned, and
``pick_best`` chooses among the evaluations: together they are the hyperparameter sweep of
``make demo`` (``examples/pipelines/sweep.json``).

Serve it with ``python -m snakepool.server --adapter snakepool.examples.ml:DigitsAdapter``. It is
thread-safe (the data set is shared read-only; every call builds its own model), so ``--mode thread``
works too. Needs the ``examples`` extra (numpy, scikit-learn).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from snakepool import InvalidArguments, ThreadSafeAdapter, ToolContext, thread_safe_method, tool

__all__ = ["DigitsAdapter"]

Loss = Literal["log_loss", "hinge", "modified_huber"]


class DigitsAdapter(ThreadSafeAdapter):
    """Train and evaluate an ``SGDClassifier`` on the 8x8 digits images (1797 samples, 10 classes)."""

    __thread_safe__ = True

    def setup(self) -> None:
        # Pattern 1 (shared read-only state): loaded once per process, never modified.
        x, y = load_digits(return_X_y=True)
        x = x / 16.0
        self.x_train, self.x_test, self.y_train, self.y_test = train_test_split(
            x, y, test_size=0.25, random_state=0, stratify=y
        )
        self.classes = np.unique(y)

    def _classifier(self, loss: str, learning_rate: float, alpha: float, seed: int) -> SGDClassifier:
        return SGDClassifier(
            loss=loss, learning_rate="constant", eta0=learning_rate, alpha=alpha, random_state=seed
        )

    @staticmethod
    def _checkpoint(clf: SGDClassifier, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "coef": clf.coef_.tolist(),
            "intercept": clf.intercept_.tolist(),
            "classes": [int(c) for c in clf.classes_],
            "t": float(clf.t_),
            "params": params,
        }

    def _restore(self, model: Any, clf: SGDClassifier) -> None:
        try:
            coef = np.asarray(model["coef"], dtype=float)
            intercept = np.asarray(model["intercept"], dtype=float)
            classes = np.asarray(model["classes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArguments(f"not a model returned by train: {exc!r}") from None
        n_features = self.x_train.shape[1]
        if coef.shape != (len(classes), n_features) or intercept.shape != (len(classes),):
            raise InvalidArguments(
                f"model shapes {coef.shape}/{intercept.shape} do not fit "
                f"{len(classes)} classes x {n_features} features"
            )
        clf.coef_ = coef
        clf.intercept_ = intercept
        clf.classes_ = classes
        clf.t_ = float(model.get("t", 1.0))
        clf.n_features_in_ = n_features

    @thread_safe_method
    @tool(description="Train a classifier on the digits data set, heartbeating a checkpoint every epoch")
    def train(
        self,
        ctx: ToolContext,
        epochs: int = 10,
        learning_rate: float = 0.01,
        alpha: float = 0.0001,
        loss: Loss = "log_loss",
        seed: int = 0,
        epoch_seconds: float = 0.0,
    ) -> dict[str, Any]:
        """Train for ``epochs`` passes over the training set, resuming from the last checkpoint.

        Args:
            epochs: Total number of epochs, counting those of previous attempts.
            learning_rate: Constant learning rate (eta0).
            alpha: L2 regularisation strength.
            loss: The SGD loss.
            seed: Seed of the shuffling; training is deterministic for a given seed.
            epoch_seconds: Extra (cancellable) sleep per epoch, to make training slow enough to interrupt.
        """
        if epochs < 1:
            raise InvalidArguments(f"epochs must be at least 1, got {epochs}")
        params = {"learning_rate": learning_rate, "alpha": alpha, "loss": loss, "seed": seed}
        clf = self._classifier(loss, learning_rate, alpha, seed)
        start = 0
        accuracy: float | None = None
        resume = ctx.resume
        if isinstance(resume, dict) and "checkpoint" in resume:
            self._restore(resume["checkpoint"], clf)
            start = int(resume.get("epoch", 0))
            accuracy = resume.get("accuracy")
            ctx.logger.info("resuming training at epoch %d of %d", start, epochs)
        checkpoint = self._checkpoint(clf, params) if start else None
        for epoch in range(start, epochs):
            ctx.check_cancelled()
            order = np.random.default_rng([seed, epoch]).permutation(len(self.x_train))
            clf.partial_fit(self.x_train[order], self.y_train[order], classes=self.classes)
            accuracy = float(clf.score(self.x_test, self.y_test))
            checkpoint = self._checkpoint(clf, params)
            ctx.heartbeat(
                {"epoch": epoch + 1, "accuracy": accuracy, "checkpoint": checkpoint},
                progress=(epoch + 1) / epochs,
            )
            if epoch_seconds > 0:
                ctx.sleep(epoch_seconds)
        return {"started_from_epoch": start, "epochs": epochs, "accuracy": accuracy, "model": checkpoint}

    @thread_safe_method
    @tool(description="Accuracy and macro F1 of a model returned by train on the held-out test set")
    def evaluate(self, model: dict[str, Any]) -> dict[str, Any]:
        """Score ``model`` on the test set; the result repeats the model's hyperparameters.

        Args:
            model: The ``model`` of a ``train`` result.
        """
        clf = SGDClassifier()
        self._restore(model, clf)
        predicted = clf.predict(self.x_test)
        params = model.get("params")
        return {
            **(params if isinstance(params, dict) else {}),
            "accuracy": float(np.mean(predicted == self.y_test)),
            "macro_f1": round(float(f1_score(self.y_test, predicted, average="macro")), 6),
            "samples": len(self.y_test),
        }

    @thread_safe_method
    @tool(description="The best of a list of evaluations by a metric (the highest value wins)")
    def pick_best(self, candidates: list[dict[str, Any]], metric: str = "accuracy") -> dict[str, Any]:
        """Return the candidate with the highest ``metric``, its index, and the runner-up's margin.

        Args:
            candidates: Results of ``evaluate`` (any objects holding ``metric``).
            metric: The key to rank by.
        """
        if not candidates:
            raise InvalidArguments("candidates must not be empty")
        scores: list[float] = []
        for i, candidate in enumerate(candidates):
            value = candidate.get(metric)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidArguments(
                    f"candidates[{i}] has no numeric {metric!r} (its keys: {sorted(candidate)})"
                )
            scores.append(float(value))
        ranked = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
        best = ranked[0]
        margin = scores[best] - scores[ranked[1]] if len(ranked) > 1 else None
        summary: dict[str, Any] = {"index": best, "metric": metric, "value": scores[best], "margin": margin}
        return summary | {k: v for k, v in candidates[best].items() if k not in summary}

    @thread_safe_method
    @tool(description="Predict the digits of 8x8 images given as 64 pixel values in 0..16")
    def predict(self, model: dict[str, Any], images: list[list[float]]) -> list[int]:
        clf = SGDClassifier()
        self._restore(model, clf)
        x = np.asarray(images, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.x_train.shape[1]:
            raise InvalidArguments(f"images must be a list of {self.x_train.shape[1]} pixel values each")
        return [int(v) for v in clf.predict(x / 16.0)]

    @thread_safe_method
    @tool(description="Sizes of the training and test sets")
    def dataset_info(self) -> dict[str, int]:
        return {
            "train": len(self.y_train),
            "test": len(self.y_test),
            "features": int(self.x_train.shape[1]),
            "classes": len(self.classes),
        }
