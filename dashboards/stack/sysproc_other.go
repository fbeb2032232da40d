//go:build !linux

package stack

import "os/exec"

// detach does nothing outside Linux: the children share the terminal's
// process group and get its Ctrl-C directly.
func detach(*exec.Cmd) {}

// StopWithParent does nothing outside Linux.
func StopWithParent() {}
