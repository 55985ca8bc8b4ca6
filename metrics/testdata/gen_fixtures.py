#!/usr/bin/python3
"""Generates fixtures.json for package metrics (run with /usr/bin/python3).

References:
  - AUROC / ROC: sklearn.metrics.roc_auc_score and roc_curve(drop_intermediate=False).
  - AUPRO: a port of the official MVTec AD evaluation code (compute_pro in
    generic_util.py and trapezoid in pro_curve_util.py), with
    scipy.ndimage.label and a 3x3 structure of ones (8-connectivity). The only
    change: FPRs are kept in float64 (the official code casts the cumulative
    false-positive counts to float32 before dividing).

Scores are float32, quantised so that there are many ties. Output is
deterministic (fixed seed). Not run in CI; the JSON is committed.
"""
import json
import os
from bisect import bisect

import numpy as np
import scipy
import sklearn
from scipy.ndimage import label
from sklearn.metrics import roc_auc_score, roc_curve


def compute_pro(anomaly_maps, ground_truth_maps):
    """Port of the official MVTec compute_pro (float64 FPRs)."""
    structure = np.ones((3, 3), dtype=int)
    num_ok_pixels = 0
    num_gt_regions = 0
    shape = (len(anomaly_maps), anomaly_maps[0].shape[0], anomaly_maps[0].shape[1])
    fp_changes = np.zeros(shape, dtype=np.uint32)
    pro_changes = np.zeros(shape, dtype=np.float64)
    for gt_ind, gt_map in enumerate(ground_truth_maps):
        labeled, n_components = label(gt_map, structure)
        num_gt_regions += n_components
        ok_mask = labeled == 0
        num_ok_pixels += np.sum(ok_mask)
        fp_changes[gt_ind, ok_mask] = 1
        for k in range(n_components):
            region_mask = labeled == (k + 1)
            region_size = np.sum(region_mask)
            pro_changes[gt_ind, region_mask] = 1.0 / region_size
    anomaly_scores_flat = np.array(anomaly_maps).ravel()
    fp_changes_flat = fp_changes.ravel()
    pro_changes_flat = pro_changes.ravel()
    sort_idxs = np.argsort(anomaly_scores_flat).astype(np.uint32)[::-1]
    anomaly_scores_sorted = anomaly_scores_flat[sort_idxs]
    fp_changes_sorted = fp_changes_flat[sort_idxs]
    pro_changes_sorted = pro_changes_flat[sort_idxs]
    fprs = np.cumsum(fp_changes_sorted).astype(np.float64) / num_ok_pixels
    pros = np.cumsum(pro_changes_sorted) / num_gt_regions
    keep_mask = np.append(np.diff(anomaly_scores_sorted) != 0, np.array([True]))
    fprs = fprs[keep_mask]
    pros = pros[keep_mask]
    np.clip(fprs, a_min=None, a_max=1.0, out=fprs)
    np.clip(pros, a_min=None, a_max=1.0, out=pros)
    zero = np.array([0.0])
    one = np.array([1.0])
    return np.concatenate((zero, fprs, one)), np.concatenate((zero, pros, one))


def trapezoid(x, y, x_max=None):
    """Port of the official MVTec trapezoid."""
    x = np.array(x)
    y = np.array(y)
    finite_mask = np.logical_and(np.isfinite(x), np.isfinite(y))
    x = x[finite_mask]
    y = y[finite_mask]
    correction = 0.0
    if x_max is not None:
        if x_max not in x:
            ins = bisect(x, x_max)
            assert 0 < ins < len(x)
            y_interp = y[ins - 1] + ((y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1]))
            correction = 0.5 * (y_interp + y[ins - 1]) * (x_max - x[ins - 1])
        mask = x <= x_max
        x = x[mask]
        y = y[mask]
    return np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction


def au_pro(maps, masks, limit):
    fprs, pros = compute_pro(maps, masks)
    return trapezoid(fprs, pros, x_max=limit) / limit, fprs, pros


def flist(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def blobs(rng, h, w, n):
    m = np.zeros((h, w), dtype=bool)
    for _ in range(n):
        kind = rng.integers(0, 3)
        y, x = rng.integers(0, h), rng.integers(0, w)
        if kind == 0:  # rectangle
            m[y:y + rng.integers(1, 6), x:x + rng.integers(1, 7)] = True
        elif kind == 1:  # diagonal line: one region under 8-connectivity only
            for k in range(rng.integers(2, 6)):
                if y + k < h and x + k < w:
                    m[y + k, x + k] = True
        else:  # single pixel
            m[y, x] = True
    return m


def main():
    rng = np.random.default_rng(20230601)
    out = {"generator": "gen_fixtures.py", "numpy": np.__version__, "scipy": scipy.__version__,
           "sklearn": sklearn.__version__, "auroc": [], "aupro": []}

    for n, levels, pfrac in [(10, 4, 0.5), (57, 7, 0.3), (200, 20, 0.1), (500, 1000, 0.5), (333, 3, 0.7), (64, 1, 0.5)]:
        scores = (rng.integers(0, levels, n) / np.float32(levels) + rng.normal(0, 0.01, n).round(1)).astype(np.float32)
        labels = rng.random(n) < pfrac
        labels[0], labels[1] = True, False
        fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
        out["auroc"].append({"scores": flist(scores), "labels": [int(v) for v in labels],
                             "auroc": float(roc_auc_score(labels, scores)), "fpr": flist(fpr), "tpr": flist(tpr)})

    for n_img, h, w, n_blobs, levels, empty in [(3, 16, 20, 4, 50, 1), (5, 24, 32, 6, 200, 2), (4, 20, 20, 8, 10, 0),
                                                (2, 12, 9, 3, 4096, 0), (6, 10, 14, 2, 5, 3)]:
        masks = np.stack([blobs(rng, h, w, n_blobs) for _ in range(n_img)])
        masks[:empty] = False
        # Scores correlated with the masks plus quantised noise: many ties.
        raw = masks * rng.random(masks.shape) * 0.6 + rng.random(masks.shape)
        maps = (np.floor(raw * levels) / levels).astype(np.float32)
        case = {"h": h, "w": w, "maps": [flist(m) for m in maps],
                "masks": ["".join("1" if v else "0" for v in m.ravel()) for m in masks],
                "regions": int(sum(label(m, np.ones((3, 3), dtype=int))[1] for m in masks)), "aupro": {}}
        for limit in [0.3, 0.05, 0.5, 1.0]:
            v, fprs, pros = au_pro(list(maps), list(masks), limit)
            case["aupro"][repr(limit)] = float(v)
        _, fprs, pros = au_pro(list(maps), list(masks), 1.0)
        case["fpr"], case["pro"] = flist(fprs), flist(pros)
        case["pixel_auroc"] = float(roc_auc_score(masks.ravel(), maps.ravel()))
        out["aupro"].append(case)

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
