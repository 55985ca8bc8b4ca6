// Package pni detects and localises anomalies in images of industrial parts,
// learning only from images of good parts.
//
// It implements PNI (J. Bae, J.-H. Lee, S. Kim, "PNI: Industrial Anomaly
// Detection using Position and Neighborhood Information", ICCV 2023), which
// extends PatchCore's nearest-neighbour memory bank (K. Roth et al., "Towards
// Total Recall in Industrial Anomaly Detection", CVPR 2022) with where in the
// image a feature normally appears (position histograms, package position) and
// what a feature's neighbours predict it should be (an MLP, package
// neighborhood).
//
// Fit turns normal images into a Model; Model.Score gives an image's anomaly
// score and its anomaly map; a Model saves to and loads from one versioned,
// checksummed file that includes the backbone, so it can be shipped on its own.
// Everything is pure Go: the backbone CNN (an ONNX file, see package backbone)
// runs on pni's own executor.
//
//	m, err := pni.FitFiles(ctx, goodPaths, pni.WithBackbone("resnet50.onnx"))
//	...
//	res, err := m.Score(ctx, img) // res.Score, res.Original (per-pixel map)
//
// With WithPosition(false) and WithNeighborhood(false) the model is PatchCore.
package pni
