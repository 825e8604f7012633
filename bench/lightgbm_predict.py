"""LightGBM's predictor on the trees bench's shape, for the ratio in `npm run bench -- model`.

Reads the bench's scoring batch (float64, rows × width, NaN = missing) from ARGV[1], trains
LightGBM on random rows of the same width to the same shape (200 trees, ≤ 15 leaves, depth
≤ 8, 63 bins) and times `predict` on one thread. Prints one JSON line. A reference, not the
product: it runs only where .cache/peers/venv has lightgbm (scripts/gbdt_peer.py's venv).
"""
import json
import sys
import time

import lightgbm as lgb
import numpy as np

path, width = sys.argv[1], int(sys.argv[2])
x = np.fromfile(path, dtype=np.float64).reshape(-1, width)
rng = np.random.default_rng(1)
tx = rng.random((20_000, width))
tx[rng.random(tx.shape) < 0.02] = np.nan
ty = (np.nan_to_num(tx[:, 0]) + np.nan_to_num(tx[:, 1]) + 0.3 * rng.random(20_000) > 1.1).astype(int)
params = dict(objective="binary", num_leaves=15, max_depth=8, learning_rate=0.1, min_data_in_leaf=20,
              bagging_fraction=0.8, bagging_freq=1, feature_fraction=0.5, max_bin=63, verbose=-1, num_threads=1)
model = lgb.train(params, lgb.Dataset(tx, ty), 200)
model.predict(x, num_threads=1)
rows, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < 3:
    model.predict(x, num_threads=1)
    rows += len(x)
print(json.dumps({"trees": model.num_trees(), "rows_per_s": rows / (time.perf_counter() - t0), "version": lgb.__version__}))
