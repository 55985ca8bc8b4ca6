// Package neighborhood learns PNI's neighbourhood distribution p(c | N_p(x)):
// the probability that the patch feature at grid position x is nearest to the
// element c of the distribution coreset C_dist, given only the features of the
// p×p positions around x (x itself excluded, zeros outside the grid).
//
// The model follows section 4 of docs/PNI.md, after Bae, Lee and Kim,
// "PNI: Industrial Anomaly Detection using Position and Neighborhood
// Information", ICCV 2023, with the fixes described there: each neighbour's
// D-dim feature is first mapped to R dims by a [Reducer] (a fixed Gaussian
// random projection, [NewReducer], or PCA, [FitPCA]); the p·p−1 reduced
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
// github.com/x/pni/internal/kernels: forward and input-gradient products use
// GemmTB (A·Bᵀ) against cached transposed weights, and weight gradients (Aᵀ·B)
// are computed as GemmTB on transposed batch matrices.
//
// The package does no I/O; the root package pni orchestrates it.
package neighborhood
