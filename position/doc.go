// Package position builds PNI's position distribution p(c|x) (Algorithm 1 of Bae, Lee and Kim,
// "PNI: Industrial Anomaly Detection using Position and Neighborhood Information", ICCV 2023):
// for every grid position x, how often each memory-bank element c was the nearest element of a
// training image's patch feature at x — or, as in the authors' released code, at any position
// within a (2r+1)x(2r+1) box around x, which smooths the table.
//
// Usage: NewBuilder, then Add one image's nearest-element indices at a time, then Build a sparse
// Hist whose rows sum to 1. The package does no I/O and no distance computation: the caller (the
// pni root package) finds the nearest elements, and the coreset package supplies the bank,
// as in PatchCore (Roth et al., "Towards Total Recall in Industrial Anomaly Detection", CVPR 2022).
package position
