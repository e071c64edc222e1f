# Sourced by the Kotlin test scripts: the Kotlin compiler from the npm package kotlin-compiler
# (cached under target/tools) and JNA from Debian's libjna-java. Sets $kotlinc, $kotlin_lib
# (the compiler's lib/, with kotlin-stdlib, kotlin-test and kotlinx-coroutines-core-jvm) and $jna.
tools="$PWD/target/tools"
kotlinc="$tools/package/bin/kotlinc"
if [ ! -x "$kotlinc" ]; then
  mkdir -p "$tools"
  (cd "$tools" && npm pack --silent kotlin-compiler@2.4.20 >/dev/null && tar xzf kotlin-compiler-2.4.20.tgz)
fi
kotlin_lib="$tools/package/lib"
jna=/usr/share/java/jna.jar
[ -f "$jna" ] || { echo "JNA is missing: apt-get install libjna-java" >&2; exit 1; }

# kotlinc without its chatter about the stdlib it finds by itself.
compile_kotlin() {
  "$kotlinc" "$@" 2>&1 | grep -v "^warning: unable to find kotlin-stdlib.jar" || true
}
