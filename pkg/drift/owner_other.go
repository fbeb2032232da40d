//go:build !unix

package drift

import "io/fs"

func fileOwner(fs.FileInfo) (owner, group string, ok bool) { return "", "", false }
