//go:build !race

package victorialogs

const suiteN = 20000
