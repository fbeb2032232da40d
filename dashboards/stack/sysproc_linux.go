package stack

import (
	"os/exec"
	"syscall"
)

// detach puts a child in its own process group, so that a Ctrl-C at the
// terminal reaches only the stack (which then stops the children in
// order), and has the kernel stop it if the stack dies without stopping it.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// StopWithParent asks the kernel to send SIGTERM to this process when its
// parent exits: `go tool mage stack` runs the target two processes below
// the go command, which does not pass on a SIGTERM it receives itself.
func StopWithParent() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
}
