//go:build mage

package main

import (
	"os/exec"
	"syscall"
)

// stopWithParent makes the kernel send SIGTERM to cmd when the process
// that started it dies, so that no exporter outlives a killed demo.
func stopWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
