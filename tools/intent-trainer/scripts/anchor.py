"""The issue's anchor and linear n-gram variants of it, on the hold-out splits export-splits.ts wrote.

Prints top-1 accuracy on each split's validation queries and the mean, and the mean on their
typo'd copies. Needs scikit-learn (Debian: apt-get install python3-sklearn). Not part of the build
or the tests. Example:
  /usr/bin/python3 tools/intent-trainer/scripts/anchor.py /tmp/b77split 7 8 9
"""
import csv
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_union
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


def main():
    folder, seeds = sys.argv[1], sys.argv[2:]
    splits = {s: (read(f'{folder}/train-{s}.csv'), read(f'{folder}/val-{s}.csv'), read(f'{folder}/valtypo-{s}.csv')) for s in seeds}
    for name, make_features, make_model in VARIANTS:
        started, clean, typod = time.time(), [], []
        for (xt, yt), (xv, yv), (xq, _) in splits.values():
            features = make_features()
            model = make_model().fit(features.fit_transform(xt), yt)
            clean.append(100 * np.mean(model.predict(features.transform(xv)) == yv))
            typod.append(100 * np.mean(model.predict(features.transform(xq)) == yv))
        per_split = ' '.join(f'{a:.2f}' for a in clean)
        print(f'{name:66s} {per_split}  mean {np.mean(clean):.2f}  typo\'d {np.mean(typod):.2f}  {time.time() - started:.0f}s', flush=True)


if __name__ == '__main__':
    main()
