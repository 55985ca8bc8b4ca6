// Package coreset selects PatchCore's memory bank: the greedy k-center (farthest-point) coreset of
// Roth et al., "Towards Total Recall in Industrial Anomaly Detection" (CVPR 2022), run — as their
// released ApproximateGreedyCoresetSampler — on a Gaussian random projection of the patch features
// (128 dims by default), starting from the row with the largest mean distance to a few random rows.
//
// PNI (Bae, Lee, Kim, "PNI: Industrial Anomaly Detection using Position and Neighborhood
// Information", ICCV 2023) uses one greedy order for two sets: C_emb, its first Size(ratio, N)
// rows, and C_dist, the first min(2048, |C_emb|) rows; MapToPrefix maps every C_emb element to its
// nearest C_dist element.
//
// Greedy.Select returns exactly the order of the naive farthest-point loop (float32 distances,
// ties to the lowest row index), computed with cluster-based pruning so that 164k rows x 10% runs
// in seconds rather than the naive loop's minute. Everything is deterministic given the seed. The
// package does no I/O.
package coreset
