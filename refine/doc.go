// Package refine is PNI's pixel-wise refinement (Bae, Lee, Kim, "PNI:
// Industrial Anomaly Detection using Position and Neighborhood
// Information", ICCV 2023, part 2): a network f(I, A) that takes an image
// and its anomaly map and returns a sharper map, trained on synthetic
// defects (package refine/synth) because real defects are not available.
//
// A refinement net is an ONNX file (Load, LoadBytes) run on pni's own
// executor, with:
//
//   - input "image": N x 3 x H x W float32, RGB in [0,1] normalised as the
//     backbone's input ((x - mean) / std, ImageNet's by default);
//   - input "map": N x 1 x H x W float32, the calibrated, normalised anomaly
//     map (0.5 at the image threshold, in (0, 1); pni.Result.NormMap), so
//     that one net serves products whose raw scores differ;
//   - one output (named "refined" by default): N x 1 x H x W float32, the
//     refined map pred on the same scale. The released PNI code's form is
//     residual, pred = map + net(image, map); a net may compute any map.
//
// metadata_props may set the names (pni.refine.image, pni.refine.map,
// pni.refine.output; defaults "image", "map" and the graph's only output)
// and the working resolution the net was trained at (pni.refine.size,
// "WxH"; default 160x160). The loader validates all of this with a run on
// a zero input at the working size and refuses a mismatched net with an
// error that says what is wrong.
//
// The root package blends final = (1-a)*map + a*pred with a saved setting
// a (0.1 in the released code) and resamples to the image's size (see
// pni.Model.Refine).
package refine
