// Package neighborhood learns PNI's neighbourhood distribution p(c | N_p(x)):
// the probability that the patch feature at grid position x is nearest to the
// element c of the distribution coreset C_dist, given only the features of the
// p×p positions around x (x itself excluded, zeros outside the grid).
//
// The model follows Bae, Lee and Kim, "PNI: Industrial Anomaly Detection
// using Position and Neighborhood Information", ICCV 2023, with the fixes
// described in the repository's docs/algorithm.md (section 4): each
// neighbour's D-dim feature is first mapped to R dims by a [Reducer] (a
// fixed Gaussian random projection, [NewReducer]); the p·p−1 reduced
// neighbours are concatenated in raster order into a (p·p−1)·R input; a
// multi-layer perceptron with ReLU hidden layers maps it to |C_dist| logits;
// training uses softmax cross-entropy, Adam, seeded shuffled mini-batches, a
// validation split by whole images and early stopping on validation loss that
// keeps the best weights. At prediction the released code's temperature is
// applied: softmax(logits / T), T = 2 by default.
//
// The released code's MLP took the full 81,920-dim neighbourhood (about 206M
// parameters), left the centre in its input and split train/validation by
// patch; none of this is reproduced here.
//
// Batch inputs are assembled on the fly from the reduced grid, so memory stays
// O(images·H·W·R + batch·input). All matrix products go through
// github.com/x/pni/internal/kernels: the forward product A·W (W stored In×Out,
// as in [Dense]) is a plain Gemm, the weight gradient Aᵀ·dZ is Gemm on a
// transposed copy of the batch activations, and the input gradient dZ·Wᵀ is
// GemmTB. Softmax exponentials and the Adam update are vectorised with
// github.com/viterin/vek.
//
// # Cost
//
// An epoch is not a pass over every position: it trains on a fresh seeded
// sample of Config.MaxRowsPerEpoch positions (default 50,000) and validates
// on at most max(MaxRowsPerEpoch/3, 20,000) held-out positions, so its cost
// does not grow with the grid. BenchmarkEpoch and BenchmarkPredict measure
// it; the README has the figures.
//
// The package does no I/O; the root package pni orchestrates it.
package neighborhood
