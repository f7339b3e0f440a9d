package kerchunk

// Test helpers for the external tests of this directory (verify_test.go,
// which reads references through refread).
var (
	InteropInputs = interopInputs
	TranslateFile = translateFile
)
