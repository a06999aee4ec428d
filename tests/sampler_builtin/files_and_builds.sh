#!/bin/bash
# files_and_builds.sh - how the built-in sampler finds the interpreter's file and decides that
# its offsets hold (procmaps.c, locate.c), against real processes:
#
#  1. Inode check. A chroot target (maps shows host paths) whose root holds a different file
#     at the host path of its interpreter: /proc/PID/root + path names that decoy (a copy of
#     python3.15), which must be rejected for its device and inode, and the real file (the plain
#     path) read instead: the capture names 3.14.10 and has the target's frames.
#  2. A container target (own mount namespace) whose interpreter path is hidden by a tmpfs
#     mounted over /usr/bin inside that namespace: /proc/PID/root + path and the plain path
#     both fail, /proc/PID/map_files reads the mapping (as root); without CAP_SYS_ADMIN and
#     CAP_CHECKPOINT_RESTORE map_files is refused too, and the sampler must say that it cannot
#     open the file, naming each candidate and why (not "not a Python process").
#  2b. The same container on overlayfs (the sid root as an overlay's lower layer): maps shows the
#     overlay's device and inode, and the file must be read through /proc/PID/root without
#     map_files' capability.
#  3. Patch releases (3.8-3.12 tables). A copy of pyenv's libpython3.12 whose _PyRuntime
#     symbol claims another size (as a patch release that appends a field would) must still be
#     read, its offsets checked on the live process; a copy of libpython3.11 whose Py_Version
#     claims 3.12 (so the 3.12 offsets are applied to 3.11 memory) must be refused as an
#     unsupported build, naming the size and that the offsets do not hold.
#  4. A future 3.16 with compatible debug offsets (a 3.15 whose version fields say 3.16.0):
#     read with the 3.15 layout and one warning line.
# Parts whose interpreter is missing are skipped with how to provision it (failed under CI).
set -u
PROFD_BIN=${PROFD_BIN:?PROFD_BIN is not set}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../support/skip.sh"
. "$HERE/../support/pythons.sh"
[ "$(id -u)" = 0 ] || skip_provided "needs root (chroot, mount namespaces, bind mounts)"
WORK=$(mktemp -d)
chmod 755 "$WORK"
MNT=
cleanup() {
  kill $(jobs -p) 2>/dev/null
  [ -n "$MNT" ] && umount -l "$MNT" 2>/dev/null
  [ -n "${DECOY_DIR:-}" ] && rm -rf "$DECOY_DIR"
  profd_py_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

cat > "$WORK/spin.py" <<'EOF'
def files_and_builds_spin():
    while True:
        sum(range(1000))
files_and_builds_spin()
EOF

# --- 1. the inode check: a decoy at ROOT + host path
if profd_py_check 3.14 3.15; then
  ROOT=$(profd_py_field 3.14 root)
  # Our own host path for the sid root: a bind mount in this (the host's) namespace, so that
  # ROOT + that path is a scratch directory inside the sid root that nobody else uses.
  MNT=$(mktemp -d /tmp/profd-chroot.XXXXXX)
  mount --bind "$ROOT" "$MNT"
  DECOY_DIR=$ROOT$MNT
  mkdir -p "$DECOY_DIR/usr/bin"
  cp "$ROOT/usr/bin/python3.15" "$DECOY_DIR/usr/bin/python3.14"
  cp "$WORK/spin.py" "$ROOT/tmp/$(basename "$WORK").spin.py"
  chroot "$MNT" /usr/bin/python3.14 "/tmp/$(basename "$WORK").spin.py" & cpid=$!
  sleep 0.5
  grep -q " $MNT/usr/bin/python3.14$" /proc/$cpid/maps || fail "inode check: maps does not show the host path $MNT/usr/bin/python3.14"
  [ -f "/proc/$cpid/root$MNT/usr/bin/python3.14" ] || fail "inode check: the decoy is not where /proc/PID/root + path points"
  "$PROFD_BIN" sample record --pid $cpid --duration 1 -o "$WORK/decoy.txt" 2> "$WORK/err" ||
    fail "inode check: sampler failed: $(cat "$WORK/err")"
  grep -q "Python 3.14.10," "$WORK/err" || fail "inode check: not read as 3.14.10: $(cat "$WORK/err")"
  grep -q "files_and_builds_spin" "$WORK/decoy.txt" || fail "inode check: no frames of the target"
  kill $cpid; wait $cpid 2>/dev/null
  rm -f "$ROOT/tmp/$(basename "$WORK").spin.py"
  rm -rf "$DECOY_DIR"; DECOY_DIR=
  umount "$MNT" && rmdir "$MNT"; MNT=
  [ $failed -eq 0 ] && echo "inode check: the decoy was rejected and the chroot's own file read"
else
  [ "${CI:-}" = true ] && failed=1
fi

# --- 2. a container target whose file is hidden: map_files, then a clear error without it
if profd_py_check 3.14; then
  profd_py_launch 3.14 ns "$WORK/pid" "$WORK/spin.py"
  npid=$(profd_py_wait_pid "$WORK/pid")
  sleep 0.3
  nsenter -t "$npid" -m mount -t tmpfs tmpfs /usr/bin || fail "cannot mount over /usr/bin in the target's namespace"
  [ -e "/proc/$npid/root/usr/bin/python3.14" ] && fail "the interpreter is still visible in the target's root"
  "$PROFD_BIN" sample record --pid "$npid" --duration 1 -o "$WORK/mf.txt" 2> "$WORK/err" ||
    fail "map_files: sampler failed: $(cat "$WORK/err")"
  grep -q "files_and_builds_spin" "$WORK/mf.txt" || fail "map_files: no frames of the target"
  setpriv --bounding-set -sys_admin,-checkpoint_restore "$PROFD_BIN" sample record --pid "$npid" \
    --duration 1 -o "$WORK/no.txt" 2> "$WORK/err"; rc=$?
  [ $rc -eq 1 ] || fail "unopenable file: exit $rc, expected 1: $(cat "$WORK/err")"
  [ "$(wc -l < "$WORK/err")" -eq 1 ] || fail "unopenable file: not one line: $(cat "$WORK/err")"
  grep -q "^Failed to profile process: cannot open /usr/bin/python3.14, mapped by pid $npid (/proc/$npid/root/usr/bin/python3.14: No such file or directory; /usr/bin/python3.14: No such file or directory; /proc/$npid/map_files/[0-9a-f-]*: Operation not permitted)$" "$WORK/err" ||
    fail "unopenable file: unexpected message: $(cat "$WORK/err")"
  grep -q "not a Python process" "$WORK/err" && fail "unopenable file reported as not Python"
  kill "$PROFD_PY_LAUNCHER" 2>/dev/null; wait "$PROFD_PY_LAUNCHER" 2>/dev/null
  echo "hidden file: read through map_files; without the capability: $(cat "$WORK/err")"
else
  [ "${CI:-}" = true ] && failed=1
fi

# --- 2b. a container on overlayfs (as docker's overlay2): the sid root as the lower layer of an
# overlay, pivoted into in its own mount namespace. maps shows the overlay's device and inode,
# which stat through /proc/PID/root must agree with: read without map_files' capability.
if profd_py_check 3.14; then
  ROOT=$(profd_py_field 3.14 root)
  OV=$WORK/ov; mkdir -p "$OV/up" "$OV/work" "$OV/m"
  if mount -t overlay overlay -o "lowerdir=$ROOT,upperdir=$OV/up,workdir=$OV/work" "$OV/m" 2>/dev/null; then
    MNT=$OV/m
    cp "$WORK/spin.py" "$OV/m/tmp/files_and_builds_spin.py"
    unshare --mount --propagation private --fork --kill-child -- /bin/sh -c '
      cd "$1" && mount --bind . . && cd "$1" && mount -t proc proc proc && echo $$ > "$2" &&
      pivot_root . . && umount -l . && exec chroot . /usr/bin/python3.14 /tmp/files_and_builds_spin.py' \
      sh "$OV/m" "$WORK/ovpid" & ovl=$!
    opid=$(profd_py_wait_pid "$WORK/ovpid") || fail "overlay: the target did not start"
    sleep 0.3
    setpriv --bounding-set -sys_admin,-checkpoint_restore "$PROFD_BIN" sample record --pid "$opid" \
      --duration 1 -o "$WORK/ov.txt" 2> "$WORK/err" ||
      fail "overlay: a container on overlayfs was not read without map_files: $(cat "$WORK/err")"
    grep -q "files_and_builds_spin" "$WORK/ov.txt" || fail "overlay: no frames of the target"
    kill "$opid" 2>/dev/null; wait $ovl 2>/dev/null
    umount -l "$OV/m"; MNT=
    [ $failed -eq 0 ] && echo "overlay: a container on overlayfs read through /proc/PID/root"
  else
    skip_part_optional "this kernel cannot mount overlayfs here: overlay check not run"
  fi
else
  [ "${CI:-}" = true ] && failed=1
fi

# --- 3. patch releases: a different _PyRuntime size with the offsets holding, and not holding
# patch_elf FILE SYMBOL size N       the symbol's st_size := N
# patch_elf FILE SYMBOL value HEX     the 4 bytes at the symbol := HEX
# patch_elf FILE SYMBOL version8 HEX  the 8 bytes 8 into the symbol := HEX (_Py_DebugOffsets.version)
# in a copy of an ELF file, in its symbol tables or in the initial data its PT_LOAD maps.
patch_elf() {
  /usr/bin/python3 - "$@" <<'EOF'
import struct, sys
path, name, what, val = sys.argv[1], sys.argv[2].encode(), sys.argv[3], int(sys.argv[4], 0)
b = bytearray(open(path, "rb").read())
shoff, = struct.unpack_from("<Q", b, 0x28)
shentsize, shnum = struct.unpack_from("<HH", b, 0x3A)
phoff, = struct.unpack_from("<Q", b, 0x20)
phentsize, phnum = struct.unpack_from("<HH", b, 0x36)
secs = [struct.unpack_from("<IIQQQQIIQQ", b, shoff + i * shentsize) for i in range(shnum)]
done = 0
for s in secs:
    if s[1] not in (2, 11):  # SHT_SYMTAB, SHT_DYNSYM
        continue
    strtab = secs[s[6]]
    for k in range(s[5] // 24):
        at = s[4] + k * 24
        st_name, = struct.unpack_from("<I", b, at)
        end = b.index(b"\0", strtab[4] + st_name)
        if bytes(b[strtab[4] + st_name:end]) != name:
            continue
        value, size = struct.unpack_from("<QQ", b, at + 8)
        if what == "size":
            struct.pack_into("<Q", b, at + 16, val)
            done += 1
        elif done == 0:
            at_v, fmt = (value + 8, "<Q") if what == "version8" else (value, "<I")
            for i in range(phnum):
                p = struct.unpack_from("<IIQQQQQQ", b, phoff + i * phentsize)
                if p[0] == 1 and p[3] <= at_v < p[3] + p[5]:
                    struct.pack_into(fmt, b, p[2] + at_v - p[3], val)
                    done += 1
if not done:
    sys.exit("symbol not found")
open(path, "wb").write(b)
EOF
}
PY12=$(profd_py_field 3.12 path 2>/dev/null); PY11=$(profd_py_field 3.11 path 2>/dev/null)
if profd_py_check 3.12 3.11 && [ -f "${PY12%/bin/*}/lib/libpython3.12.so.1.0" ] &&
   [ -f "${PY11%/bin/*}/lib/libpython3.11.so.1.0" ]; then
  mkdir "$WORK/l12" "$WORK/l11"
  cp "${PY12%/bin/*}/lib/libpython3.12.so.1.0" "$WORK/l12/"
  cp "${PY11%/bin/*}/lib/libpython3.11.so.1.0" "$WORK/l11/"
  real=$(readelf -W --dyn-syms "$WORK/l12/libpython3.12.so.1.0" | awk '$NF == "_PyRuntime" {print $3; exit}')
  patch_elf "$WORK/l12/libpython3.12.so.1.0" _PyRuntime size $((real + 64)) || fail "cannot patch the 3.12 copy"
  patch_elf "$WORK/l11/libpython3.11.so.1.0" Py_Version value 0x030C09F0 || fail "cannot patch the 3.11 copy"
  LD_LIBRARY_PATH=$WORK/l12 "$PY12" "$WORK/spin.py" & p12=$!
  LD_LIBRARY_PATH=$WORK/l11 "$PY11" "$WORK/spin.py" & p11=$!
  sleep 0.5
  grep -q "$WORK/l12/libpython3.12.so.1.0" /proc/$p12/maps || fail "3.12 target does not use the patched copy"
  "$PROFD_BIN" sample record --pid $p12 --duration 1 -o "$WORK/p12.txt" 2> "$WORK/err" ||
    fail "patch release: a 3.12 whose _PyRuntime is $((real + 64)) bytes was refused: $(cat "$WORK/err")"
  grep -q "files_and_builds_spin" "$WORK/p12.txt" || fail "patch release: no frames"
  "$PROFD_BIN" sample record --pid $p11 --duration 1 -o "$WORK/p11.txt" 2> "$WORK/err"; rc=$?
  [ $rc -eq 1 ] || fail "3.11 posing as 3.12.9: exit $rc, expected 1"
  grep -q "^Failed to profile process: unsupported Python build 3.12.9 (_PyRuntime is [0-9]* bytes, not 3.12's [0-9]*, and the 3.12 offsets do not hold: .*)$" "$WORK/err" ||
    fail "3.11 posing as 3.12.9: unexpected message: $(cat "$WORK/err")"
  echo "3.11 posing as 3.12.9: $(cat "$WORK/err")"
  kill $p12 $p11; wait $p12 $p11 2>/dev/null
else
  [ "${CI:-}" = true ] && failed=1
fi
# --- 4. a future 3.16 whose _Py_DebugOffsets are compatible: sid's python3.15 with Py_Version
# and the block's version field rewritten to 3.16.0 (its structures are 3.15's, so the block
# fits the 3.15 layout). It must be read, with the one warning line, and show its frames.
if profd_py_check 3.15; then
  ROOT=$(profd_py_field 3.15 root)
  FUT=$(mktemp -d "$ROOT/tmp/profd-316.XXXXXX")
  DECOY_DIR=$FUT
  cp "$ROOT/usr/bin/python3.15" "$FUT/python3.16"
  patch_elf "$FUT/python3.16" Py_Version value 0x031000F0 &&
    patch_elf "$FUT/python3.16" _PyRuntime version8 0x031000F0 || fail "cannot patch the 3.16 copy"
  cp "$WORK/spin.py" "$FUT/spin.py"
  PYTHONHOME=/usr chroot "$ROOT" "${FUT#"$ROOT"}/python3.16" "${FUT#"$ROOT"}/spin.py" & fpid=$!
  sleep 0.5
  "$PROFD_BIN" sample record --pid $fpid --duration 1 -o "$WORK/f.txt" 2> "$WORK/err" ||
    fail "3.16: a compatible future version was refused: $(cat "$WORK/err")"
  n=$(grep -c "^profd sample: warning: Python 3.16.0 is newer than 3.15, the newest version this sampler knows; its _Py_DebugOffsets fit the 3.15 layout and are used as they are$" "$WORK/err")
  [ "$n" = 1 ] || fail "3.16: expected the newer-version warning once, got $n: $(cat "$WORK/err")"
  grep -q "Python 3.16.0, " "$WORK/err" || fail "3.16: the summary does not name 3.16.0"
  grep -q "files_and_builds_spin" "$WORK/f.txt" || fail "3.16: no frames of the target"
  kill $fpid; wait $fpid 2>/dev/null
  rm -rf "$FUT"; DECOY_DIR=
  [ $failed -eq 0 ] && echo "3.16: read with the 3.15 layout and one warning"
else
  [ "${CI:-}" = true ] && failed=1
fi
[ $failed -eq 0 ] && echo "all file and build checks passed"
exit $failed
