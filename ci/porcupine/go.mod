module faultline.local/porcupine-driver

go 1.19

require github.com/anishathalye/porcupine v0.0.0

// ci/porcupine-side-by-side.sh builds a copy of this module with a replace
// directive pointing at porcupine's fetched source; nothing is downloaded.
