// Package safefile writes, reads and prepares the files and directories
// that root-run code (the charm, its supervisors) later trusts, on a
// machine where other users exist: the OS user postgres is any database
// superuser (COPY … TO PROGRAM), and etcd runs as its own user.
//
// The rules (issue 9 item 2, DESIGN §7):
//   - never follow a symbolic link: files are opened with O_NOFOLLOW,
//     directories are checked with Lstat, and a link is refused with an
//     error that names the path;
//   - a new file is a fresh temporary file (os.CreateTemp, O_EXCL) in the
//     target's own directory, given its mode and owner through the open
//     descriptor (fchmod, fchown), synced, then renamed over the target, so
//     a link planted at the target or at a guessed temporary name is
//     replaced or never touched, not written through;
//   - a directory is created or repaired with its intended owner and mode
//     through a descriptor opened with O_NOFOLLOW; one that must be
//     root-owned but belongs to someone else is refused, not repaired,
//     since someone else may have put anything in it.
package safefile
