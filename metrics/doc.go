// Package metrics computes the MVTec AD evaluation figures used to report PNI
// (Bae, Lee, Kim, "PNI: Industrial Anomaly Detection using Position and
// Neighborhood Information", ICCV 2023) and PatchCore: image-level AUROC,
// pixel-level AUROC pooled over all test pixels, and AUPRO, the normalised
// area under the per-region-overlap curve up to a false-positive rate of 0.3
// (Bergmann et al., "The MVTec Anomaly Detection Dataset", IJCV 2021).
//
// # Conventions
//
// Scores are float32, larger = more anomalous; labels and mask pixels are
// true for anomalous. A pixel is predicted anomalous at threshold t when its
// score is >= t; thresholds sweep over every distinct score, so tied scores
// move together (as sklearn.metrics.roc_curve and the official MVTec code,
// which both merge equal scores into one curve point). Curves are integrated
// with the trapezoid rule. NaN scores are rejected; ±Inf are ordinary values;
// -0 and +0 are the same score.
//
// Anomaly maps are row-major: map i has width[i] columns and
// len(maps[i])/width[i] rows, and masks[i] has the same layout. Images may
// have different sizes.
//
// # AUROC
//
// [AUROC] and [PixelAUROC] are exact: the area is accumulated in integer
// counts and divided once, so they equal sklearn.metrics.roc_auc_score to
// within float64 rounding. [PixelAUROC] copies each pixel's score once (4
// bytes per pixel, split by label) and sorts the two halves in place.
//
// # AUPRO
//
// [AUPRO] follows the official MVTec evaluation code (compute_pro and
// trapezoid in generic_util.py / pro_curve_util.py):
//
//   - regions are the connected components of each ground-truth mask under
//     8-connectivity (scipy.ndimage.label with a 3x3 structure of ones, as the
//     official code does; anomalib's cv2/kornia connected components are
//     8-connected too);
//   - PRO(t) is the mean over all regions of all images of the fraction of the
//     region's pixels with score >= t; FPR(t) is the fraction of all normal
//     pixels (mask false) of all images with score >= t; images with empty
//     masks contribute normal pixels only;
//   - the curve starts at (0, 0), has one point per distinct score, is
//     integrated with the trapezoid rule up to FPR = limit, the last segment
//     being cut at exactly limit by linear interpolation (no interpolation when
//     a point lies exactly on limit), and the area is divided by limit.
//
// Differences from the official code, none of which changes the value beyond
// float rounding: FPR is computed in float64 (the official code casts the
// cumulative false-positive counts to float32 before dividing, an error of
// about 1e-7); the per-region overlap is accumulated in float64 as in the
// official code; the sort is one global sort of the pixel scores, split into
// normal pixels (score only, 4 bytes) and defect pixels (score and region
// index, 8 bytes). The official code requires all maps to have one shape; here
// they may differ. It yields NaN without normal pixels or regions; here those
// are errors ([ErrNoNormal], [ErrNoRegions]).
package metrics
