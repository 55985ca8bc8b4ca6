// Package mvtec reads anomaly-detection datasets laid out as MVTec AD
// (Bergmann et al., "MVTec AD — A Comprehensive Real-World Dataset for
// Unsupervised Anomaly Detection", CVPR 2019), the layout on which PNI (Bae,
// Lee, Kim, "PNI: Industrial Anomaly Detection using Position and
// Neighborhood Information", ICCV 2023) is evaluated:
//
//	DIR/train/good/*.png|jpg|...          normal training images
//	DIR/test/<kind>/*                     test images; kind "good" is normal
//	DIR/ground_truth/<kind>/<name>_mask.png   defect masks (optional)
//
// Without a ground_truth folder a dataset has image labels only
// ([Dataset.HasMasks] is false). With one, every defective test image must have
// its mask; "good" test images have none and are all normal.
//
// Images are read with package imageio (its formats and size guard);
// [LoadMask] reads any such image as a binary mask (non-black = defect). [Mask.Resize] and [Mask.CenterCrop]
// bring masks to a model's input frame exactly as PIL's NEAREST resize and
// torchvision's CenterCrop do for the MVTec protocol (resize 256, crop 224).
package mvtec
