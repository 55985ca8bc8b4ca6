package mvtec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Errors wrapped (with the offending path) by [Open]; test with errors.Is.
var (
	// ErrLayout: the folder is not an MVTec-AD layout (missing train/good or
	// test, or no images in them).
	ErrLayout = errors.New("mvtec: not an MVTec-AD layout")
	// ErrMissingMask: ground_truth exists but a defective test image has no
	// mask there.
	ErrMissingMask = errors.New("mvtec: missing ground-truth mask")
)

// Good is the kind (folder name) of normal images.
const Good = "good"

// imageExts are the file extensions (lower case) taken as images.
var imageExts = []string{".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}

func isImage(name string) bool {
	return !strings.HasPrefix(name, ".") && slices.Contains(imageExts, strings.ToLower(filepath.Ext(name)))
}

// Sample is one image of a dataset.
type Sample struct {
	Path     string // image file
	Kind     string // folder name under train/ or test/: "good" or a defect kind
	Label    bool   // true = defective (Kind != "good")
	MaskPath string // ground-truth mask file; "" if none (good images, or no ground_truth folder)
}

// Dataset is an opened MVTec-AD-layout folder.
type Dataset struct {
	Root     string   // the folder given to Open, cleaned
	Train    []Sample // train/good images, sorted by file name
	Test     []Sample // test images, by kind in Kinds order, then by file name
	HasMasks bool     // a ground_truth folder exists (and every defective test image has its mask)
	Kinds    []string // test kinds that hold images, sorted, "good" first
}

// listImages returns the sorted image file names in dir (not recursing).
func listImages(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
			if isImage(e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// Open scans an MVTec-AD-layout folder and validates it: dir must exist and
// hold train/good with at least one image and test/<kind>/ folders with at
// least one image in all. If dir/ground_truth exists, every test image of a
// kind other than "good" must have dir/ground_truth/<kind>/<name>_mask.<ext>
// (.png preferred, any image extension accepted). Images are files with
// extension .png, .jpg, .jpeg, .bmp, .tif, .tiff or .webp (any case); other
// files, hidden files and subfolders are ignored. Open reads no image.
func Open(dir string) (*Dataset, error) {
	root := filepath.Clean(dir)
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("%w: dataset folder: %w", ErrLayout, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a folder", ErrLayout, root)
	}
	ds := &Dataset{Root: root}

	trainDir := filepath.Join(root, "train", Good)
	if !isDir(trainDir) {
		return nil, fmt.Errorf("%w: %s is missing (normal training images go there)", ErrLayout, trainDir)
	}
	names, err := listImages(trainDir)
	if err != nil {
		return nil, fmt.Errorf("mvtec: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no images (.png, .jpg, ...) in %s", ErrLayout, trainDir)
	}
	for _, n := range names {
		ds.Train = append(ds.Train, Sample{Path: filepath.Join(trainDir, n), Kind: Good})
	}

	testDir := filepath.Join(root, "test")
	if !isDir(testDir) {
		return nil, fmt.Errorf("%w: %s is missing (test/<kind>/ folders go there)", ErrLayout, testDir)
	}
	ents, err := os.ReadDir(testDir)
	if err != nil {
		return nil, fmt.Errorf("mvtec: %w", err)
	}
	gtDir := filepath.Join(root, "ground_truth")
	ds.HasMasks = isDir(gtDir)
	byKind := map[string][]string{}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !isDir(filepath.Join(testDir, e.Name())) {
			continue
		}
		names, err := listImages(filepath.Join(testDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("mvtec: %w", err)
		}
		if len(names) > 0 {
			ds.Kinds = append(ds.Kinds, e.Name())
			byKind[e.Name()] = names
		}
	}
	if len(ds.Kinds) == 0 {
		return nil, fmt.Errorf("%w: no test images in %s/<kind>/", ErrLayout, testDir)
	}
	slices.SortFunc(ds.Kinds, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == Good:
			return -1
		case b == Good:
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, k := range ds.Kinds {
		for _, n := range byKind[k] {
			s := Sample{Path: filepath.Join(testDir, k, n), Kind: k, Label: k != Good}
			if s.Label && ds.HasMasks {
				if s.MaskPath, err = findMask(gtDir, k, n); err != nil {
					return nil, err
				}
			}
			ds.Test = append(ds.Test, s)
		}
	}
	return ds, nil
}

// findMask returns ground_truth/<kind>/<stem>_mask.<ext>, .png first.
func findMask(gtDir, kind, name string) (string, error) {
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	for _, ext := range imageExts {
		for _, e := range []string{ext, strings.ToUpper(ext)} {
			p := filepath.Join(gtDir, kind, stem+"_mask"+e)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%w for test image %s: expected %s (remove the ground_truth folder to evaluate image scores only)",
		ErrMissingMask, filepath.Join(filepath.Dir(gtDir), "test", kind, name), filepath.Join(gtDir, kind, stem+"_mask.png"))
}
