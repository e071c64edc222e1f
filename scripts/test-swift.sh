#!/usr/bin/env bash
# Compiles the generated Swift bindings and runs the Swift tests (the package ios-app/AssentKit,
# XCTest) against the Rust library, with Debian trixie's swiftlang in a chroot: this machine is
# bookworm, which has no Swift. Then parses, with the real Swift parser, the Swift under ios-app/
# that cannot compile on Linux (SwiftUI views). Runs as root (debootstrap, mount, chroot).
#
# The first run creates the chroot (about 3 minutes, 2+ GB) in $ASSENT_SWIFT_CHROOT
# (default /var/cache/assent/swift-trixie), outside the clone, and reuses it afterwards. It is
# marked complete only when its setup finished, so an interrupted setup is redone; a changed
# package list is installed into the existing chroot. The Debian mirror is the one apt uses
# here ($ASSENT_DEBIAN_MIRROR overrides it). Everything mounted is unmounted on exit, failure
# and interruption included.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd -P)"
[ "$(id -u)" = 0 ] || { echo "test-swift.sh needs root (debootstrap, mount, chroot)" >&2; exit 1; }

chroot_dir="${ASSENT_SWIFT_CHROOT:-/var/cache/assent/swift-trixie}"
# swiftlang: the compiler, Foundation, XCTest and SwiftPM; libc6-dev: the C headers and crt
# files the linker needs; openssl: the CLI the tests' stand-in for the Secure Enclave signs with.
packages="swiftlang libc6-dev openssl"
export DEBIAN_FRONTEND=noninteractive

# --bench: instead of the tests, AssentKit's benchmarks against the release library
# (Sources/AssentKitBench; figures in docs/performance.md).
bench=false
if [ "${1:-}" = "--bench" ]; then bench=true; fi

# The Rust library the bindings load, and the portal side the push test talks to; the real
# portal, the relay and the mock APNs/FCM (tests/push-mocks) for AssentKit's end-to-end tests.
if $bench; then
  cargo build -q --release -p authenticator-ffi --lib --examples
else
  cargo build -q -p authenticator-ffi --lib --examples
  cargo build -q -p portal -p push-relay -p push-mocks --bins
fi
target="${CARGO_TARGET_DIR:-target}"
target="$(cd "$target" && pwd -P)"

mounted=()
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"
  done
  mounted=()
}
trap unmount_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

bind() { # SOURCE DIR: SOURCE at the same path inside the chroot DIR
  mkdir -p "$2$1"
  mount --bind "$1" "$2$1"
  mounted+=("$2$1")
}

bind_system() { # DIR: what apt and swift need from the running system
  bind /proc "$1"
  bind /dev "$1"
  bind /dev/pts "$1"
  if mountpoint -q /dev/shm; then bind /dev/shm "$1"; fi
}

# Mounts left under DIR by a run that was killed outright (SIGKILL): unmount them before
# reusing or deleting DIR (deleting would otherwise reach into the bound repository).
unmount_stale() {
  local dir="$1" point
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r point; do
      echo "swift: unmounting $point, left by an earlier run" >&2
      umount "$point" 2>/dev/null || umount -l "$point"
    done
}

remove_tree() {
  unmount_stale "$1"
  rm -rf --one-file-system "$1"
}

# The first archive in apt's sources that serves this system's own release, e.g.
# http://deb.debian.org/debian for bookworm.
debian_mirror() {
  if [ -n "${ASSENT_DEBIAN_MIRROR:-}" ]; then
    echo "$ASSENT_DEBIAN_MIRROR"
    return
  fi
  local codename file
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    awk -v want="$codename" '$1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
      if ($(i + 1) == want) { print $i; exit }
    }' "$file"
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    awk -v want="$codename" 'BEGIN { RS = ""; FS = "\n" }
    {
      uris = ""; suites = ""; types = ""; enabled = "yes"
      for (i = 1; i <= NF; i++) {
        line = $i
        if (line ~ /^#/) continue
        key = tolower(line); sub(/:.*/, "", key)
        sub(/^[^:]*:[ \t]*/, "", line)
        if (key == "uris") uris = line
        else if (key == "suites") suites = line
        else if (key == "types") types = line
        else if (key == "enabled") enabled = tolower(line)
      }
      if (enabled == "no" || types !~ /(^|[ \t])deb([ \t]|$)/) next
      n = split(suites, s, /[ \t]+/)
      for (j = 1; j <= n; j++) if (s[j] == want) { split(uris, u, /[ \t]+/); print u[1]; exit }
    }' "$file"
  done
}

# Runs apt-get inside DIR with /proc and /dev bound; unmounts them again.
apt_in() {
  local dir="$1"
  shift
  bind_system "$dir"
  chroot "$dir" apt-get -q "$@"
  unmount_all
}

apt_install_in() {
  apt_in "$1" update -q=2
  # shellcheck disable=SC2086 # the package list is words
  apt_in "$1" install -y -q=2 --no-install-recommends $packages >/dev/null
  apt_in "$1" clean
}

create_chroot() {
  local partial="$chroot_dir.partial" mirror
  if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  mirror="$(debian_mirror | head -1)"
  [ -n "$mirror" ] || {
    echo "No Debian mirror found in /etc/apt/sources.list*: set ASSENT_DEBIAN_MIRROR" >&2
    exit 1
  }
  echo "swift: creating the trixie chroot in $chroot_dir from $mirror (once; about 3 minutes)"
  remove_tree "$partial"
  remove_tree "$chroot_dir"
  PATH="$PATH:/usr/sbin" debootstrap --variant=minbase trixie "$partial" "$mirror" >"$partial.log" 2>&1 || {
    tail -20 "$partial.log" >&2
    echo "debootstrap failed; the log is $partial.log" >&2
    exit 1
  }
  rm -f "$partial.log"
  cp /etc/resolv.conf "$partial/etc/resolv.conf"
  # The host's settings for reaching its mirror (proxies, a snapshot's dates) apply inside too.
  apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ' \
    >"$partial/etc/apt/apt.conf.d/99assent-host" || true
  apt_install_in "$partial"
  echo "$packages" >"$partial/.assent-complete"
  mv "$partial" "$chroot_dir"
}

mkdir -p "$(dirname "$chroot_dir")"
# One run at a time uses the chroot (another run's unmount would pull the floor from this one).
exec 9>"$chroot_dir.lock"
if ! flock -n 9; then
  echo "swift: waiting for another test-swift.sh run to finish"
  flock 9
fi
unmount_stale "$chroot_dir"
setup_start=$SECONDS
if [ ! -f "$chroot_dir/.assent-complete" ]; then
  create_chroot
  echo "swift: chroot ready in $((SECONDS - setup_start)) s"
elif [ "$(cat "$chroot_dir/.assent-complete")" != "$packages" ]; then
  echo "swift: installing $packages into $chroot_dir"
  cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
  apt_install_in "$chroot_dir"
  echo "$packages" >"$chroot_dir/.assent-complete"
fi

bind_system "$chroot_dir"
# The repository and the cargo target folder at the same paths inside, so that every absolute
# path (the module map, the library, the portal side) means the same thing on both sides.
bind "$root" "$chroot_dir"
case "$target/" in
  "$root"/*) ;;
  *) bind "$target" "$chroot_dir" ;;
esac

in_chroot() { # COMMAND...: run in the chroot with a clean environment
  chroot "$chroot_dir" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    ${ASSENT_TRACE:+ASSENT_TRACE=1} ASSENT_ROOT="$root" ASSENT_TARGET="$target/debug" ASSENT_LIB_DIR="$target/debug" "$@"
}

if $bench; then
  rm -rf "$chroot_dir"/tmp/assent-swift-bench-*
  out="$chroot_dir/tmp/assent-swift-bench.txt"
  in_chroot /usr/bin/env ASSENT_TARGET="$target/release" ASSENT_LIB_DIR="$target/release" /bin/sh -c \
    'cd "$1" && swift build -q -c release --product AssentKitBench && .build/release/AssentKitBench' \
    sh "$root/ios-app/AssentKit" | tee "$out"
  vault="$(sed -n 's/^EXTENSION_VAULT=//p' "$out")"
  payload="$(sed -n 's/^EXTENSION_PAYLOAD=//p' "$out")"
  # The extension's path once in a fresh process, for its peak RSS.
  in_chroot /usr/bin/env ASSENT_LIB_DIR="$target/release" \
    "$root/ios-app/AssentKit/.build/release/AssentKitBench" extension "$vault" "$payload"
  # The same binary doing nothing but load Foundation and the library: the platform's floor.
  in_chroot /usr/bin/env ASSENT_LIB_DIR="$target/release" \
    "$root/ios-app/AssentKit/.build/release/AssentKitBench" baseline
  exit 0
fi

# The tests' temporary vaults live in the chroot's /tmp (emptied here, not by the tests).
rm -rf "$chroot_dir/tmp/assent-swift-tests"
# ASSENT_SWIFT_FILTER runs only the matching tests (swift test --filter), when debugging one.
in_chroot /bin/sh -c 'cd "$1" && shift && swift test "$@"' sh "$root/ios-app/AssentKit" \
  ${ASSENT_SWIFT_FILTER:+--filter "$ASSENT_SWIFT_FILTER"}

# Swift that cannot compile here (SwiftUI, UIKit) still gets the real parser. First make sure
# the parser rejects what it must, so that this check cannot pass by checking nothing.
printf 'func broken( { let x = }\n' >"$chroot_dir/tmp/assent-parse-check.swift"
if in_chroot swiftc -parse /tmp/assent-parse-check.swift 2>/dev/null; then
  echo "swiftc -parse accepted a broken file: the parse check below would prove nothing" >&2
  exit 1
fi
rm -f "$chroot_dir/tmp/assent-parse-check.swift"
parse=()
while IFS= read -r -d '' file; do parse+=("$root/$file"); done < <(
  find ios-app -name '*.swift' -not -path 'ios-app/AssentKit/*' -print0 2>/dev/null | sort -z)
if [ ${#parse[@]} -gt 0 ]; then
  in_chroot swiftc -parse "${parse[@]}"
  echo "swift: ${#parse[@]} file(s) outside AssentKit parse"
else
  echo "swift: no Swift files outside AssentKit to parse"
fi
