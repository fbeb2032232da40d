//go:build unix

package drift

import (
	"io/fs"
	"os/user"
	"strconv"
	"syscall"
)

func fileOwner(fi fs.FileInfo) (owner, group string, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", "", false
	}
	owner = strconv.FormatUint(uint64(st.Uid), 10)
	group = strconv.FormatUint(uint64(st.Gid), 10)
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username
	}
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	return owner, group, true
}
