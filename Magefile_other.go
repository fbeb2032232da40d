//go:build mage && !linux

package main

import "os/exec"

// stopWithParent does nothing where the kernel cannot signal a child when
// its parent dies; Ctrl-C and SIGTERM still stop the exporter.
func stopWithParent(*exec.Cmd) {}
