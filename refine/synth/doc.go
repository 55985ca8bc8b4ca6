// Package synth makes synthetic defects on images of good parts: a defective
// copy of an image and a mask of what was changed, to train a network that
// refines anomaly maps without any real defect.
//
// It implements the four defect generators that PNI trains its refinement
// network on (J. Bae, J.-H. Lee, S. Kim, "PNI: Industrial Anomaly Detection
// using Position and Neighborhood Information", ICCV 2023):
//
//   - [CutPaste]: a colour-jittered rectangle cut from the image and pasted
//     elsewhere in it, and [Scar], its thin rotated variant (C.-L. Li, K. Sohn,
//     J. Yoon, T. Pfister, "CutPaste: Self-Supervised Learning for Anomaly
//     Detection and Localization", CVPR 2021);
//   - [DRAEM]: a thresholded Perlin-noise region filled with a foreign texture
//     blended at a random opacity (V. Zavrtanik, M. Kristan, D. Skočaj,
//     "DRAEM - A Discriminatively Trained Reconstruction Embedding for Surface
//     Anomaly Detection", ICCV 2021);
//   - [Strokes]: smooth random curves of varying width painted in a random
//     colour, standing in for PNI's manually drawn defects.
//
// [Mix] draws one of several generators per sample by weight; [Default]
// returns the four with equal weights, as PNI trains on all of them together.
//
// Every [Generator] returns a [Sample] with an image of the same bounds and
// concrete type as its input (*image.Gray, *image.Gray16, *image.RGBA,
// *image.NRGBA, *image.RGBA64, *image.NRGBA64; any other type is converted to
// *image.NRGBA first) and a mask that is 255 exactly where the generator wrote
// a pixel: every pixel outside the mask keeps its input value bit for bit.
// Pixel arithmetic is done in floating point, so 16-bit images keep 16-bit
// precision. Defect sizes are fractions of the image (of its area, or of its
// shorter side), so a 256 px and a 2048 px image get comparable defects.
// Output depends only on the input and the seed; the input is never modified,
// and generators are safe for concurrent use. Images smaller than [MinSide]
// on a side, nil or empty images are errors, not panics.
package synth
