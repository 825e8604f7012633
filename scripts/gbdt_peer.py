"""LightGBM beside preempt's trees on the vectors scripts/gbdt-peer.ts wrote (tooling).

Every test PR-AUC here is the same function (weighted average precision, the step-wise area
under the precision-recall curve), so the numbers compare. LightGBM runs twice: the plain
configuration of the issue that asked for trees (200 trees of 7 leaves, no class weighting)
and tuned on validation (a grid with early stopping; the best validation PR-AUC is kept).
"""
import itertools
import json
import os
import sys

import lightgbm as lgb
import numpy as np

out = sys.argv[1]
info = json.load(open(os.path.join(out, 'info.json')))
F = info['width']


def load(name):
    x = np.fromfile(os.path.join(out, f'{name}.x.f32'), dtype=np.float32).reshape(-1, F)
    y = np.fromfile(os.path.join(out, f'{name}.y.u8'), dtype=np.uint8)
    w = np.fromfile(os.path.join(out, f'{name}.w.f32'), dtype=np.float32)
    return x, y, w


def ap(score, y, w):
    o = np.argsort(-score, kind='stable')
    s, y, w = score[o], y[o].astype(float), w[o].astype(float)
    tp = np.cumsum(w * y)
    fp = np.cumsum(w * (1 - y))
    # One point per distinct score (ties together).
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp, fp = tp[last], fp[last]
    P = tp[-1]
    prec = tp / np.maximum(tp + fp, 1e-12)
    rec = tp / max(P, 1e-12)
    return float(np.sum(np.diff(np.r_[0, rec]) * prec))


xt, yt, wt = load('train')
xv, yv, wv = load('val')
xs, ys, ws = load('test')
rows = []
for cw in ('none', 'balanced'):
    p = np.fromfile(os.path.join(out, f'ours-{cw}.test.f32'), dtype=np.float32)
    v = np.fromfile(os.path.join(out, f'ours-{cw}.val.f32'), dtype=np.float32)
    rows.append((f'preempt gbdt ({cw})', ap(v, yv, wv), ap(p, ys, ws)))


def fit(params, rounds, early):
    d = lgb.Dataset(xt, yt, weight=wt, free_raw_data=False)
    dv = lgb.Dataset(xv, yv, weight=wv, reference=d)
    cb = [lgb.early_stopping(early, verbose=False)] if early else []
    b = lgb.train({'objective': 'binary', 'verbose': -1, 'seed': 1, 'num_threads': 2, **params}, d, rounds,
                  valid_sets=[dv] if early else None, feval=None, callbacks=cb)
    return b


plain = fit({'num_leaves': 7, 'learning_rate': 0.1}, 200, 0)
rows.append(('LightGBM plain (200 trees, 7 leaves, none)', ap(plain.predict(xv), yv, wv), ap(plain.predict(xs), ys, ws)))
best = None
for leaves, lr, mcs, bal in itertools.product((7, 31, 63), (0.05,), (20, 100), (False, True)):
    params = {'num_leaves': leaves, 'learning_rate': lr, 'min_child_samples': mcs, 'feature_fraction': 0.8,
              'bagging_fraction': 0.8, 'bagging_freq': 1, 'metric': 'average_precision', 'is_unbalance': bal}
    b = fit(params, 600, 50)
    va = ap(b.predict(xv, num_iteration=b.best_iteration), yv, wv)
    if best is None or va > best[0]:
        best = (va, params, b)
va, params, b = best
rows.append((f"LightGBM tuned on validation ({params['num_leaves']} leaves, lr {params['learning_rate']}, min {params['min_child_samples']}, {'balanced' if params['is_unbalance'] else 'none'}, {b.best_iteration} trees)",
             va, ap(b.predict(xs, num_iteration=b.best_iteration), ys, ws)))
print(f"rows: train {info['rows']['train']} ({info['positives']['train']} positive), val {info['rows']['val']}, test {info['rows']['test']} ({info['positives']['test']} positive); {F} features")
print(f"{'model':<95} {'val PR-AUC':>10} {'test PR-AUC':>11}")
for name, v, t in rows:
    print(f'{name:<95} {v:>10.4f} {t:>11.4f}')
