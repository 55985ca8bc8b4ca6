package mvtec_test

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/x/pni/mvtec"
)

// save writes a blank w x h grayscale PNG (value v) at root/rel.
func save(root, rel string, w, h int, v uint8) {
	p := filepath.Join(root, rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	f, _ := os.Create(p)
	png.Encode(f, img)
	f.Close()
}

func ExampleOpen() {
	root, _ := os.MkdirTemp("", "mvtec-example")
	defer os.RemoveAll(root)
	save(root, "train/good/000.png", 8, 8, 100)
	save(root, "train/good/001.png", 8, 8, 100)
	save(root, "test/good/000.png", 8, 8, 100)
	save(root, "test/crack/000.png", 8, 8, 200)
	save(root, "ground_truth/crack/000_mask.png", 8, 8, 255)

	ds, err := mvtec.Open(root)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("train:", len(ds.Train), "kinds:", ds.Kinds, "masks:", ds.HasMasks)
	for _, s := range ds.Test {
		fmt.Printf("%s/%s defective=%v mask=%q\n", s.Kind, filepath.Base(s.Path), s.Label, filepath.Base(s.MaskPath))
	}
	m, err := mvtec.LoadMask(ds.Test[1].MaskPath)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("mask", m.W, "x", m.H, "defect at (0,0):", m.Pix[0])
	// Output:
	// train: 2 kinds: [good crack] masks: true
	// good/000.png defective=false mask="."
	// crack/000.png defective=true mask="000_mask.png"
	// mask 8 x 8 defect at (0,0): true
}

func ExampleMask_Resize() {
	// A 4x2 mask with the right half defective, resized as the image would
	// be (PIL NEAREST), then center-cropped (torchvision CenterCrop).
	m := &mvtec.Mask{W: 4, H: 2, Pix: []bool{
		false, false, true, true,
		false, false, true, true,
	}}
	r := m.Resize(8, 4).CenterCrop(4, 2)
	for y := range r.H {
		for x := range r.W {
			if r.Pix[y*r.W+x] {
				fmt.Print("#")
			} else {
				fmt.Print(".")
			}
		}
		fmt.Println()
	}
	// Output:
	// ..##
	// ..##
}
